// Internal to jit/: constant blinding, the only place that reads the immediates a program supplies
// (Insn::imm, Insn::imm64). The code generator receives them from here, as `imm ^ key` with a fresh
// random key per instruction when blinding is on (and as they are when it is off), and restores
// them through a scratch register that no BPF register maps to (STYLE.md section 6).
//
// Besides the blinded value, the generator learns a few facts that let it pick cheaper forms which
// put no immediate at all in the code: whether the immediate is negative (a 32-bit or a
// sign-extended 64-bit restore), and whether it is one of a fixed list of small constants with
// immediate-free encodings (0: xor r, r or test r, r; 1 and -1: inc, dec, shifts by one; 2, 3, 4, 5,
// 8, 9: lea; 0xff, 0xffff: movzx). A value on that list must never be emitted as an immediate.
#pragma once

#include <cstdint>
#include <optional>

#include "vm/isa.h"

namespace bpfvm::jit::internal {

// A 32-bit immediate as the code may contain it: `value` is imm ^ key, and `key` restores it. When
// blinding is off, key is 0 and value is the immediate.
struct Imm32 {
  uint32_t value = 0;
  uint32_t key = 0;
  bool negative = false;         // the immediate, as int32, is < 0
  std::optional<int32_t> small;  // the immediate, when it is on the immediate-free list
  bool blinded() const { return key != 0; }
  // Unblinded: the immediate sign-extended to 64 bits (BPF's reading of a 32-bit immediate).
  int64_t plain() const { return static_cast<int32_t>(value); }
  bool is(int32_t v) const { return small && *small == v; }
};

// lddw's 64-bit immediate: value = imm64 ^ key (key 0: not blinded). When the immediate fits in 32
// bits (zero- or sign-extended), the key is 32 bits too and `width` says how to restore it.
// Neither half of the key nor of the blinded value equals either half of the immediate.
struct Imm64 {
  enum class Width : uint8_t { Zext32, Sext32, Full };
  uint64_t value = 0;
  uint64_t key = 0;
  Width width = Width::Full;
  bool blinded() const { return key != 0; }
};

class Blinding {
 public:
  // Keys come from `seed` (reproducible, for tests) or, without it, the operating system's random
  // source.
  Blinding(bool enabled, std::optional<uint64_t> seed);
  bool enabled() const { return enabled_; }

  // The 32-bit immediate of an ALU, jump, store or LD_ABS/LD_IND instruction, or the helper number
  // of `call imm`. The key is non-zero and differs from the immediate (so that neither it nor
  // imm ^ key is the immediate).
  Imm32 imm(const Insn& in);
  // The count of a shift by an immediate, masked to the operation's width (what x86 and vm/alu.h
  // use); `small` is set for counts 0 and 1.
  Imm32 shift_count(const Insn& in, bool is64);
  // The 64-bit immediate of an lddw (Op::Lddw and the map pseudo loads after linking).
  Imm64 imm64(const Insn& in);
  // Constants that follow from the program's maps (a map's entry count, value stride and value
  // address, in inline lookups): blinded as immediates are, since the program's author chose the
  // map's definition.
  Imm32 constant(uint32_t v) { return blind32(v); }
  Imm64 constant64(uint64_t v);
  // The lddw immediate as it is, for planning only (the map address whose lookups an inline plan
  // replaces); never emitted.
  static uint64_t plain_imm64(const Insn& in) { return in.imm64; }
  // A shift count on a host without BMI2, where shifts by an immediate take the count in the
  // instruction: the count masked to the operation's width (6 bits at most), emitted as it is.
  static uint32_t plain_shift_count(const Insn& in, bool is64);
  // The count of a 64-bit left shift whose result only indexes a load (jit/x86/fuse.cpp): a count
  // of 0-3 becomes the scale of the load's address, two bits of its addressing form rather than an
  // immediate (as 0xff becomes movzx).
  static uint32_t index_scale(const Insn& in) { return plain_shift_count(in, true); }
  // Whether an `and` keeps every bit of `mask` (the count mask of a shift that reads its result),
  // for planning only: such an `and` changes no shift count (jit/x86/fuse.cpp).
  // Whether a shift by an immediate shifts by `n`, for planning only (a byte pair's high byte
  // moved by 8, jit/x86/fuse.cpp).
  static bool shifts_by(const Insn& in, uint32_t n) { return (static_cast<uint32_t>(in.imm) & 63) == n; }
  static bool keeps_bits(const Insn& in, uint32_t mask) {
    return (static_cast<uint32_t>(in.imm) & mask) == mask;
  }
  // The immediate of an unsigned division or modulo by an immediate, as it is, for planning only
  // (the multiply-high form's magic number and shift counts follow from it, jit/x86/emit_alu.cpp);
  // never emitted.
  static int32_t plain_divisor(const Insn& in) { return in.imm; }
  // The BTF id of `call kfunc` (recorded for the error message, not emitted).
  static int32_t kfunc_id(const Insn& in);

 private:
  uint64_t next();
  uint32_t key32(uint32_t imm);
  Imm32 blind32(uint32_t v);

  bool enabled_;
  uint64_t state_ = 0;
};

}  // namespace bpfvm::jit::internal
