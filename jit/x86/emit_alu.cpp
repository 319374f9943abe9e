// ALU instructions and byte swaps. Division by zero, INT_MIN / -1 and shift masking as in
// vm/alu.h (RFC 9669 section 4.1): x86 masks shift counts the same way; the zero and -1 divisors are
// tested before div/idiv. 32-bit operations write the 32-bit register, which zero-extends.
#include <bit>

#include "jit/x86/emitter_p.h"

namespace bpfvm::jit::internal {
namespace {

void emit_shift(Emitter& e, const Insn& in, bool is64, AluOp op, x86::Gp count /* 64-bit register */) {
  x86::Assembler& a = e.as();
  x86::Gp dst = is64 ? q(in.dst) : d(in.dst);
  x86::Gp cnt = is64 ? count : count.r32();
  auto sh_cl = [&](x86::Gp dd) {
    if (op == AluOp::Lsh)
      a.shl(dd, x86::cl);
    else if (op == AluOp::Rsh)
      a.shr(dd, x86::cl);
    else
      a.sar(dd, x86::cl);
  };
  if (e.bmi2()) {
    emit_shift3(a, op, dst, dst, cnt);
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

}  // namespace

void emit_shift3(x86::Assembler& a, AluOp op, x86::Gp dst, x86::Gp src, x86::Gp count) {
  if (op == AluOp::Lsh)
    a.shlx(dst, src, count);
  else if (op == AluOp::Rsh)
    a.shrx(dst, src, count);
  else
    a.sarx(dst, src, count);
}

namespace {

// dst <<= count, >>= count (logical) or >>= count (arithmetic), the count in the instruction.
void shift_by(x86::Assembler& a, AluOp op, x86::Gp dst, uint32_t count) {
  if (op == AluOp::Lsh)
    a.shl(dst, count);
  else if (op == AluOp::Rsh)
    a.shr(dst, count);
  else
    a.sar(dst, count);
}

// Division and modulo of dst by `divisor` (64-bit: r9 for an immediate, else the source register,
// which is neither rax nor rdx). `checks`: the divisor may be 0 or -1 (a register, or an immediate
// that is either). rax and rdx are saved in r10 and r11 unless dst is one of them.
void emit_div(Emitter& e, const Insn& in, bool is64, AluOp op, bool checks, x86::Gp divisor) {
  x86::Assembler& a = e.as();
  const bool sgn = op == AluOp::Sdiv || op == AluOp::Smod;
  const bool mod = op == AluOp::Mod || op == AluOp::Smod;
  const x86::Gp dst = q(in.dst);
  const x86::Gp dv = is64 ? divisor : divisor.r32();
  const bool in_rax = dst.id() == x86::Gp::kIdAx, in_rdx = dst.id() == x86::Gp::kIdDx;
  Label zero = a.newLabel(), minus1 = a.newLabel(), done = a.newLabel();
  if (checks) {
    a.test(dv, dv);
    a.jz(zero);
    if (sgn) {
      a.cmp(dv, -1);
      a.je(minus1);
    }
  }
  if (!in_rax) a.mov(T2, x86::rax);
  if (!in_rdx) a.mov(AUX, x86::rdx);
  if (!in_rax) a.mov(x86::rax, dst);
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
  // A 32-bit div or idiv zero-extends its results into rax and rdx.
  const x86::Gp result = mod ? x86::rdx : x86::rax;
  if (result.id() != dst.id()) a.mov(dst, result);
  if (!in_rax) a.mov(x86::rax, T2);
  if (!in_rdx) a.mov(x86::rdx, AUX);
  if (!checks) return;
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

// r >>= count (logical), a count that follows from the program's divisor: with BMI2 and blinding, a
// blinded count restored in `scratch` (as shifts by an immediate have it, emit_alu_imm), else the
// count in the instruction (as shifts without BMI2 have it; one bit: the form without an immediate).
void shr_by(Emitter& e, x86::Gp r, uint32_t count, x86::Gp scratch) {
  x86::Assembler& a = e.as();
  if (count == 1 || !e.blinding().enabled() || !e.bmi2()) return (void)a.shr(r, count);
  e.load_imm(scratch.r32(), e.blinding().constant(count));
  a.shrx(r, r, r.isGpq() ? x86::Gp(scratch.r64()) : x86::Gp(scratch.r32()));
}

// Unsigned division and modulo of dst by an immediate divisor d > 1 (alu_free_form has 0 and 1),
// without a div. Powers of two: q = x >> log2 d, r = x & (d - 1). Otherwise the multiply-high form
// that is exact for every dividend (Granlund and Montgomery; Hacker's Delight 10-8, "round-up with
// add"), N = 64 or 32, l = ceil(log2 d):
//   m = floor(2^N (2^l - d) / d) + 1 (< 2^N), t = mulhi_N(m, x), q = (t + ((x - t) >> 1)) >> (l - 1),
//   r = x - q d.
// The magic number, the mask and d are blinded (constants derived from the immediate), the shift
// counts as shr_by says. 32-bit: t from one 64-bit imul of the zero-extended x and m, so rax and rdx
// stay as they are. 64-bit: mulx (m in rdx) or mul (m in rax), rax and rdx saved in r9-r10 unless
// dst is one of them. Every BPF register but dst keeps its value; r9-r11 are clobbered.
void emit_div_by_constant(Emitter& e, const Insn& in, bool is64, bool mod, const Imm32& v) {
  x86::Assembler& a = e.as();
  Blinding& bl = e.blinding();
  const int32_t imm = Blinding::plain_divisor(in);  // planning only
  const uint64_t dv = is64 ? static_cast<uint64_t>(static_cast<int64_t>(imm)) : static_cast<uint32_t>(imm);
  auto wide = [&](x86::Gp r) -> x86::Gp { return is64 ? x86::Gp(r.r64()) : x86::Gp(r.r32()); };
  const x86::Gp dst = wide(q(in.dst));
  if ((dv & (dv - 1)) == 0) {
    if (!mod) return shr_by(e, dst, static_cast<uint32_t>(std::countr_zero(dv)), AUX);
    const uint32_t mask = static_cast<uint32_t>(dv - 1);  // < 2^31: sign-extends to itself
    if (mask == 0xff) return (void)a.movzx(d(in.dst), b(in.dst));
    if (mask == 0xffff) return (void)a.movzx(d(in.dst), w(in.dst));
    const Imm32 m = bl.constant(mask);
    if (!m.blinded()) return (void)a.and_(dst, asmjit::imm(mask));
    e.load_imm(AUX.r32(), m);
    a.and_(dst, wide(AUX));
    return;
  }
  const int l = static_cast<int>(std::bit_width(dv - 1));
  const uint32_t shift = static_cast<uint32_t>(l - 1);
  // q = (t + ((x - t) >> 1)) >> (l - 1) in qr, then (modulo) x - q d in xr; x in xr, and in qr
  // too when `qr_has_x` or qr is xr (division). t is dead after the add; `scratch` is neither xr
  // nor qr.
  auto finish = [&](x86::Gp xr, x86::Gp tr, x86::Gp qr, x86::Gp scratch, bool qr_has_x) {
    if (qr.id() != xr.id() && !qr_has_x) a.mov(qr, xr);
    a.sub(qr, tr);
    a.shr(qr, 1);
    a.add(qr, tr);
    shr_by(e, qr, shift, scratch);
    if (!mod) return;
    if (!v.blinded()) {
      a.imul(qr, qr, asmjit::imm(v.plain()));
    } else {
      e.load_imm(wide(scratch), v);
      a.imul(qr, wide(scratch));
    }
    a.sub(xr, qr);
  };
  if (!is64) {
    const uint32_t m = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << l) - dv)) / dv + 1);
    a.mov(T3.r32(), dst);  // x, zero-extended
    e.load_imm(AUX.r32(), bl.constant(m));
    a.imul(AUX, T3);
    a.shr(AUX, 32);  // t
    finish(dst, AUX.r32(), mod ? T3.r32() : dst, AUX, true);
    return;
  }
  using u128 = unsigned __int128;
  const uint64_t m = static_cast<uint64_t>(((u128{1} << 64) * ((u128{1} << l) - dv)) / dv + 1);
  const x86::Gp rax = x86::rax, rdx = x86::rdx;
  const bool in_rax = dst.id() == rax.id(), in_rdx = dst.id() == rdx.id();
  if (e.bmi2()) {
    // x in dst, or in r9 when dst is rdx (which then needs no saving); rdx saved in r10.
    const x86::Gp xr = in_rdx ? T3 : dst;
    if (in_rdx)
      a.mov(T3, rdx);
    else
      a.mov(T2, rdx);
    e.load_imm64(rdx, bl.constant64(m));  // (a blinded 64-bit restore goes through r11)
    a.mulx(rdx, AUX, xr);                 // rdx = t; the low half in r11 is not needed
    finish(xr, rdx, mod ? (in_rdx ? T2 : T3) : xr, AUX, false);
    a.mov(rdx, in_rdx ? T3 : T2);
    return;
  }
  // mul: x in dst, or in r9 when dst is rax or rdx; rax saved in r10, rdx in r10 (dst is rax) or
  // r9 (dst is neither); q of a modulo in rax.
  const x86::Gp xr = in_rax || in_rdx ? T3 : dst;
  if (in_rax || in_rdx) a.mov(T3, dst);
  if (!in_rax) a.mov(T2, rax);
  if (in_rax)
    a.mov(T2, rdx);
  else if (!in_rdx)
    a.mov(T3, rdx);
  e.load_imm64(rax, bl.constant64(m));  // (through r11)
  a.mul(xr);                            // rdx = t
  finish(xr, rdx, mod ? rax : xr, AUX, false);
  // dst rax: rdx from r10, the result from r9; else rax from r10, rdx (or the result) from r9.
  a.mov(in_rax ? rdx : rax, T2);
  a.mov(in_rax ? rax : rdx, T3);
}

// The value of dst unchanged (64-bit) or zero-extended (32-bit).
void keep(x86::Assembler& a, const Insn& in, bool is64) {
  if (!is64) a.mov(d(in.dst), d(in.dst));
}

// dst = 0, for both widths.
void zero(Emitter& e, const Insn& in) {
  e.as().xor_(d(in.dst), d(in.dst));
  e.set_flags(in.dst, in.info().is64, Emitter::FlagsFrom::Logic);
}

// Multiplication by a small constant without an immediate (lea, add); false when there is none.
bool mul_small(x86::Assembler& a, const Insn& in, bool is64, int32_t v) {
  const x86::Gp dst = is64 ? q(in.dst) : d(in.dst), src = q(in.dst);
  switch (v) {
    case 2:
      a.add(dst, dst);
      return true;
    case 3:
    case 5:
    case 9:
      a.lea(dst, x86::ptr(src, src, v == 3 ? 1 : v == 5 ? 2 : 3));
      return true;
    case 4:
    case 8:
      a.lea(dst, x86::ptr(0, src, v == 4 ? 2 : 3));
      return true;
    default:
      return false;
  }
}

// The immediate-free form of an ALU instruction (alu_free_form holds).
void emit_free_form(Emitter& e, const Insn& in, const Imm32& v) {
  x86::Assembler& a = e.as();
  const OpInfo& info = in.info();
  const bool is64 = info.is64;
  const x86::Gp dst = is64 ? q(in.dst) : d(in.dst);
  using F = Emitter::FlagsFrom;
  auto step = [&](bool up) {  // +1 / -1
    if (up)
      a.inc(dst);
    else
      a.dec(dst);
    e.set_flags(in.dst, is64, F::Arith);
  };
  const bool sub = info.alu == AluOp::Sub;
  const bool mod = info.alu == AluOp::Mod || info.alu == AluOp::Smod;
  switch (info.alu) {
    case AluOp::Add:
    case AluOp::Sub:
      if (v.is(0)) return keep(a, in, is64);
      return step(v.is(1) != sub);
    case AluOp::Or:
      return keep(a, in, is64);  // | 0
    case AluOp::And:
      if (v.is(0)) return zero(e, in);
      if (v.is(-1)) return keep(a, in, is64);
      if (v.is(0xff)) return (void)a.movzx(d(in.dst), b(in.dst));
      return (void)a.movzx(d(in.dst), w(in.dst));  // 0xffff
    case AluOp::Xor:
      if (v.is(0)) return keep(a, in, is64);
      return (void)a.not_(dst);  // ^ -1
    case AluOp::Mul:
      if (v.is(0)) return zero(e, in);
      if (v.is(1)) return keep(a, in, is64);
      if (v.is(-1)) return (void)a.neg(dst);
      mul_small(a, in, is64, *v.small);
      return;
    case AluOp::Mov:
      return zero(e, in);  // = 0
    case AluOp::Lsh:
    case AluOp::Rsh:
    case AluOp::Arsh:
      if (v.is(0)) return keep(a, in, is64);  // a shift by 0 does not zero-extend
      return shift_by(a, info.alu, dst, 1);   // the one-bit form has no immediate
    case AluOp::Div:
    case AluOp::Sdiv:
    case AluOp::Mod:
    case AluOp::Smod:
      // vm/alu.h: x / 0 = 0, x % 0 = x; x / 1 = x, x % 1 = 0; signed x / -1 = -x, x % -1 = 0.
      if (v.is(0)) return mod ? keep(a, in, is64) : zero(e, in);
      if (mod) return zero(e, in);
      if (v.is(1)) return keep(a, in, is64);
      a.neg(dst);  // signed, by -1
      return;
    default:
      return;
  }
}

// ALU with an immediate: the immediate-free forms, else the plain immediate, the blinded one
// restored in r11, or the loop's register that holds it (hoist.cpp).
void emit_alu_imm(Emitter& e, const Insn& in) {
  x86::Assembler& a = e.as();
  const OpInfo& info = in.info();
  const bool is64 = info.is64;
  const x86::Gp dst = is64 ? q(in.dst) : d(in.dst);
  const Imm32 v = e.imm(in);  // shifts: the masked count
  if (alu_free_form(in, v)) return emit_free_form(e, in, v);
  using F = Emitter::FlagsFrom;
  // The immediate as a register: hoisted, or restored in r11 (64-bit: sign-extended; 32-bit
  // operations read the low half only, so a 32-bit restore, the shorter encoding, serves).
  auto reg = [&]() -> x86::Gp {
    if (auto h = e.hoisted()) return *h;
    e.load_imm(is64 ? AUX : AUX.r32(), v);
    return AUX;
  };
  auto binop = [&](auto&& emit_reg, auto&& emit_imm, F flags) {
    if (!v.blinded()) {
      emit_imm(dst, asmjit::imm(v.plain()));
    } else if (auto m = e.hoisted_slot(is64 ? 8 : 4)) {
      emit_reg(dst, *m);
    } else {
      const x86::Gp r = reg();
      emit_reg(dst, is64 ? r : r.r32());
    }
    if (flags != F::None) e.set_flags(in.dst, is64, flags);
  };
  switch (info.alu) {
    case AluOp::Add:
      binop([&](auto x, auto y) { a.add(x, y); }, [&](auto x, auto y) { a.add(x, y); }, F::Arith);
      return;
    case AluOp::Sub:
      binop([&](auto x, auto y) { a.sub(x, y); }, [&](auto x, auto y) { a.sub(x, y); }, F::Arith);
      return;
    case AluOp::Or:
      binop([&](auto x, auto y) { a.or_(x, y); }, [&](auto x, auto y) { a.or_(x, y); }, F::Logic);
      return;
    case AluOp::And:
      binop([&](auto x, auto y) { a.and_(x, y); }, [&](auto x, auto y) { a.and_(x, y); }, F::Logic);
      return;
    case AluOp::Xor:
      binop([&](auto x, auto y) { a.xor_(x, y); }, [&](auto x, auto y) { a.xor_(x, y); }, F::Logic);
      return;
    case AluOp::Mul:
      binop([&](auto x, auto y) { a.imul(x, y); }, [&](auto x, auto y) { a.imul(x, x, y); }, F::None);
      return;
    case AluOp::Mov:
      if (auto h = e.hoisted())
        a.mov(dst, is64 ? *h : h->r32());
      else if (auto m = e.hoisted_slot(is64 ? 8 : 4))
        a.mov(dst, *m);
      else
        e.load_imm(dst, v);
      return;
    case AluOp::Lsh:
    case AluOp::Rsh:
    case AluOp::Arsh:
      if (!v.blinded() || !e.bmi2()) {
        return shift_by(a, info.alu, dst, v.blinded() ? Blinding::plain_shift_count(in, is64) : v.value);
      }
      emit_shift(e, in, is64, info.alu, reg());
      return;
    case AluOp::Div:
    case AluOp::Mod:
      emit_div_by_constant(e, in, is64, info.alu == AluOp::Mod, v);  // the divisor is > 1 (alu_free_form)
      return;
    case AluOp::Sdiv:
    case AluOp::Smod:
      e.load_imm(T3, v);
      emit_div(e, in, is64, info.alu, false, T3);  // the divisor is neither 0 nor -1 (alu_free_form)
      return;
    default:
      return;
  }
}

}  // namespace

