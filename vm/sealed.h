// Memory that becomes read-only (or read-execute) once it is filled: the interpreter's
// pre-decoded program (handler addresses, jump targets, immediates), the JIT's run-time tables and
// its machine code each live in their own mapping, switched by mprotect before the first run, so
// that a stray write elsewhere in the process cannot change a program after the verifier checked
// it (issue #5: "the decoded program is read-only after load"), and code is never writable and
// executable at once (W^X).
//
// A fresh mapping costs an mmap, a page fault per page on the first write and an munmap at the end
// (with its TLB flush), which dominated JIT compile times. Released blocks therefore go back,
// read-write, to a bounded process-wide pool (1 MiB) from which a later block of the same size is
// taken: pooled memory is never executable, and what it holds belongs to a program that no longer
// exists, so no writable alias of live code or tables appears. A reused block is zero-filled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "vm/result.h"

namespace bpfvm {

class SealedBlock {
 public:
  enum class Access { ReadOnly, ReadExecute };

  SealedBlock() = default;
  // A zero-filled, writable block of at least `bytes` bytes (whole pages). Errors: kInternal.
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
  // Bytes needed for `n` elements of T after `bytes` bytes (the same rounding as take<T>).
  template <class T>
  static size_t grow(size_t bytes, size_t n) {
    return (bytes + alignof(T) - 1) / alignof(T) * alignof(T) + n * sizeof(T);
  }

  // Makes the whole block read-only, or read-execute. Errors: kInternal.
  Status seal(Access access = Access::ReadOnly);
  bool sealed() const { return sealed_; }
  uint8_t* data() const { return base_; }  // writable until seal()
  size_t size() const { return size_; }

 private:
  void release();
  uint8_t* base_ = nullptr;
  size_t size_ = 0, used_ = 0;
  bool sealed_ = false;
};

}  // namespace bpfvm
