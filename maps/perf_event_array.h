// BPF_MAP_TYPE_PERF_EVENT_ARRAY with simulated per-CPU perf buffers.
//
// Index i < num_cpus holds the perf buffer opened for simulated CPU i (what libbpf's perf_buffer
// sets up); indexes from num_cpus to max_entries - 1 hold no event. bpf_perf_event_output semantics
// (kernel/trace/bpf_trace.c): flags other than the index bits -> -EINVAL; index BPF_F_CURRENT_CPU
// means the current CPU; index >= max_entries -> -E2BIG; no event at the index -> -ENOENT; an event
// of another CPU -> -EOPNOTSUPP; no room in the buffer -> -ENOSPC and the buffer's lost counter
// goes up. A sample occupies 8 (perf_event_header) + 4 (raw size) + the data padded so that
// 4 + data is a multiple of 8 (PERF_SAMPLE_RAW); the consumer sees the padded data, as libbpf does.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "maps/map.h"

namespace bpfvm {

class PerfEventArrayMap : public Map {
 public:
  PerfEventArrayMap(const MapDef& def, const MapOptions& opts);

  int output(uint64_t flags, const void* data, uint64_t size);

  // Consumer (libbpf perf_buffer__consume): drains every CPU's buffer in CPU order, calling
  // cb(cpu, data, size) for each sample in the order it was written. Returns the number of samples.
  int consume(const std::function<void(uint32_t cpu, const void* data, uint32_t size)>& cb);
  // Samples dropped on `cpu` because its buffer was full (PERF_RECORD_LOST).
  uint64_t lost(uint32_t cpu) const;
  uint32_t buffer_bytes() const { return buffer_bytes_; }

  int get_next_key(const void* key, void* next) override;

 private:
  struct Buffer {
    mutable std::mutex mu;
    std::deque<std::vector<uint8_t>> samples;
    uint64_t used = 0;
    uint64_t lost = 0;
  };
  uint32_t buffer_bytes_;
  std::unique_ptr<Buffer[]> buffers_;  // one per simulated CPU
};

}  // namespace bpfvm
