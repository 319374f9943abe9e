#include "maps/perf_event_array.h"

#include <cstring>

#include "maps/map_internal.h"

namespace bpfvm {

PerfEventArrayMap::PerfEventArrayMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts), buffer_bytes_(opts.perf_buffer_bytes), buffers_(new Buffer[num_cpus()]) {}

int PerfEventArrayMap::output(uint64_t flags, const void* data, uint64_t size) {
  if (flags & ~kBpfFIndexMask) return -EINVAL;
  uint64_t index = flags & kBpfFIndexMask;
  uint32_t c = cpu();
  if (index == kBpfFCurrentCpu) index = c;
  if (index >= def().max_entries) return -E2BIG;
  if (index >= num_cpus()) return -ENOENT;
  if (index != c) return -EOPNOTSUPP;
  if (size > UINT16_MAX) return -E2BIG;  // perf records carry a u16 size
  uint64_t raw = ((size + 4 + 7) & ~7ULL) - 4;
  uint64_t need = 8 + 4 + raw;
  Buffer& b = buffers_[index];
  std::lock_guard<std::mutex> g(b.mu);
  if (b.used + need > buffer_bytes_) {
    ++b.lost;
    return -ENOSPC;
  }
  std::vector<uint8_t> sample(raw, 0);
  if (size) std::memcpy(sample.data(), data, size);
  b.samples.push_back(std::move(sample));
  b.used += need;
  return 0;
}

int PerfEventArrayMap::consume(const std::function<void(uint32_t, const void*, uint32_t)>& cb) {
  int n = 0;
  for (uint32_t c = 0; c < num_cpus(); ++c) {
    Buffer& b = buffers_[c];
    std::deque<std::vector<uint8_t>> taken;
    {
      std::lock_guard<std::mutex> g(b.mu);
      taken.swap(b.samples);
      b.used = 0;
    }
    for (auto& s : taken) {
      cb(c, s.data(), uint32_t(s.size()));
      ++n;
    }
  }
  return n;
}

uint64_t PerfEventArrayMap::lost(uint32_t cpu) const {
  if (cpu >= num_cpus()) return 0;
  std::lock_guard<std::mutex> g(buffers_[cpu].mu);
  return buffers_[cpu].lost;
}

int PerfEventArrayMap::get_next_key(const void* key, void* next) {
  return array_get_next_key(def().max_entries, key, next);
}

}  // namespace bpfvm
