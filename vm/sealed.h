// Memory that becomes read-only once it is filled: the interpreter's pre-decoded program (handler
// addresses, jump targets, immediates) lives in its own mapping, which is switched to read-only
// (mprotect) before the first run, so that a stray write elsewhere in the process cannot change a
// program after the verifier checked it (issue #5: "the decoded program is read-only after load").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "vm/result.h"

namespace bpfvm {

class SealedBlock {
 public:
  SealedBlock() = default;
  // A zero-filled, writable block of at least `bytes` bytes (whole pages).
  static Result<SealedBlock> create(size_t bytes);
  SealedBlock(SealedBlock&& o) noexcept;
  SealedBlock& operator=(SealedBlock&& o) noexcept;
  SealedBlock(const SealedBlock&) = delete;
  SealedBlock& operator=(const SealedBlock&) = delete;
  ~SealedBlock();

  // The bytes, writable until seal(). Carve typed arrays with take<T>(n) (in order, aligned).
  template <class T>
  std::span<T> take(size_t n) {
    used_ = (used_ + alignof(T) - 1) / alignof(T) * alignof(T);
    T* p = reinterpret_cast<T*>(base_ + used_);
    used_ += n * sizeof(T);
    return {p, n};
  }
  // Makes the whole block read-only.
  Status seal();
  bool sealed() const { return sealed_; }
  const void* data() const { return base_; }
  size_t size() const { return size_; }

  // Bytes needed for `n` elements of T after `bytes` bytes (the same rounding as take<T>).
  template <class T>
  static size_t grow(size_t bytes, size_t n) {
    return (bytes + alignof(T) - 1) / alignof(T) * alignof(T) + n * sizeof(T);
  }

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0, used_ = 0;
  bool sealed_ = false;
};

}  // namespace bpfvm
