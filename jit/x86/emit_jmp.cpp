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

}  // namespace

void emit_jump(Emitter& e, const Insn& in) {
  x86::Assembler& a = e.as();
  const OpInfo& info = in.info();
  if (info.form == Form::Ja || info.form == Form::Ja32) {
    a.jmp(e.target(in));
    return;
  }
  const bool is64 = info.is64;
  x86::Gp dst = is64 ? q(in.dst) : d(in.dst);
  auto compare = [&](auto y) {
    if (info.cond == Cond::Set)
      a.test(dst, y);
    else
      a.cmp(dst, y);
  };
  if (info.form == Form::JmpReg) {
    compare(is64 ? q(in.src) : d(in.src));
  } else {
    const Imm32 v = e.blinding().imm(in);
    if (!v.blinded()) {
      compare(asmjit::imm(v.plain()));
    } else {
      e.load_imm(AUX, v);
      compare(is64 ? AUX : AUX.r32());
    }
  }
  emit_jcc(a, info.cond, e.target(in));
}

}  // namespace bpfvm::jit::internal
