#include "verifier/domains/stack.h"

#include <algorithm>

namespace bpfvm::verifier {

void StackFrame::destroy_spill(int slot) {
  if (bytes_[slot * 8] != uint8_t(ByteKind::Spill)) return;
  for (int i = 0; i < 8; ++i)
    bytes_[slot * 8 + i] = uint8_t(ByteKind::Misc);
  spills_[slot] = RegValue{};
}

void StackFrame::store(int off, int size, const RegValue* val) {
  int i = kSize + off;
  if (val && size == 8 && i % 8 == 0) {
    for (int k = 0; k < 8; ++k)
      bytes_[i + k] = uint8_t(ByteKind::Spill);
    spills_[i / 8] = *val;
    return;
  }
  for (int s = i / 8; s <= (i + size - 1) / 8; ++s)
    destroy_spill(s);
  for (int k = 0; k < size; ++k)
    bytes_[i + k] = uint8_t(ByteKind::Misc);
}

void StackFrame::store_somewhere(int lo, int hi_end) {
  int a = std::max(0, kSize + lo), b = std::min(kSize, kSize + hi_end);
  for (int s = a / 8; s < kSlots && s * 8 < b; ++s)
    destroy_spill(s);
}

void StackFrame::mark_init(int off, int size) {
  store(off, size, nullptr);
}

void StackFrame::forget_spills() {
  for (int s = 0; s < kSlots; ++s)
    destroy_spill(s);
}

int StackFrame::first_uninit(int off, int size) const {
  for (int k = 0; k < size; ++k)
    if (bytes_[kSize + off + k] == uint8_t(ByteKind::Uninit)) return off + k;
  return 1;
}

bool StackFrame::holds_pointer(int off, int size) const {
  for (int s = (kSize + off) / 8; s <= (kSize + off + size - 1) / 8; ++s)
    if (bytes_[s * 8] == uint8_t(ByteKind::Spill) && spills_[s].is_pointer()) return true;
  return false;
}

RegValue StackFrame::load(int off, int size, bool sign_ext) const {
  int i = kSize + off;
  if (bytes_[i] == uint8_t(ByteKind::Spill) && i % 8 == 0) {
    const RegValue& sp = spills_[i / 8];
    if (size == 8) return sp;
    if (sp.kind == RegKind::Scalar) {
      // The low bytes of a spilled scalar (little-endian).
      Scalar v = alu(AluOp::Le, false, sp.v, sp.v, unsigned(size * 8));
      if (sign_ext) v = alu(AluOp::Movsx, true, v, v, unsigned(size * 8));
      return RegValue::scalar(v);
    }
  }
  if (sign_ext && size < 8) {
    int64_t lim = int64_t{1} << (size * 8 - 1);
    return RegValue::scalar(Scalar::srange(-lim, lim - 1));
  }
  return RegValue::scalar(Scalar::of_size(unsigned(size)));
}

void StackFrame::join_with(const StackFrame& o) {
  for (int s = 0; s < kSlots; ++s) {
    bool sa = bytes_[s * 8] == uint8_t(ByteKind::Spill), sb = o.bytes_[s * 8] == uint8_t(ByteKind::Spill);
    if (sa && sb) {
      RegValue j = join(spills_[s], o.spills_[s]);
      if (j.is_init()) {
        spills_[s] = j;
        continue;
      }
    }
    if (sa) destroy_spill(s);
    for (int k = s * 8; k < s * 8 + 8; ++k) {
      uint8_t a = bytes_[k], b = o.bytes_[k];
      if (a == uint8_t(ByteKind::Uninit) || b == uint8_t(ByteKind::Uninit))
        bytes_[k] = uint8_t(ByteKind::Uninit);
      else
        bytes_[k] = uint8_t(ByteKind::Misc);
    }
  }
}

}  // namespace bpfvm::verifier
