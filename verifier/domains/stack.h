// One stack frame, byte by byte: uninitialized, an initialized scalar byte ("misc"), a byte known to
// be zero (the kernel's STACK_ZERO), part of a spilled register that keeps its abstract value (an
// 8-byte aligned spill of any register: pointers survive spill/fill; or a narrower spill of a
// scalar that fits its size, aligned to it: one per 8-byte slot, reloaded with the same size), or
// what is left of a spilled pointer partly overwritten (address bits: never read as a scalar).
#pragma once

#include <array>
#include <cstdint>

#include "verifier/domains/regtype.h"
#include "vm/isa.h"

namespace bpfvm::verifier {

enum class ByteKind : uint8_t { Uninit = 0, Misc = 1, Spill = 2, Zero = 3, PointerBits = 4 };

class StackFrame {
 public:
  static constexpr int kSize = static_cast<int>(kStackSize);
  static constexpr int kSlots = kSize / 8;

  // Offsets are relative to the frame pointer: [-512, 0). Callers check bounds first.
  ByteKind byte(int off) const { return static_cast<ByteKind>(bytes_[kSize + off]); }
  const RegValue& spill(int off) const { return spills_[(kSize + off) / 8]; }

  // A store of `size` bytes at constant offset `off`. `val` is the stored register (nullptr for an
  // immediate); an aligned 8-byte store of a register becomes a spill.
  void store(int off, int size, const RegValue* val);
  // A store somewhere in [lo, hi_end) (variable offset or size): spills and zero bytes there are
  // lost; bytes do not become initialized since no byte is surely written.
  void store_somewhere(int lo, int hi_end);
  // Marks [off, off + size) as initialized scalar bytes (helper output).
  void mark_init(int off, int size);
  // Spilled registers and zero bytes become plain scalar bytes (callbacks may have changed them).
  void forget_spills();
  // First uninitialized byte in [off, off + size), or 1 when all are initialized.
  int first_uninit(int off, int size) const;
  // The value a load of `size` bytes at `off` yields; all bytes must be initialized and, unless
  // it is a whole spill or the low half of a spilled pointer (a TruncPtr), hold no pointer bits.
  RegValue load(int off, int size, bool sign_ext) const;
  // True if any byte in [off, off + size) belongs to a spilled pointer or is left of one.
  bool holds_pointer(int off, int size) const;
  // True if a load of `size` bytes at `off` would read address bits as a scalar: bytes of a spilled
  // pointer other than the whole spill or its low half (4 bytes at the slot start, not
  // sign-extended), or bytes left of a pointer partly overwritten.
  bool load_exposes_pointer(int off, int size, bool sign_ext) const;

  void join_with(const StackFrame& o, const Thresholds* widen = nullptr);
  bool operator==(const StackFrame& o) const = default;

  // Visits every spilled register (to rename ids or invalidate packet pointers).
  template <class F>
  void for_each_spill(F&& f) {
    for (int s = 0; s < kSlots; ++s)
      if (bytes_[s * 8] == uint8_t(ByteKind::Spill)) f(spills_[s]);
  }
  // The spill of 8-byte slot `slot` (0 = [-512, -504)), if it holds one (a narrow spill too).
  RegValue* spill_in_slot(int slot) { return spill_mask(slot) ? &spills_[slot] : nullptr; }
  const RegValue* spill_in_slot(int slot) const { return spill_mask(slot) ? &spills_[slot] : nullptr; }

 private:
  void destroy_spill(int slot);
  uint8_t spill_mask(int slot) const;  // bit k: byte k of the slot belongs to its spill
  std::array<uint8_t, kSize> bytes_{};
  std::array<RegValue, kSlots> spills_{};
};

}  // namespace bpfvm::verifier
