// ALU instructions and byte swaps. Division by zero, INT_MIN / -1 and shift masking as in
// vm/alu.h (RFC 9669 section 4.1): x86 masks shift counts the same way; the zero and -1 divisors are
// tested before div/idiv. 32-bit operations write the 32-bit register, which zero-extends.
#include "jit/x86/emitter_p.h"

namespace bpfvm::jit::internal {
namespace {

void emit_shift(Emitter& e, const Insn& in, bool is64, AluOp op, x86::Gp count /* 64-bit register */) {
  x86::Assembler& a = e.as();
  x86::Gp dst = is64 ? q(in.dst) : d(in.dst);
  x86::Gp cnt = is64 ? count : count.r32();
  auto shx = [&](x86::Gp dd, x86::Gp ss, x86::Gp cc) {
    if (op == AluOp::Lsh)
      a.shlx(dd, ss, cc);
    else if (op == AluOp::Rsh)
      a.shrx(dd, ss, cc);
    else
      a.sarx(dd, ss, cc);
  };
  auto sh_cl = [&](x86::Gp dd) {
    if (op == AluOp::Lsh)
      a.shl(dd, x86::cl);
    else if (op == AluOp::Rsh)
      a.shr(dd, x86::cl);
    else
      a.sar(dd, x86::cl);
  };
  if (e.bmi2()) {
    shx(dst, dst, cnt);
    return;
  }
  if (count.id() == x86::Gp::kIdCx) {
    sh_cl(dst);
  } else if (kRegId[in.dst] == x86::Gp::kIdCx) {
    a.mov(T2, x86::rcx);
    a.mov(x86::rcx, count);
    sh_cl(is64 ? T2 : T2.r32());
    a.mov(x86::rcx, T2);
  } else {
    a.mov(T2, x86::rcx);
    a.mov(x86::rcx, count);
    sh_cl(dst);
    a.mov(x86::rcx, T2);
  }
}

// Division and modulo: divisor in r9.
void emit_div(Emitter& e, const Insn& in, bool is64, AluOp op) {
  x86::Assembler& a = e.as();
  const bool sgn = op == AluOp::Sdiv || op == AluOp::Smod;
  const bool mod = op == AluOp::Mod || op == AluOp::Smod;
  x86::Gp dst = q(in.dst);
  x86::Gp dv = is64 ? T3 : T3.r32();
  Label zero = a.newLabel(), minus1 = a.newLabel(), done = a.newLabel();
  a.test(dv, dv);
  a.jz(zero);
  if (sgn) {
    a.cmp(dv, -1);
    a.je(minus1);
  }
  a.mov(T2, x86::rax);
  a.mov(AUX, x86::rdx);
  if (dst.id() != x86::Gp::kIdAx) a.mov(x86::rax, dst);
  if (sgn) {
    if (is64)
      a.cqo();
    else
      a.cdq();
    a.idiv(dv);
  } else {
    a.xor_(x86::edx, x86::edx);
    a.div(dv);
  }
  a.mov(T3, mod ? x86::rdx : x86::rax);
  a.mov(x86::rax, T2);
  a.mov(x86::rdx, AUX);
  a.mov(dst, T3);
  a.jmp(done);
  a.bind(zero);
  if (!mod)
    a.xor_(d(in.dst), d(in.dst));
  else if (!is64)
    a.mov(d(in.dst), d(in.dst));
  if (sgn) {
    a.jmp(done);
    a.bind(minus1);
    if (mod)
      a.xor_(d(in.dst), d(in.dst));
    else if (is64)
      a.neg(dst);
    else
      a.neg(d(in.dst));
  }
  a.bind(done);
}

}  // namespace

void emit_alu(Emitter& e, const Insn& in) {
  x86::Assembler& a = e.as();
  const OpInfo& info = in.info();
  const bool is64 = info.is64;
  const bool imm = info.form == Form::AluImm;
  x86::Gp dst = is64 ? q(in.dst) : d(in.dst);
  auto src = [&]() -> x86::Gp { return is64 ? q(in.src) : d(in.src); };
  // Two-operand forms: with the source register, the plain immediate, or the blinded immediate
  // restored in r11.
  auto binop = [&](auto&& emit_reg, auto&& emit_imm) {
    if (!imm) {
      emit_reg(dst, src());
      return;
    }
    const Imm32 v = e.blinding().imm(in);
    if (!v.blinded()) {
      emit_imm(dst, asmjit::imm(v.plain()));
      return;
    }
    e.load_imm(AUX, v);
    emit_reg(dst, is64 ? AUX : AUX.r32());
  };
  switch (info.alu) {
    case AluOp::Add:
      binop([&](auto x, auto y) { a.add(x, y); }, [&](auto x, auto y) { a.add(x, y); });
      return;
    case AluOp::Sub:
      binop([&](auto x, auto y) { a.sub(x, y); }, [&](auto x, auto y) { a.sub(x, y); });
      return;
    case AluOp::Or:
      binop([&](auto x, auto y) { a.or_(x, y); }, [&](auto x, auto y) { a.or_(x, y); });
      return;
    case AluOp::And:
      binop([&](auto x, auto y) { a.and_(x, y); }, [&](auto x, auto y) { a.and_(x, y); });
      return;
    case AluOp::Xor:
      binop([&](auto x, auto y) { a.xor_(x, y); }, [&](auto x, auto y) { a.xor_(x, y); });
      return;
    case AluOp::Mul:
      binop([&](auto x, auto y) { a.imul(x, y); }, [&](auto x, auto y) { a.imul(x, x, y); });
      return;
    case AluOp::Mov:
      if (imm) {
        const Imm32 v = e.blinding().imm(in);
        if (!v.blinded()) {
          if (is64)
            a.mov(dst, asmjit::imm(v.plain()));
          else
            a.mov(dst, asmjit::imm(v.value));
        } else {
          e.load_imm(q(in.dst), v);
          if (!is64) a.mov(dst, dst);
        }
      } else if (is64) {
        if (in.dst != in.src) a.mov(dst, src());
      } else {
        a.mov(dst, src());
      }
      return;
    case AluOp::Neg:
      a.neg(dst);
      return;
    case AluOp::Movsx:
      if (info.ext_bits == 8)
        a.movsx(dst, b(in.src));
      else if (info.ext_bits == 16)
        a.movsx(dst, w(in.src));
      else
        a.movsxd(dst, d(in.src));
      return;
    case AluOp::Lsh:
    case AluOp::Rsh:
    case AluOp::Arsh:
      if (imm) {
        if (!e.blinding().enabled() || !e.bmi2()) {
          uint32_t c = Blinding::plain_shift_count(in, is64);
          if (info.alu == AluOp::Lsh)
            a.shl(dst, c);
          else if (info.alu == AluOp::Rsh)
            a.shr(dst, c);
          else
            a.sar(dst, c);
          if (!is64 && c == 0) a.mov(dst, dst);  // a shift by 0 does not zero-extend
          return;
        }
        e.load_imm(AUX, e.blinding().imm(in));
        emit_shift(e, in, is64, info.alu, AUX);
        return;
      }
      emit_shift(e, in, is64, info.alu, q(in.src));
      return;
    case AluOp::Div:
    case AluOp::Sdiv:
    case AluOp::Mod:
    case AluOp::Smod:
      if (imm)
        e.load_imm(T3, e.blinding().imm(in));
      else
        a.mov(T3, q(in.src));
      emit_div(e, in, is64, info.alu);
      return;
    case AluOp::Le:
      if (info.ext_bits == 16)
        a.movzx(d(in.dst), w(in.dst));
      else if (info.ext_bits == 32)
        a.mov(d(in.dst), d(in.dst));
      return;
    case AluOp::Be:
    case AluOp::Bswap:
      if (info.ext_bits == 16) {
        a.rol(w(in.dst), 8);
        a.movzx(d(in.dst), w(in.dst));
      } else if (info.ext_bits == 32) {
        a.bswap(d(in.dst));
      } else {
        a.bswap(q(in.dst));
      }
      return;
    case AluOp::None:
      return;
  }
}

}  // namespace bpfvm::jit::internal
