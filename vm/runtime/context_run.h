// A run of a program with the context of its type, as BPF_PROG_TEST_RUN makes it: the context is
// built (context.h, build_context), the program runs `repeat` times against the same maps (the
// packet and context rebuilt before each run, unless ContextInput::reuse_context), the runs are
// timed, and the packet and context are collected after the last one (collect_output).
//
// Object::run (vm/runtime/object.h, any engine) and the user-space bpf(2)'s PROG_TEST_RUN (sys/,
// the interpreter) both run programs through it; the caller's RunOnce is the engine. It lives in
// bpfvm_context, position-independent and without the JIT, so that sys/ can link it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "helpers/context.h"
#include "vm/elf/prog_type.h"
#include "vm/interp.h"
#include "vm/region.h"
#include "vm/result.h"
#include "vm/runtime/context.h"

namespace bpfvm {

// What the runs see besides their context.
struct ContextRunEnv {
  std::span<const MemRegion> data_regions;      // global-data values, after the context's regions
  const RegionResolver* resolver = nullptr;     // map values, ringbuf records
  const TailCallTargets* tail_calls = nullptr;  // prog_array program ids
  // The helpers' per-run state (maps, prog_type, deterministic, gpl); `packet` and `cpu` are set
  // from the built context and ContextInput::cpu.
  HelperContext helpers;
};

struct ContextRunOutput {
  uint64_t r0 = 0;              // of the last repetition
  RunStats stats;               // of the last repetition
  uint64_t total_ns = 0;        // all repetitions together (context building excluded)
  std::vector<uint8_t> packet;  // after the last run (collect_output)
  std::vector<uint8_t> ctx;
};

// The engine's part: runs the program once on `input`, filling `stats`. A non-owning reference to
// a callable (Result<uint64_t>(const RunInput&, RunStats*)), for the duration of the call it is
// passed to.
class RunOnce {
 public:
  template <class F>
  RunOnce(const F& f)  // NOLINT(implicit): callers pass a lambda
      : fn_(&f), call_([](const void* fn, const RunInput& in, RunStats* stats) {
          return (*static_cast<const F*>(fn))(in, stats);
        }) {}
  Result<uint64_t> operator()(const RunInput& in, RunStats* stats) const { return call_(fn_, in, stats); }

 private:
  const void* fn_;
  Result<uint64_t> (*call_)(const void*, const RunInput&, RunStats*);
};

// Runs a program of `type` on `in` (on simulated CPU in.cpu: ScopedCpu and HelperContext::cpu).
// Errors: kBadInput for repeat 0, build_context's errors (a refused context: kBadInput; a program
// type without a context model: kUnsupported), else the first error run_once returns (a fault),
// which ends the runs.
Result<ContextRunOutput> run_in_context(ProgType type,
                                        const ContextInput& in,
                                        RunScratch& scratch,
                                        const ContextRunEnv& env,
                                        RunOnce run_once);

}  // namespace bpfvm
