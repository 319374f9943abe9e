// ALU and jump semantics of RFC 9669 as small inline functions. The interpreter is built from them
// and the JIT tests use them as their oracle, so there is exactly one statement of each rule.
//
// Conventions: every operand is passed as the full 64-bit register value (or the immediate, already
// sign-extended from 32 to 64 bits as RFC 9669 section 4.1 prescribes for ALU64 and JMP). 32-bit
// operations read only the low 32 bits of their operands and return the result zero-extended to 64
// bits (RFC 9669 section 4.1: "the upper 32 bits of the destination register are zeroed").
#pragma once

#include <cstdint>
#include <limits>

#include "vm/isa.h"

namespace bpfvm::alu {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "bpfvm assumes a little-endian host");

inline uint64_t lo32(uint64_t v) {
  return static_cast<uint32_t>(v);
}
inline int64_t sext32(uint64_t v) {
  return static_cast<int32_t>(static_cast<uint32_t>(v));
}

// --- 64-bit ---------------------------------------------------------------------------------------
inline uint64_t add64(uint64_t a, uint64_t b) {
  return a + b;
}
inline uint64_t sub64(uint64_t a, uint64_t b) {
  return a - b;
}
inline uint64_t mul64(uint64_t a, uint64_t b) {
  return a * b;
}
// RFC 9669 4.1: "if BPF program execution would result in division by zero, the destination
// register is instead set to zero"; for MOD "the destination register is unchanged".
inline uint64_t div64(uint64_t a, uint64_t b) {
  return b ? a / b : 0;
}
inline uint64_t mod64(uint64_t a, uint64_t b) {
  return b ? a % b : a;
}
// Signed division truncates toward zero; INT64_MIN / -1 overflows in C++ (and traps on x86), so it
// is special-cased to the wrapped result INT64_MIN. Signed modulo has the sign of the dividend and
// INT64_MIN % -1 is 0 (RFC 9669 4.1 defines SMOD as dst - trunc(dst / src) * src).
inline uint64_t sdiv64(uint64_t a, uint64_t b) {
  int64_t x = static_cast<int64_t>(a), y = static_cast<int64_t>(b);
  if (y == 0) return 0;
  if (y == -1) return 0 - a;  // also covers INT64_MIN / -1 == INT64_MIN without overflow
  return static_cast<uint64_t>(x / y);
}
inline uint64_t smod64(uint64_t a, uint64_t b) {
  int64_t x = static_cast<int64_t>(a), y = static_cast<int64_t>(b);
  if (y == 0) return a;
  if (y == -1) return 0;
  return static_cast<uint64_t>(x % y);
}
inline uint64_t or64(uint64_t a, uint64_t b) {
  return a | b;
}
inline uint64_t and64(uint64_t a, uint64_t b) {
  return a & b;
}
inline uint64_t xor64(uint64_t a, uint64_t b) {
  return a ^ b;
}
// RFC 9669 4.1: shift counts are masked to 6 bits for 64-bit operations.
inline uint64_t lsh64(uint64_t a, uint64_t b) {
  return a << (b & 63);
}
inline uint64_t rsh64(uint64_t a, uint64_t b) {
  return a >> (b & 63);
}
inline uint64_t arsh64(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(static_cast<int64_t>(a) >> (b & 63));
}
inline uint64_t neg64(uint64_t a) {
  return 0 - a;
}
inline uint64_t mov64(uint64_t, uint64_t b) {
  return b;
}
// MOVSX (RFC 9669 4.1, offset 8/16/32): sign-extend the low `bits` of src to 64 bits.
inline uint64_t movsx64(uint64_t b, int bits) {
  switch (bits) {
    case 8:
      return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(b)));
    case 16:
      return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(b)));
    default:
      return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(b)));
  }
}

// --- 32-bit (results zero-extended) ---------------------------------------------------------------
inline uint64_t add32(uint64_t a, uint64_t b) {
  return lo32(a + b);
}
inline uint64_t sub32(uint64_t a, uint64_t b) {
  return lo32(a - b);
}
inline uint64_t mul32(uint64_t a, uint64_t b) {
  return lo32(lo32(a) * lo32(b));
}
inline uint64_t div32(uint64_t a, uint64_t b) {
  return lo32(b) ? lo32(a) / lo32(b) : 0;
}
// Modulo by zero leaves dst unchanged, then the 32-bit result is zero-extended (RFC 9669 4.1).
inline uint64_t mod32(uint64_t a, uint64_t b) {
  return lo32(b) ? lo32(a) % lo32(b) : lo32(a);
}
inline uint64_t sdiv32(uint64_t a, uint64_t b) {
  int32_t x = static_cast<int32_t>(a), y = static_cast<int32_t>(b);
  if (y == 0) return 0;
  if (y == -1) return lo32(0 - a);  // INT32_MIN / -1 == INT32_MIN
  return lo32(static_cast<uint32_t>(x / y));
}
inline uint64_t smod32(uint64_t a, uint64_t b) {
  int32_t x = static_cast<int32_t>(a), y = static_cast<int32_t>(b);
  if (y == 0) return lo32(a);
  if (y == -1) return 0;
  return lo32(static_cast<uint32_t>(x % y));
}
inline uint64_t or32(uint64_t a, uint64_t b) {
  return lo32(a | b);
}
inline uint64_t and32(uint64_t a, uint64_t b) {
  return lo32(a & b);
}
inline uint64_t xor32(uint64_t a, uint64_t b) {
  return lo32(a ^ b);
}
// Shift counts are masked to 5 bits for 32-bit operations (RFC 9669 4.1).
inline uint64_t lsh32(uint64_t a, uint64_t b) {
  return lo32(static_cast<uint32_t>(a) << (b & 31));
}
inline uint64_t rsh32(uint64_t a, uint64_t b) {
  return lo32(static_cast<uint32_t>(a) >> (b & 31));
}
inline uint64_t arsh32(uint64_t a, uint64_t b) {
  return lo32(static_cast<uint32_t>(static_cast<int32_t>(a) >> (b & 31)));
}
inline uint64_t neg32(uint64_t a) {
  return lo32(0 - a);
}
inline uint64_t mov32(uint64_t, uint64_t b) {
  return lo32(b);
}
// MOVSX 32-bit form: sign-extend the low 8/16 bits to 32 bits, then zero-extend to 64.
inline uint64_t movsx32(uint64_t b, int bits) {
  return bits == 8 ? lo32(static_cast<uint32_t>(static_cast<int32_t>(static_cast<int8_t>(b))))
                   : lo32(static_cast<uint32_t>(static_cast<int32_t>(static_cast<int16_t>(b))));
}

