// Small pieces of talking to the kernel's bpf(2) through libbpf that the kernel backend
// (kernel_backend.cpp), the kernel test oracle (tests/kernel/kernel_runner.cpp) and the benchmarks'
// kernel runner (bench/kernel_runner.cpp) share. No libbpf type appears here.
#pragma once

#include <sched.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vm/result.h"

namespace bpfvm {

// Pins the calling thread to one CPU for the lifetime of the guard, so that a test run's per-CPU
// map slots and bpf_get_smp_processor_id are those of `cpu`. ok() is false when the CPU does not
// exist or the affinity cannot be set (errno says why); the previous affinity is restored.
class CpuPin {
 public:
  explicit CpuPin(uint32_t cpu);
  ~CpuPin();
  CpuPin(const CpuPin&) = delete;
  CpuPin& operator=(const CpuPin&) = delete;
  bool ok() const { return ok_; }

 private:
  cpu_set_t saved_{};
  bool ok_ = false;
};

// Map types whose user-space values are one round_up(value_size, 8) slot per possible CPU (enum
// bpf_map_type numbering).
bool is_per_cpu_map_type(uint32_t type);

// The records committed to the ring buffer map `fd` (named `name` in errors), in order: what
// libbpf's ring_buffer__consume hands over.
Result<std::vector<std::vector<uint8_t>>> kernel_drain_ringbuf(int fd, const std::string& name);

}  // namespace bpfvm
