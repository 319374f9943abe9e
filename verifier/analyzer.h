// Internal: the analysis engine shared by verifier.cpp (fixpoint driver, calls, loops),
// transfer.cpp (abstract semantics per instruction kind) and assertions.cpp (the checks).
#pragma once

#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "helpers/proto.h"
#include "verifier/cfg.h"
#include "verifier/context.h"
#include "verifier/state.h"
#include "verifier/verifier.h"

namespace bpfvm::verifier {

// Where a checked access lands.
struct Access {
  RegKind kind = RegKind::Uninit;
  int frame = 0;
  int64_t lo = 0, hi = 0;  // every byte touched lies in [lo, hi); lo..lo+size for constant offsets
  bool const_off = false;
  FieldKind field = FieldKind::Scalar;
};

// References held in State::refs(): a ringbuf reservation is the instruction index of its
// reserve call + 2; a held spin lock is kSpinLockRef (below every reservation).
constexpr uint32_t kSpinLockRef = 1;
constexpr uint32_t kSpinLockHelper = 93, kSpinUnlockHelper = 94, kTailCallHelper = 12;

class Analyzer {
 public:
  Analyzer(const Program& p, const VerifyOptions& o, const Cfg& cfg);
  VerifyResult run();

  // --- driver (verifier.cpp)
  struct FuncRun {
    uint32_t func;
    // By block - first_block: a bounded disjunction of states (VerifyOptions::max_disjuncts), kept
    // apart so that branches whose outcomes are correlated stay distinguishable.
    CountedVector<CountedVector<State>> pending;
    State exit;
  };
  // One analysis of a loop's body from a candidate invariant at its head (widen_loop): what leaves
  // the loop is held here, not propagated, until the pass is known to be the one that counts.
  struct LoopPass {
    const FuncRun* fr = nullptr;
    uint32_t first_block = 0;
    std::vector<bool> in_loop;                        // by block - first_block
    CountedVector<std::pair<uint32_t, State>> exits;  // (block, state) leaving the loop
    State fexit;                                      // subprogram exits inside the loop
    bool failed = false;                              // an error was found
    std::string first_error;
  };
  State analyze_function(uint32_t func, State entry);
  void run_items(FuncRun& fr, uint32_t begin, uint32_t end);
  void run_loop(FuncRun& fr, uint32_t item);
  // Tries to prove the loop at WTO item `item` from head state `entry` by an invariant (widening,
  // then narrowing) and a ranking argument (loop ghosts). True when proven: its exits have been
  // propagated. False: nothing changed; `why` says what failed.
  bool widen_loop(FuncRun& fr, uint32_t item, const State& entry, std::string* why);
  void run_block(FuncRun& fr, uint32_t block, State s);
  void propagate(FuncRun& fr, uint32_t block, State&& s);
  void add_exit(FuncRun& fr, State&& s);
  LoopPass* pass_of(const FuncRun& fr);
  bool call_local(uint32_t idx, State& s);
  bool call_function(uint32_t idx, uint32_t entry, State& s, const RegValue (&args)[5], State* out);

  // --- transfer (transfer.cpp): false when the path ends (error or infeasible)
  bool exec(uint32_t idx, State& s);
  bool exec_alu(uint32_t idx, State& s);
  bool exec_alu32_pointer(uint32_t idx, State& s, const RegValue& src);
  bool exec_lddw(uint32_t idx, State& s);
  bool exec_load(uint32_t idx, State& s, int dst, int base, int32_t off, uint32_t size, bool sign_ext);
  bool exec_store(uint32_t idx, State& s, int base, int32_t off, uint32_t size, const RegValue& val, int src);
  bool exec_atomic(uint32_t idx, State& s);
  bool exec_ldabs(uint32_t idx, State& s);
  bool exec_helper(uint32_t idx, State& s);
  void exec_cond(uint32_t idx, State& fall, State& taken);
  void track_ghost(const Insn& in, const RegValue& dst, const RegValue& src, RegValue& out);
  void link_alu(const Insn& in,
                const RegValue& old,
                const RegValue& src,
                RegValue& dst,
                State& s,
                uint32_t idx);
  uint32_t fresh_id(State& s, uint32_t idx);

  // --- checks (assertions.cpp): false after reporting
  bool check_init(uint32_t idx, const State& s, int reg);
  bool check_access(uint32_t idx,
                    State& s,
                    int reg,
                    int64_t off,
                    uint64_t size,
                    bool write,
                    bool helper_arg,
                    Access* out);
  bool check_helper_args(uint32_t idx, State& s, const HelperProto& proto, int* map, uint32_t* alloc);
  bool check_exit(uint32_t idx, State& s);
  bool check_subprog_exit(uint32_t idx, State& s);
  void note_stack(const State& s, int frame, int64_t lo);

  // --- reporting
  void fail(ErrorKind k, uint32_t idx, const State& s, std::initializer_list<int> regs, std::string msg);
  std::string format_reg(const RegValue& r) const;
  // exec() of one non-branch instruction, logged with --log; false when the path ends.
  bool step(uint32_t idx, State& s);
  void log_block_entry(uint32_t idx, const State& s);
  void log_insn(uint32_t idx, const State& before, const State& after, const char* note);
  std::string map_name(uint32_t m) const;

  const Program& prog_;
  const VerifyOptions& opts_;
  const Cfg& cfg_;
  ContextDescriptor ctx_;
  VerifyResult result_;
  std::set<uint64_t> reported_;
  bool aborted_ = false;
  uint64_t steps_ = 0;
  size_t mem_base_ = 0;  // state_memory().live when the analysis started
  size_t live_states_ = 0;
  std::vector<uint32_t> loop_stack_;        // heads of the loops being iterated (instruction indexes)
  std::vector<LoopPass*> passes_;           // widening passes in progress, innermost last (loop
                                            // ghosts are tracked while there is one)
  Thresholds thresholds_;                   // widening thresholds: the program's constants
  std::vector<int64_t> stack_depth_;        // per function: deepest byte used
  std::set<std::vector<uint32_t>> chains_;  // call chains (function indexes) seen, with the callsite last
  // Per map: the first map with the same type, key and value size and access (what the checks
  // look at), so that pointers to interchangeable maps join without losing their type.
  std::vector<uint32_t> canon_map_;
  // opts_.maps, then the inner map definitions of the maps of maps (MapPtr/MapValue `map` indexes).
  std::vector<MapDef> maps_;
  std::vector<int32_t> inner_map_;  // per object map: index of its inner definition in maps_, or -1
};

}  // namespace bpfvm::verifier
