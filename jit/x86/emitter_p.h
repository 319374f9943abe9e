// Internal to jit/x86/: the x86-64 code generator's state (Emitter) and the emit functions, one
// file per instruction group, each taking (Emitter&, const Insn&):
//   emit_alu.cpp   ALU and byte swaps            emit_jmp.cpp   jumps
//   emit_mem.cpp   loads, stores, atomics, lddw, LD_ABS/LD_IND, checked-mode bounds checks
//   emit_call.cpp  helper calls, local calls, callx, kfuncs, exit
//   emitter.cpp    the program's layout: entry thunk, body, cold paths, dispatch to the above
//   hoist.cpp      blinded immediates of loops in spare registers and red-zone slots
//   fuse.cpp       instruction sequences emitted as fewer x86 instructions (register liveness)
// Program-supplied immediates reach this code only through jit/blinding.h.
//
// Register mapping (fixed, as the Linux JIT's: BPF r1-r5 are the System V argument registers, so a
// helper receives them where they are; r6-r9 and r10 live in callee-saved registers):
//   r0 rax  r1 rdi  r2 rsi  r3 rdx  r4 rcx  r5 r8  r6 rbx  r7 r13  r8 r14  r9 r15  r10 rbp
//   r12: the run's control block (RunCtl); r11: the blinding scratch register (AUX);
//   r10, r9: temporaries (division, bounds checks, atomics). No BPF register maps to r9-r12.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <asmjit/x86.h>

#include "jit/blinding.h"
#include "jit/jit_internal.h"
#include "jit/liveness.h"

namespace bpfvm::jit::internal {

namespace x86 = asmjit::x86;
using asmjit::Label;

#define CTL(field) x86::qword_ptr(x86::r12, static_cast<int32_t>(offsetof(RunCtl, field)))
#define CTL32(field) x86::dword_ptr(x86::r12, static_cast<int32_t>(offsetof(RunCtl, field)))
#define CTL8(field) x86::byte_ptr(x86::r12, static_cast<int32_t>(offsetof(RunCtl, field)))

constexpr uint32_t kRegId[kNumRegs] = {x86::Gp::kIdAx,  x86::Gp::kIdDi,  x86::Gp::kIdSi, x86::Gp::kIdDx,
                                       x86::Gp::kIdCx,  x86::Gp::kIdR8,  x86::Gp::kIdBx, x86::Gp::kIdR13,
                                       x86::Gp::kIdR14, x86::Gp::kIdR15, x86::Gp::kIdBp};

// BPF register r as a 64-, 32-, 16- or 8-bit x86 register.
inline x86::Gp q(int r) {
  return x86::gpq(kRegId[r]);
}
inline x86::Gp d(int r) {
  return x86::gpd(kRegId[r]);
}
inline x86::Gp w(int r) {
  return x86::gpw(kRegId[r]);
}
inline x86::Gp b(int r) {
  return x86::gpb(kRegId[r]);
}
// The `bytes`-wide view of register r.
inline x86::Gp sized(x86::Gp r, int bytes) {
  switch (bytes) {
    case 1:
      return x86::gpb(r.id());
    case 2:
      return x86::gpw(r.id());
    case 4:
      return x86::gpd(r.id());
    default:
      return x86::gpq(r.id());
  }
}
inline x86::Mem mem_of(x86::Gp base, int32_t off, int bytes) {
  return x86::ptr(base, off, static_cast<uint32_t>(bytes));
}

inline const x86::Gp AUX = x86::r11;  // blinding scratch, checked-mode address
inline const x86::Gp T2 = x86::r10;
inline const x86::Gp T3 = x86::r9;
inline const x86::Gp CTLR = x86::r12;

// One function of the program (the main program or a subprogram): its instructions [begin, end),
// and the callee-saved registers its prologue saves (see emit_call.cpp).
struct Func {
  uint32_t begin = 0, end = 0;
  uint16_t saved = 0;  // bit r set: BPF register r (r6-r9) is saved by the prologue
  bool pad = false;    // 8 bytes below the saved registers keep rsp 16-byte aligned
  Label entry;         // calls land here (the prologue); labels_[begin] is after it
};

class Emitter {
 public:
  Emitter(x86::Assembler& a, const Program& p, JitProgram::Impl& impl, bool bmi2);

  // Emits the whole program: entry thunk, every instruction, cold paths.
  void compile();
  // The label of instruction k (after compile()).
  Label label(size_t k) const { return labels_[k]; }
  // Where runs and tail calls enter the main program (the run slots' restores, then instruction 0).
  Label main_entry() const { return main_entry_; }
  // Where calls of the function starting at instruction k land (a subprogram's prologue; for the
  // main program a stub that saves its registers around it).
  Label call_entry(uint32_t k);
  // The thunk's entry for callbacks (valid when the program calls helpers).
  Label callback_entry() const { return callback_entry_; }
  bool has_callback_entry() const { return helpers_; }

