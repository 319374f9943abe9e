// Internal to jit/: constant blinding, the only place that reads the immediates a program supplies
// (Insn::imm, Insn::imm64). The code generator receives them from here, as `imm ^ key` with a fresh
// random key per instruction when blinding is on (and as they are when it is off), and restores
// them through a scratch register that no BPF register maps to (STYLE.md section 6).
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
  bool blinded() const { return key != 0; }
  // Unblinded: the immediate sign-extended to 64 bits (BPF's reading of a 32-bit immediate).
  int64_t plain() const { return static_cast<int32_t>(value); }
};

// lddw's 64-bit immediate: value = imm64 ^ key (key 0: not blinded). Neither half of the key nor of
// the blinded value equals either half of the immediate.
struct Imm64 {
  uint64_t value = 0;
  uint64_t key = 0;
  bool blinded() const { return key != 0; }
};

class Blinding {
 public:
  // Keys come from `seed` (reproducible, for tests) or, without it, the operating system's random
  // source.
  Blinding(bool enabled, std::optional<uint64_t> seed);
  bool enabled() const { return enabled_; }

  // The 32-bit immediate of an ALU, jump, store or LD_ABS/LD_IND instruction. The key is non-zero
  // and differs from the immediate (so that neither it nor imm ^ key is the immediate).
  Imm32 imm(const Insn& in);
  // The 64-bit immediate of an lddw (Op::Lddw and the map pseudo loads after linking).
  Imm64 imm64(const Insn& in);
  // A shift count on a host without BMI2, where shifts by an immediate take the count in the
  // instruction: the count masked to the operation's width (6 bits at most), emitted as it is.
  static uint32_t plain_shift_count(const Insn& in, bool is64);
  // The helper number of `call imm`.
  static uint32_t helper_number(const Insn& in);
  // The BTF id of `call kfunc` (recorded for the error message, not emitted).
  static int32_t kfunc_id(const Insn& in);

 private:
  uint64_t next();
  uint32_t key32(uint32_t imm);

  bool enabled_;
  uint64_t state_ = 0;
};

}  // namespace bpfvm::jit::internal
