// Jumps: ja, and conditional jumps against a register or an immediate (64- and 32-bit).
#include "jit/x86/emitter_p.h"

namespace bpfvm::jit::internal {
namespace {

void emit_jcc(x86::Assembler& a, Cond c, const Label& l) {
  switch (c) {
    case Cond::Eq:
      a.je(l);
      return;
    case Cond::Ne:
      a.jne(l);
      return;
    case Cond::Gt:
      a.ja(l);
      return;
    case Cond::Ge:
      a.jae(l);
      return;
    case Cond::Lt:
      a.jb(l);
      return;
    case Cond::Le:
      a.jbe(l);
      return;
    case Cond::Set:
      a.jnz(l);
      return;
    case Cond::Sgt:
      a.jg(l);
      return;
    case Cond::Sge:
      a.jge(l);
      return;
    case Cond::Slt:
      a.jl(l);
      return;
    case Cond::Sle:
      a.jle(l);
      return;
    case Cond::Always:
      a.jmp(l);
      return;
    case Cond::None:
      return;
  }
}

Cond invert(Cond c) {
  switch (c) {
    case Cond::Eq:
      return Cond::Ne;
    case Cond::Ne:
      return Cond::Eq;
    case Cond::Gt:
      return Cond::Le;
    case Cond::Le:
      return Cond::Gt;
    case Cond::Ge:
      return Cond::Lt;
    case Cond::Lt:
      return Cond::Ge;
    case Cond::Sgt:
      return Cond::Sle;
    case Cond::Sle:
      return Cond::Sgt;
    case Cond::Sge:
      return Cond::Slt;
    case Cond::Slt:
      return Cond::Sge;
    default:
      return Cond::None;  // Set: its inversion (jz) has no Cond
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
  Cond cond = info.cond;
  Label target = e.jump_label(in.target);
  if (const Insn* ja = e.fusable_ja(); ja != nullptr) {
    if (Cond inv = invert(cond); inv != Cond::None) {
      cond = inv;
      target = e.jump_label(ja->target);
      e.skip_next();
    } else if (cond == Cond::Set) {
      a.jz(e.jump_label(ja->target));
      e.skip_next();
      return;
    }
  }
  emit_jcc(a, cond, target);
}

}  // namespace bpfvm::jit::internal