  // --- for the emit functions ---
  x86::Assembler& as() { return a_; }
  const JitOptions& opts() const { return o_; }
  bool bmi2() const { return bmi2_; }
  Blinding& blinding() { return blinding_; }
  // Index of the instruction being emitted.
  uint32_t index() const { return k_; }
  // The func token of `lddw func` (the interpreter's scheme: a per-program byte array's address
  // plus the target instruction index).
  uint64_t func_token(const Insn& in) const;
  // A new cold fault site, reached by jumping to the returned label.
  Label new_site(const Site& s);
  Label unwind() const { return unwind_; }
  Label helper_slow() const { return helper_slow_; }
  Label ldabs_oob() const { return ldabs_oob_; }
  // The plan of the map lookup at instruction k (vm/map_lookup.h), nullptr for the helper call.
  const MapLookupPlan* lookup_plan(size_t k) const {
    return k < lookups_.size() && lookups_[k].kind != MapLookupPlan::Kind::Helper ? &lookups_[k] : nullptr;
  }
  // An lddw of a map address that only a planned lookup reads (not emitted).
  bool dead_lddw(size_t k) const { return k < dead_lddw_.size() && dead_lddw_[k]; }
  bool inline_lookup(size_t k) const {
    const MapLookupPlan* p = lookup_plan(k);
    return p != nullptr && p->kind == MapLookupPlan::Kind::Array;
  }
  // The function being emitted.
  const Func& func() const { return funcs_[func_]; }
  bool in_main() const { return func_ == 0; }

  // Jump fusion: when the instruction after the current conditional jump is a `ja` that only the
  // fall-through reaches and the condition jumps over it, the pair becomes one inverted jump. The
  // `ja`, or nullptr; skip_next() drops it.
  const Insn* fusable_ja() const;
  void skip_next() { skip_ = 1; }
  // Where the taken edge of the current conditional jump to `to` goes: jump_label(to), or a stub
  // that first sets the constants sunk into that edge (fuse.cpp).
  Label taken_label(int32_t to);

  // Flags: after some instructions, the flags describe a register as `test` would (all conditions
  // valid after and/or/xor, zero and sign only after add/sub). A following compare of that register
  // with zero can use them instead of a `test`.
  enum class FlagsFrom : uint8_t { None, Logic, Arith };
  void set_flags(int reg, bool is64, FlagsFrom from);
  // Whether the flags describe BPF register `reg` at this width as good as `test reg, reg` for `cond`.
  bool flags_hold(int reg, bool is64, Cond cond) const;

  // reg = the immediate sign-extended to reg's width (64-bit: through a 32-bit restore when the
  // immediate is not negative). Blinded: imm ^ key, then ^ key.
  void load_imm(x86::Gp reg, Imm32 imm);
  // reg (64-bit) = the lddw immediate (blinded 64-bit values: through AUX).
  void load_imm64(x86::Gp reg, Imm64 imm);
  // call / jmp to the address in r11 (through the retpoline when asked).
  void indirect_call();
  void indirect_jump();

  // Blinded immediates in loops (hoist.cpp). In unchecked code with blinding on, a loop (the
  // instructions from a backward jump's target to the jump) without calls, divisions, atomics or
  // packet loads keeps its blinded immediates in spare registers and red-zone slots: they are
  // restored on every entry into the loop (the fall-through into its first instruction, and a stub
  // for each jump into it from outside), so that inside the loop such an immediate costs what a
  // register or memory operand costs, off every dependency chain. The immediate of `in` (shift counts
  // masked), drawn once: the hoisting plan draws those of loops before the code is emitted.
  Imm32 imm(const Insn& in);
  // The register that holds the current instruction's immediate, when it is hoisted into one.
  std::optional<x86::Gp> hoisted() const { return hoisted_at(k_); }
  std::optional<x86::Gp> hoisted_at(size_t k) const;  // that of instruction k
  // The red-zone slot or the run slot (RunCtl::consts, hoist.cpp) that holds it, as an operand of
  // `bytes`, when it is hoisted into one.
  std::optional<x86::Mem> hoisted_slot(int bytes) const { return hoisted_slot_at(k_, bytes); }
  std::optional<x86::Mem> hoisted_slot_at(size_t k, int bytes) const;
  // Where a jump from the current instruction to instruction `to` goes (a loop's entry stub when
  // `to` is inside a loop with hoisted immediates and the jump is not).
  Label jump_label(int32_t to);

