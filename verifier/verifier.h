// The bpfvm verifier: a sound static analysis of a decoded program (abstract interpretation over the
// CFG with known-bits and range domains, per-byte stack tracking, typed pointers). A program it
// accepts does not fault in the checked interpreter: every load and store stays inside its region,
// no uninitialized register or stack byte is read, helpers get the arguments their prototypes ask
// for, every loop terminates and resources are released.
//
// Loops: after a few iterations analysed one by one, a loop is proven by an invariant (widening
// with thresholds, then narrowing) and a ranking argument (a register or stack slot that moves
// monotonically within the invariant's bounds); failing that, its iterations are analysed one by
// one until the back-edge state is empty. A repeating head state (no progress) or more than
// max_loop_iterations iterations is rejected as UnboundedLoop naming the loop head. Details in
// verifier/README.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "verifier/report.h"
#include "vm/decode.h"
#include "vm/elf/prog_type.h"
#include "vm/map_def.h"
#include "vm/result.h"

namespace bpfvm::verifier {

struct VerifyOptions {
  ProgType type = ProgType::Raw;
  // Index = the map index of lddw src 5/6 (MapIdx/MapIdxValue); src 1/2 (map fd / map value) imms
  // are taken as indexes too.
  std::vector<MapDef> maps;
  uint32_t raw_ctx_size = 0;               // ProgType::Raw: bytes of input memory (r1), also in r2
  uint64_t max_steps = 1'000'000;          // analysis budget in abstract instruction steps
  size_t max_state_bytes = size_t{256} << 20;  // and in bytes of abstract state held at once
  uint32_t max_loop_iterations = 100'000;  // per loop entry, analysed one by one
  // A loop proven by an invariant may run at most this many iterations per entry (the kernel's
  // limit for bpf_loop, BPF_MAX_LOOPS): the proof gives the bound.
  uint64_t max_loop_bound = uint64_t{1} << 23;
  bool collect_log = false;                // fill VerifyResult::log with the state at every block entry
  // Path sensitivity: at most this many states per block are kept apart (disjunction) before they
  // are joined; 1 = join at every block head. Loop heads always join.
  uint32_t max_disjuncts = 32;
  // The ELF section name (libbpf's convention), which names the attach point where the context
  // rules depend on it (cgroup/connect4, cgroup/getsockopt, ...; see context_for). Empty: unknown.
  std::string section;
};

struct VerifyStats {
  uint64_t insns_analysed = 0;  // abstract instruction steps
  double seconds = 0;
  size_t peak_states = 0;  // most pending block states held at once
  // Peak bytes of abstract states alive during the analysis (pending block states, the states
  // being transformed, loop and call copies): every State allocation is counted (state.h).
  size_t peak_state_bytes = 0;
  uint32_t max_loop_iterations = 0;  // most iterations of one loop analysed one by one
  uint32_t loops_proven = 0;         // loop analyses that ended with an invariant and a ranking
  uint64_t max_loop_bound = 0;       // the largest iteration bound those proofs gave
};

struct VerifyResult {
  bool accepted = false;
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;  // Unreachable code
  VerifyStats stats;
  std::string log;
};

// Errors of the input itself (empty program) are an Error; verdicts are in VerifyResult.
Result<VerifyResult> verify(const Program& program, const VerifyOptions& opts);

}  // namespace bpfvm::verifier
