#include "vm/runtime/kernel_bpf.h"

#include <linux/bpf.h>

#include <cstring>

#include <bpf/libbpf.h>
#include <fmt/format.h>

namespace bpfvm {

CpuPin::CpuPin(uint32_t cpu) {
  ok_ = cpu < CPU_SETSIZE && sched_getaffinity(0, sizeof(saved_), &saved_) == 0;
  if (!ok_) return;
  cpu_set_t want;
  CPU_ZERO(&want);
  CPU_SET(cpu, &want);
  ok_ = sched_setaffinity(0, sizeof(want), &want) == 0;
}

CpuPin::~CpuPin() {
  if (ok_) sched_setaffinity(0, sizeof(saved_), &saved_);
}

bool is_per_cpu_map_type(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

namespace {

int collect_record(void* ctx, void* data, size_t size) {
  auto* out = static_cast<std::vector<std::vector<uint8_t>>*>(ctx);
  auto* p = static_cast<const uint8_t*>(data);
  out->emplace_back(p, p + size);
  return 0;
}

}  // namespace

Result<std::vector<std::vector<uint8_t>>> kernel_drain_ringbuf(int fd, const std::string& name) {
  std::vector<std::vector<uint8_t>> records;
  ring_buffer* rb = ring_buffer__new(fd, collect_record, &records, nullptr);
  if (!rb)
    return Error{ErrorCode::kInternal, kNoPc,
                 fmt::format("map '{}': ring_buffer__new failed: {}", name, strerror(errno))};
  int rc = ring_buffer__consume(rb);
  ring_buffer__free(rb);
  if (rc < 0)
    return Error{ErrorCode::kInternal, kNoPc,
                 fmt::format("map '{}': draining failed: {}", name, strerror(-rc))};
  return records;
}

}  // namespace bpfvm