  // The memory operand of an access of `size` bytes at [base_reg + in.off]. Checked mode: the
  // address is computed in r11 and checked first (inline against the live stack and the first
  // region, then out of line), faulting to a site (emit_mem.cpp).
  x86::Mem access(const Insn& in, int base_reg, int size, bool write);

  // A function's prologue and epilogue (emit_call.cpp).
  void emit_prologue(const Func& f);
  void emit_epilogue(const Func& f);

 private:
  struct SlowPath {
    Label entry, back, site;
    uint32_t code;
  };

  // A loop with hoisted immediates: its instructions [begin, end], the hoisted instructions and
  // their registers or red-zone slots, and the entry stubs of jumps into it (target, label).
  struct Loop {
    uint32_t begin = 0, end = 0;
    std::vector<std::pair<uint32_t, x86::Gp>> consts;
    std::vector<uint32_t> slots;  // slot i: [rsp - 8 (i + 1)]
    std::vector<std::pair<uint32_t, Label>> stubs;
  };

  void analyse();
  void plan_lookups();
  // Instruction k calls out of the generated code (a native call: helpers, local calls, a direct
  // map lookup; not an inline lookup).
  bool calls_out(size_t k) const;
  void plan_hoisting();                                      // hoist.cpp
  bool exits_straight(uint32_t t) const;                     // hoist.cpp
  void plan_run_slots(const std::vector<uint8_t>& in_loop);  // hoist.cpp
  void materialize_run_slots();                              // hoist.cpp
  void materialize(const Loop& loop);                        // hoist.cpp
  void emit_loop_stubs();                                    // hoist.cpp
  std::vector<x86::Gp> spare_registers();                    // hoist.cpp
  // Instructions k and k + 1 are a mov and an add that fuse_mov_add() makes one lea (when the
  // add's immediate is plain or in a register).
  bool lea_pair(size_t k) const;
  bool fuse_mov_add(bool* restored);
  // Instructions k and k + 1 are `mov dst, src` and a shift of dst by a register or an immediate
  // (BMI2 hosts): one three-operand shift when the count is in a register (an immediate count:
  // hoisted in its loop, blinded or not).
  bool shift_pair(size_t k) const;
  bool fuse_mov_shift();
  bool ja_fusable(size_t k) const;

  // Fusions that rely on liveness (fuse.cpp), planned before hoisting (which leaves their
  // instructions alone). Group: an indexed load's instructions, emitted at the first; Commute: an
  // operation computed in its source register; Elided: the mov after it; Sunk: a constant set in
  // the stub of a jump's taken edge; Dropped: a dead constant or a redundant shift mask; Pair: a
  // byte pair's instructions (BytePair), emitted at the first.
  enum class Fused : uint8_t { None, Group, Pair, Commute, Elided, Sunk, Dropped };
  struct IndexedLoad {
    uint32_t first = 0;
    int32_t shift = -1;  // the `lsh idx, 0-3`, or -1
    uint32_t base = 0, add = 0, load = 0;
    bool keep_shift = false;  // idx is read after the load: shifted after it
  };
  // Two byte loads combined into a 16-bit value: one 16-bit load (byte-swapped when the shifted
  // byte comes first). Pair: its four instructions, emitted at the first.
  struct BytePair {
    uint32_t first = 0;
    int dst = 0, base = 0;
    int16_t off = 0;    // of the 16-bit load
    bool swap = false;  // big-endian: the byte at `off` is the high one
  };
  std::optional<BytePair> match_byte_pair(size_t k) const;
  struct EdgeStub {
    Label entry, dest;
    uint32_t jump;
  };
  void plan_fusions();
  std::optional<IndexedLoad> match_indexed_load(size_t k) const;
  bool fused(size_t k) const;
  // Instructions [first, last] may become one fusion: fusions are on, the code unchecked and
  // unmetered, only `first` is a jump target, and none of them is in another fusion.
  bool fusable_span(size_t first, size_t last) const;
  // The first instruction after k, within `limit` and before any jump target, that is not a
  // straight-line instruction leaving `regs` alone: the end of what a fusion may look past (the
  // program's size when a target or the limit comes first).
  size_t next_touching(size_t k, RegSet regs, size_t limit) const;
  // Instruction k is emitted elsewhere (an edge stub) or not at all.
  bool folded(size_t k) const;
  // Instruction k's immediate is not emitted where it stands (hoisting leaves it alone).
  bool imm_unused(size_t k) const;
  // Emits the fusion that starts at the current instruction, if any.
  bool emit_fused();
  void emit_edge_stubs();
  void emit_thunk();
  void emit_main_stub();
  void emit_cold();
  void emit_slow_paths();  // emit_mem.cpp
  static int32_t lim_offset(int region, bool write, int size);

