// The performance corpus (bench/programs/*.c) and the backends that run it: bpfvm's engines through
// the runtime Object, the Linux kernel through BPF_PROG_TEST_RUN (kernel_runner.h), and the same C
// compiled natively behind the shim (native/). The benchmark executable (perf_bench.cpp), `scripts/
// bench.sh` and the corpus test (tests/bench) share it, so that every backend runs the same object
// on the same packet with the same map contents.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bench/native/native.h"
#include "vm/result.h"
#include "vm/runtime/object.h"

namespace bpfvm::bench {

// One entry to put in a map before the runs.
struct MapEntry {
  std::vector<uint8_t> key, value;
};
struct MapFill {
  const char* map;  // the map's name in the object (and of the shim's global natively)
  std::vector<MapEntry> entries;
};

struct CorpusProgram {
  const char* name;      // object <objects dir>/<name>.o
  const char* function;  // the XDP program's function (the native function has the same name)
  // Counted in the compute geomean; false for the no-op (per-run overhead, reported apart) and the
  // map programs (their time is mostly the map implementation's, not code generation's).
  bool compute;
  bench_native_fn native;
  shim_map* native_map;  // the shim map the program uses natively, or nullptr
  const char* summary;
};

std::span<const CorpusProgram> corpus();
const CorpusProgram* find_program(std::string_view name);
// Where the BPF objects are built (BPFVM_BENCH_OBJECTS at compile time).
std::string objects_dir();
std::string object_path(const CorpusProgram& p);

// The packet every program runs on: a 1500-byte Ethernet / IPv4 / TCP frame with valid IPv4 and
// TCP checksums and a pseudo-random payload (fixed seed).
std::vector<uint8_t> bench_packet();
// What the harness puts in the program's maps (none for most programs).
std::vector<MapFill> map_fills(const CorpusProgram& p);

// This thread's CPU time in ns: the clock of every in-process measurement, so that time spent
// descheduled on a loaded machine does not count (the kernel's BPF_PROG_TEST_RUN likewise stops
// its clock when it reschedules).
double thread_cpu_ns();

// A batch of runs: r0 of the last run (XDP programs return 32 bits: r0 is truncated to u32 on
// every backend) and the mean time per run.
struct Timing {
  uint32_t r0 = 0;
  double ns_per_run = 0;
};

// bpfvm through the runtime Object: maps filled, program verified (a rejection is an error: the
// corpus must verify), runs of `repeat` on one context (ContextInput::reuse_context), timed by the
// runtime around the batch.
class VmRunner {
 public:
  static Result<std::unique_ptr<VmRunner>> open(const CorpusProgram& p, const ObjectOptions& opts = {});
  Result<Timing> run(uint32_t repeat);
  Object& object() { return *obj_; }
  size_t index() const { return index_; }
  size_t insns() const;

 private:
  std::unique_ptr<Object> obj_;
  size_t index_ = 0;
  ContextInput in_;
};

// The native build: the shim's maps filled, runs timed around the batch.
class NativeRunner {
 public:
  static Result<std::unique_ptr<NativeRunner>> open(const CorpusProgram& p);
  Timing run(uint64_t repeat);

 private:
  bench_native_fn fn_ = nullptr;
  std::vector<uint8_t> packet_;
  bench_xdp_md ctx_{};
};

}  // namespace bpfvm::bench