// --- Byte swaps (RFC 9669 4.2) --------------------------------------------------------------------
// On a little-endian host, "to little-endian" is a truncation to the width (zero-extended), and
// "to big-endian" (and the unconditional BSWAP of ISA v4) is a byte swap of the width, zero-extended.
inline uint64_t le(uint64_t v, int bits) {
  switch (bits) {
    case 16:
      return static_cast<uint16_t>(v);
    case 32:
      return static_cast<uint32_t>(v);
    default:
      return v;
  }
}
inline uint64_t bswap(uint64_t v, int bits) {
  switch (bits) {
    case 16:
      return __builtin_bswap16(static_cast<uint16_t>(v));
    case 32:
      return __builtin_bswap32(static_cast<uint32_t>(v));
    default:
      return __builtin_bswap64(v);
  }
}
inline uint64_t be(uint64_t v, int bits) {
  return bswap(v, bits);
}

// --- Jump conditions (RFC 9669 4.3) ---------------------------------------------------------------
// JMP compares the 64-bit values (immediates sign-extended to 64 bits); JMP32 compares the low 32
// bits, as unsigned or as signed 32-bit values.
inline bool cond64(Cond c, uint64_t a, uint64_t b) {
  int64_t sa = static_cast<int64_t>(a), sb = static_cast<int64_t>(b);
  switch (c) {
    case Cond::Eq:
      return a == b;
    case Cond::Ne:
      return a != b;
    case Cond::Gt:
      return a > b;
    case Cond::Ge:
      return a >= b;
    case Cond::Lt:
      return a < b;
    case Cond::Le:
      return a <= b;
    case Cond::Set:
      return (a & b) != 0;
    case Cond::Sgt:
      return sa > sb;
    case Cond::Sge:
      return sa >= sb;
    case Cond::Slt:
      return sa < sb;
    case Cond::Sle:
      return sa <= sb;
    case Cond::Always:
      return true;
    case Cond::None:
      return false;
  }
  return false;
}
inline bool cond32(Cond c, uint64_t a, uint64_t b) {
  if (c == Cond::Sgt || c == Cond::Sge || c == Cond::Slt || c == Cond::Sle)
    return cond64(c, static_cast<uint64_t>(sext32(a)), static_cast<uint64_t>(sext32(b)));
  return cond64(c, lo32(a), lo32(b));
}

// --- Generic evaluation (for oracles and tests) ---------------------------------------------------
// Result of the ALU instruction described by `info` with dst value `a` and second operand `b` (the
// source register value, or the immediate sign-extended to 64 bits). Returns `a` for rows that are
// not ALU operations.
inline uint64_t eval(const OpInfo& info, uint64_t a, uint64_t b) {
  bool w = info.is64;
  switch (info.alu) {
    case AluOp::Add:
      return w ? add64(a, b) : add32(a, b);
    case AluOp::Sub:
      return w ? sub64(a, b) : sub32(a, b);
    case AluOp::Mul:
      return w ? mul64(a, b) : mul32(a, b);
    case AluOp::Div:
      return w ? div64(a, b) : div32(a, b);
    case AluOp::Sdiv:
      return w ? sdiv64(a, b) : sdiv32(a, b);
    case AluOp::Mod:
      return w ? mod64(a, b) : mod32(a, b);
    case AluOp::Smod:
      return w ? smod64(a, b) : smod32(a, b);
    case AluOp::Or:
      return w ? or64(a, b) : or32(a, b);
    case AluOp::And:
      return w ? and64(a, b) : and32(a, b);
    case AluOp::Xor:
      return w ? xor64(a, b) : xor32(a, b);
    case AluOp::Lsh:
      return w ? lsh64(a, b) : lsh32(a, b);
    case AluOp::Rsh:
      return w ? rsh64(a, b) : rsh32(a, b);
    case AluOp::Arsh:
      return w ? arsh64(a, b) : arsh32(a, b);
    case AluOp::Neg:
      return w ? neg64(a) : neg32(a);
    case AluOp::Mov:
      return w ? mov64(a, b) : mov32(a, b);
    case AluOp::Movsx:
      return w ? movsx64(b, info.ext_bits) : movsx32(b, info.ext_bits);
    case AluOp::Le:
      return le(a, info.ext_bits);
    case AluOp::Be:
      return be(a, info.ext_bits);
    case AluOp::Bswap:
      return bswap(a, info.ext_bits);
    case AluOp::None:
      return a;
  }
  return a;
}

// Whether the conditional jump described by `info` is taken for operands `a` (dst) and `b`.
inline bool taken(const OpInfo& info, uint64_t a, uint64_t b) {
  return info.cls == OpClass::Jmp32 ? cond32(info.cond, a, b) : cond64(info.cond, a, b);
}

}  // namespace bpfvm::alu