  x86::Assembler& a_;
  const Program& p_;
  JitProgram::Impl& impl_;
  const JitOptions& o_;
  bool bmi2_;
  bool metered_ = false;
  bool uses_retpoline_ = false;
  Blinding blinding_;
  uint32_t k_ = 0;
  size_t func_ = 0;
  uint32_t skip_ = 0;  // instructions to skip (emitted with an earlier one)
  // What the thunk does (analyse()).
  bool leaf_ = false;         // no calls, faults or packet loads: no run control block, no unwinding
  uint16_t referenced_ = 0;   // BPF registers the program names
  uint16_t thunk_saved_ = 0;  // r6-r9 saved (and zeroed) by the thunk
  bool main_stub_ = false;
  bool helpers_ = false;                // helper calls (and so callbacks)
  std::vector<uint8_t> is_target_;      // reached by a jump (or a function entry)
  std::vector<uint8_t> loop_head_;      // the target of a backward jump
  bool thunk_r12_ = false;              // leaf thunk: saves r12 (a spare register)
  std::vector<MapLookupPlan> lookups_;  // per instruction (empty without a planner)
  std::vector<uint8_t> dead_lddw_;      // per instruction (empty without a planner)
  std::vector<Loop> loops_;
  std::vector<int32_t> loop_of_;      // per instruction: its loop in loops_, or -1
  std::vector<int8_t> hoisted_reg_;   // per instruction: the id of the register of its immediate, or -1
  std::vector<int8_t> hoisted_slot_;  // per instruction: the red-zone slot of its immediate, or -1
  std::vector<int8_t> run_slot_;      // per instruction: its RunCtl::consts slot, or -1
  std::vector<uint32_t> run_slots_;   // by slot: the instruction
  std::vector<std::optional<Imm32>> imms_;
  std::unique_ptr<Liveness> live_;                   // (fusions only)
  std::vector<Fused> fused_;                         // per instruction (empty without fusions)
  std::vector<IndexedLoad> groups_;                  // by first instruction
  std::vector<BytePair> pairs_;                      // by first instruction
  std::vector<std::pair<uint32_t, uint32_t>> sunk_;  // (jump, sunk mov), sorted
  std::vector<EdgeStub> edge_stubs_;
  std::vector<Func> funcs_;
  std::vector<Label> labels_;
  std::vector<Label> site_labels_;
  std::vector<SlowPath> slow_paths_;
  struct Flags {
    int reg = -1;
    bool is64 = false;
    FlagsFrom from = FlagsFrom::None;
  };
  Flags flags_;       // after the code emitted so far
  Flags prev_flags_;  // before the current instruction's code
  Label main_entry_;
  Label exit_, unwind_, helper_slow_, ldabs_oob_, mem_slow_, fault_common_, retpoline_, main_stub_label_,
      callback_entry_;
};

// emit_alu.cpp: AluImm, AluReg, AluNeg, End.
void emit_alu(Emitter& e, const Insn& in);
// An ALU instruction with an immediate that has an immediate-free form (blinding.h); the others
// use the immediate as an operand (plain, restored in a scratch register, or hoisted).
bool alu_free_form(const Insn& in, const Imm32& v);
// BMI2's three-operand shifts: dst = src <<, >> or >>s count (the count masked to dst's width).
void emit_shift3(x86::Assembler& a, AluOp op, x86::Gp dst, x86::Gp src, x86::Gp count);
// emit_jmp.cpp: Ja, Ja32, JmpImm, JmpReg.
void emit_jump(Emitter& e, const Insn& in);
// emit_mem.cpp
void emit_lddw(Emitter& e, const Insn& in);
void emit_load(Emitter& e, const Insn& in);   // Ldx, LoadAcquire
void emit_store(Emitter& e, const Insn& in);  // St, Stx, StoreRelease
void emit_atomic(Emitter& e, const Insn& in);
void emit_ld_packet(Emitter& e, const Insn& in);  // LdAbs, LdInd
// emit_call.cpp
void emit_call(Emitter& e, const Insn& in);        // Call (helper)
void emit_call_local(Emitter& e, const Insn& in);  // CallLocal
void emit_callx(Emitter& e, const Insn& in);
void emit_call_kfunc(Emitter& e, const Insn& in);
void emit_exit(Emitter& e, const Insn& in);

}  // namespace bpfvm::jit::internal
