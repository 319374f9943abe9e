#include "verifier/domains/stack.h"

#include <algorithm>

namespace bpfvm::verifier {

uint8_t StackFrame::spill_mask(int slot) const {
  uint8_t m = 0;
  for (int k = 0; k < 8; ++k)
    if (bytes_[slot * 8 + k] == uint8_t(ByteKind::Spill)) m |= uint8_t(1u << k);
  return m;
}

void StackFrame::destroy_spill(int slot) {
  if (spill_mask(slot) == 0) return;
  // The bytes of a pointer keep address bits until they are overwritten.
  const uint8_t left = uint8_t(spills_[slot].is_pointer() ? ByteKind::PointerBits : ByteKind::Misc);
  for (int i = 0; i < 8; ++i)
    if (bytes_[slot * 8 + i] == uint8_t(ByteKind::Spill)) bytes_[slot * 8 + i] = left;
  spills_[slot] = RegValue{};
}

void StackFrame::store(int off, int size, const RegValue* val) {
  int i = kSize + off;
  if (val && size == 8 && i % 8 == 0 && !(val->kind == RegKind::Scalar && val->v.is_zero())) {
    for (int k = 0; k < 8; ++k)
      bytes_[i + k] = uint8_t(ByteKind::Spill);
    spills_[i / 8] = *val;
    return;
  }
  for (int s = i / 8; s <= (i + size - 1) / 8; ++s)
    destroy_spill(s);
  if (val && val->kind == RegKind::Scalar && val->v.is_zero()) {
    for (int k = 0; k < size; ++k)
      bytes_[i + k] = uint8_t(ByteKind::Zero);
    return;
  }
  // A narrow spill of a scalar whose value fits the stored bytes (the kernel keeps these too): a
  // reload of the same size gets the value back. Without an id, so it never links to registers.
  if (val && val->kind == RegKind::Scalar && size < 8 && i % size == 0 && val->v.umax >> (size * 8) == 0) {
    for (int k = 0; k < size; ++k)
      bytes_[i + k] = uint8_t(ByteKind::Spill);
    spills_[i / 8] = RegValue::scalar(val->v);
    return;
  }
  for (int k = 0; k < size; ++k)
    bytes_[i + k] = uint8_t(ByteKind::Misc);
}

void StackFrame::store_somewhere(int lo, int hi_end) {
  int a = std::max(0, kSize + lo), b = std::min(kSize, kSize + hi_end);
  for (int s = a / 8; s < kSlots && s * 8 < b; ++s)
    destroy_spill(s);
  for (int k = a; k < b; ++k)
    if (bytes_[k] == uint8_t(ByteKind::Zero)) bytes_[k] = uint8_t(ByteKind::Misc);
}

void StackFrame::mark_init(int off, int size) {
  store(off, size, nullptr);
}

void StackFrame::forget_spills() {
  for (int s = 0; s < kSlots; ++s)
    destroy_spill(s);
  for (uint8_t& b : bytes_)
    if (b == uint8_t(ByteKind::Zero)) b = uint8_t(ByteKind::Misc);
}

int StackFrame::first_uninit(int off, int size) const {
  for (int k = 0; k < size; ++k)
    if (bytes_[kSize + off + k] == uint8_t(ByteKind::Uninit)) return off + k;
  return 1;
}

bool StackFrame::holds_pointer(int off, int size) const {
  for (int s = (kSize + off) / 8; s <= (kSize + off + size - 1) / 8; ++s)
    if (bytes_[s * 8] == uint8_t(ByteKind::Spill) && spills_[s].is_pointer()) return true;
  for (int k = 0; k < size; ++k)
    if (bytes_[kSize + off + k] == uint8_t(ByteKind::PointerBits)) return true;
  return false;
}

bool StackFrame::load_exposes_pointer(int off, int size, bool sign_ext) const {
  const int i = kSize + off;
  if (i % 8 == 0 && spill_mask(i / 8) == 0xff && spills_[i / 8].is_pointer() &&
      (size == 8 || (size == 4 && !sign_ext)))
    return false;
  return holds_pointer(off, size);
}

RegValue StackFrame::load(int off, int size, bool sign_ext) const {
  int i = kSize + off;
  bool zero = true;
  for (int k = 0; k < size; ++k)
    zero &= bytes_[i + k] == uint8_t(ByteKind::Zero);
  if (zero) return RegValue::scalar(Scalar::constant(0));
  uint8_t m = spill_mask(i / 8);
  if (m == 0xff && i % 8 == 0) {
    const RegValue& sp = spills_[i / 8];
    if (size == 8) return sp;
    if (sp.is_pointer() && size == 4 && !sign_ext) return truncated(sp);  // the low half
    if (sp.kind == RegKind::Scalar) {
      // The low bytes of a spilled scalar (little-endian).
      Scalar v = alu(AluOp::Le, false, sp.v, sp.v, unsigned(size * 8));
      if (sign_ext) v = alu(AluOp::Movsx, true, v, v, unsigned(size * 8));
      return RegValue::scalar(v);
    }
  } else if (m != 0 && m != 0xff && size < 8 && m == uint8_t(((1u << size) - 1) << (i % 8))) {
    // Exactly the bytes of a narrow spill: its value (it fits), with its loop ghost unless
    // sign-extended.
    Scalar v = spills_[i / 8].v;
    if (sign_ext) v = alu(AluOp::Movsx, true, v, v, unsigned(size * 8));
    RegValue r = RegValue::scalar(v);
    if (!sign_ext) r.ghost = spills_[i / 8].ghost;
    return r;
  }
  if (sign_ext && size < 8) {
    int64_t lim = int64_t{1} << (size * 8 - 1);
    return RegValue::scalar(Scalar::srange(-lim, lim - 1));
  }
  return RegValue::scalar(Scalar::of_size(unsigned(size)));
}

void StackFrame::join_with(const StackFrame& o, const Thresholds* widen) {
  for (int s = 0; s < kSlots; ++s) {
    uint8_t ma = spill_mask(s), mb = o.spill_mask(s);
    bool keep = false;
    if (ma != 0 && ma == mb) {
      RegValue j = join(spills_[s], o.spills_[s], widen);
      if (j.is_init()) {
        spills_[s] = j;
        keep = true;
      }
    }
    if (!keep) destroy_spill(s);
    const uint8_t b_left = uint8_t(o.spills_[s].is_pointer() ? ByteKind::PointerBits : ByteKind::Misc);
    for (int k = s * 8; k < s * 8 + 8; ++k) {
      uint8_t a = bytes_[k], b = o.bytes_[k];
      if (keep && a == uint8_t(ByteKind::Spill)) continue;
      if (b == uint8_t(ByteKind::Spill)) b = b_left;
      if (a == uint8_t(ByteKind::Uninit) || b == uint8_t(ByteKind::Uninit))
        bytes_[k] = uint8_t(ByteKind::Uninit);
      else if (a == uint8_t(ByteKind::Zero) && b == uint8_t(ByteKind::Zero))
        bytes_[k] = uint8_t(ByteKind::Zero);
      else if (a == uint8_t(ByteKind::PointerBits) || b == uint8_t(ByteKind::PointerBits))
        bytes_[k] = uint8_t(ByteKind::PointerBits);
      else
        bytes_[k] = uint8_t(ByteKind::Misc);
    }
  }
}

}  // namespace bpfvm::verifier
