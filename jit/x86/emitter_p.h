// Internal to jit/x86/: the x86-64 code generator's state (Emitter) and the emit functions, one
// file per instruction group, each taking (Emitter&, const Insn&):
//   emit_alu.cpp   ALU and byte swaps            emit_jmp.cpp   jumps
//   emit_mem.cpp   loads, stores, atomics, lddw, LD_ABS/LD_IND, checked-mode bounds checks
//   emit_call.cpp  helper calls, local calls, callx, kfuncs, exit
//   emitter.cpp    the program's layout: entry thunk, body, cold paths, dispatch to the above
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
#include <vector>

#include <asmjit/x86.h>

#include "jit/blinding.h"
#include "jit/jit_internal.h"

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

class Emitter {
 public:
  Emitter(x86::Assembler& a, const Program& p, JitProgram::Impl& impl, bool bmi2);

  // Emits the whole program: entry thunk, every instruction, cold paths.
  void compile();
  // The label of instruction k (subprogram entries, after compile()).
  Label label(size_t k) const { return labels_[k]; }

  // --- for the emit functions ---
  x86::Assembler& as() { return a_; }
  const JitOptions& opts() const { return o_; }
  bool bmi2() const { return bmi2_; }
  Blinding& blinding() { return blinding_; }
  // Index of the instruction being emitted.
  uint32_t index() const { return k_; }
  // The label of a jump's, local call's or lddw func's target.
  Label target(const Insn& in) const { return labels_[static_cast<size_t>(in.target)]; }
  // The func token of `lddw func` (the interpreter's scheme: a per-program byte array's address
  // plus the target instruction index).
  uint64_t func_token(const Insn& in) const;
  // A new cold fault site, reached by jumping to the returned label.
  Label new_site(const Site& s);
  Label unwind() const { return unwind_; }
  Label helper_slow() const { return helper_slow_; }
  Label ldabs_oob() const { return ldabs_oob_; }

  // reg = the immediate sign-extended to reg's width (blinded: imm ^ key, then ^ key).
  void load_imm(x86::Gp reg, Imm32 imm);
  // reg (64-bit) = the lddw immediate (blinded: through AUX).
  void load_imm64(x86::Gp reg, Imm64 imm);
  // call / jmp to the address in r11 (through the retpoline when asked).
  void indirect_call();
  void indirect_jump();

  // The memory operand of an access of `size` bytes at [base_reg + in.off]. Checked mode: the
  // address is computed in r11 and checked first (inline against the live stack and the first
  // region, then out of line), faulting to a site (emit_mem.cpp).
  x86::Mem access(const Insn& in, int base_reg, int size, bool write);

 private:
  struct SlowPath {
    Label entry, back, site;
    uint32_t code;
  };

  void emit_thunk();
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
  std::vector<Label> labels_;
  std::vector<Label> site_labels_;
  std::vector<SlowPath> slow_paths_;
  Label exit_, unwind_, helper_slow_, ldabs_oob_, mem_slow_, fault_common_, retpoline_;
};

// emit_alu.cpp: AluImm, AluReg, AluNeg, End.
void emit_alu(Emitter& e, const Insn& in);
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
