// The Linux kernel as a benchmark backend: an object loaded with libbpf (bpf_object__open_file,
// bpf_object__load: the kernel's verifier and JIT), its maps filled through bpf(2), and
// bpf_prog_test_run_opts with `repeat`, whose duration (the kernel's own clock around the batch,
// divided by repeat) is the time per run. No libbpf type leaks out of this header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/corpus.h"
#include "vm/result.h"

struct bpf_object;  // libbpf's

namespace bpfvm::bench {

// Whether bpf(2) works here (root or CAP_BPF, unprivileged BPF allowed): ok, or why not (the
// caller skips the kernel column with this message).
Status kernel_available();

class KernelRunner {
 public:
  // Loads `object_path` (a verifier rejection is an error with the kernel's log tail), fills the
  // maps, selects `function`.
  static Result<std::unique_ptr<KernelRunner>> open(const std::string& object_path,
                                                    const std::string& function,
                                                    const std::vector<MapFill>& fills);
  ~KernelRunner();
  // BPF_PROG_TEST_RUN of `packet`, `repeat` times (at most INT_MAX).
  Result<Timing> run(const std::vector<uint8_t>& packet, uint32_t repeat);
  // The kernel's translated instruction count (bpf_prog_info.xlated_prog_len / 8).
  uint32_t xlated_insns() const { return xlated_insns_; }

 private:
  KernelRunner() = default;
  ::bpf_object* obj_ = nullptr;
  int prog_fd_ = -1;
  uint32_t xlated_insns_ = 0;
  std::string log_;  // the verifier log buffer (open options point to it until load)
};

}  // namespace bpfvm::bench
