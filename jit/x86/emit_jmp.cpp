// Jumps: ja, and conditional jumps against a register or an immediate (64- and 32-bit).
#include "jit/x86/emitter_p.h"

namespace bpfvm::jit::internal {
namespace {

// The x86 condition of a BPF jump after `cmp dst, src` (`test dst, src` for JSET). x86 inverts a
// condition by its lowest bit (x86::negateCond).
x86::CondCode cond_code(Cond c) {
  switch (c) {
    case Cond::Eq:
      return x86::CondCode::kEqual;
    case Cond::Ne:
      return x86::CondCode::kNotEqual;
    case Cond::Gt:
      return x86::CondCode::kUnsignedGT;
    case Cond::Ge:
      return x86::CondCode::kUnsignedGE;
    case Cond::Lt:
      return x86::CondCode::kUnsignedLT;
    case Cond::Le:
      return x86::CondCode::kUnsignedLE;
    case Cond::Set:
      return x86::CondCode::kNotZero;
    case Cond::Sgt:
      return x86::CondCode::kSignedGT;
    case Cond::Sge:
      return x86::CondCode::kSignedGE;
    case Cond::Slt:
      return x86::CondCode::kSignedLT;
    case Cond::Sle:
      return x86::CondCode::kSignedLE;
    default:
      return x86::CondCode::kEqual;  // Always and None are not conditional jumps
  }
}

}  // namespace

// A conditional jump over a `ja` becomes one inverted jump to the ja's target (Emitter::fusable_ja).
// A compare with 0 is `test` (same flags as `cmp r, 0`), or nothing when the previous instruction
// left the flags of that register (Emitter::flags_hold); a JSET with 0 never jumps.
void emit_jump(Emitter& e, const Insn& in) {
  x86::Assembler& a = e.as();
  const OpInfo& info = in.info();
  if (info.form == Form::Ja || info.form == Form::Ja32) {
    if (static_cast<uint32_t>(in.target) != e.index() + 1) a.jmp(e.jump_label(in.target));
    return;
  }
  const bool is64 = info.is64;
  const x86::Gp dst = is64 ? q(in.dst) : d(in.dst);
  auto compare = [&](auto y) {
    if (info.cond == Cond::Set)
      a.test(dst, y);
    else
      a.cmp(dst, y);
  };
  if (info.form == Form::JmpReg) {
    compare(is64 ? q(in.src) : d(in.src));
  } else {
    const Imm32 v = e.imm(in);
    if (v.is(0)) {
      if (info.cond == Cond::Set) return;  // dst & 0 is never set
      if (!e.flags_hold(in.dst, is64, info.cond)) a.test(dst, dst);
    } else if (!v.blinded()) {
      compare(asmjit::imm(v.plain()));
    } else if (auto h = e.hoisted()) {
      compare(is64 ? *h : h->r32());
    } else if (auto m = e.hoisted_slot(is64 ? 8 : 4)) {
      if (info.cond == Cond::Set)
        a.test(*m, dst);  // commutes; asmjit has only this order
      else
        a.cmp(dst, *m);
    } else {
      e.load_imm(is64 ? AUX : AUX.r32(), v);
      compare(is64 ? AUX : AUX.r32());
    }
  }
  x86::CondCode cc = cond_code(info.cond);
  Label target = e.taken_label(in.target);
  if (const Insn* ja = e.fusable_ja(); ja != nullptr) {
    cc = x86::negateCond(cc);
    target = e.jump_label(ja->target);
    e.skip_next();
  }
  a.j(cc, target);
}

}  // namespace bpfvm::jit::internal