bool alu_free_form(const Insn& in, const Imm32& v) {
  const OpInfo& info = in.info();
  switch (info.alu) {
    case AluOp::Add:
    case AluOp::Sub:
      return v.is(0) || v.is(1) || v.is(-1);
    case AluOp::Or:
    case AluOp::Mov:
      return v.is(0);
    case AluOp::And:
      return v.is(0) || v.is(-1) || v.is(0xff) || v.is(0xffff);
    case AluOp::Xor:
      return v.is(0) || v.is(-1);
    case AluOp::Mul:
      return v.small && *v.small != 0xff && *v.small != 0xffff;  // 0, +-1, 2, 3, 4, 5, 8, 9
    case AluOp::Lsh:
    case AluOp::Rsh:
    case AluOp::Arsh:
      return v.is(0) || v.is(1);  // the masked count
    case AluOp::Div:
    case AluOp::Mod:
      return v.is(0) || v.is(1);
    case AluOp::Sdiv:
    case AluOp::Smod:
      return v.is(0) || v.is(1) || v.is(-1);
    default:
      return false;
  }
}

void emit_alu(Emitter& e, const Insn& in) {
  x86::Assembler& a = e.as();
  const OpInfo& info = in.info();
  if (info.form == Form::AluImm) return emit_alu_imm(e, in);
  const bool is64 = info.is64;
  x86::Gp dst = is64 ? q(in.dst) : d(in.dst);
  x86::Gp src = is64 ? q(in.src) : d(in.src);
  using F = Emitter::FlagsFrom;
  switch (info.alu) {
    case AluOp::Add:
      a.add(dst, src);
      e.set_flags(in.dst, is64, F::Arith);
      return;
    case AluOp::Sub:
      a.sub(dst, src);
      e.set_flags(in.dst, is64, F::Arith);
      return;
    case AluOp::Or:
      a.or_(dst, src);
      e.set_flags(in.dst, is64, F::Logic);
      return;
    case AluOp::And:
      a.and_(dst, src);
      e.set_flags(in.dst, is64, F::Logic);
      return;
    case AluOp::Xor:
      a.xor_(dst, src);
      e.set_flags(in.dst, is64, F::Logic);
      return;
    case AluOp::Mul:
      a.imul(dst, src);
      return;
    case AluOp::Mov:
      if (!is64 || in.dst != in.src) a.mov(dst, src);
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
      emit_shift(e, in, is64, info.alu, q(in.src));
      return;
    case AluOp::Div:
    case AluOp::Sdiv:
    case AluOp::Mod:
    case AluOp::Smod:
      if (kRegId[in.src] == x86::Gp::kIdAx || kRegId[in.src] == x86::Gp::kIdDx) {
        a.mov(T3, q(in.src));  // div uses rax and rdx
        emit_div(e, in, is64, info.alu, true, T3);
      } else {
        emit_div(e, in, is64, info.alu, true, q(in.src));
      }
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
