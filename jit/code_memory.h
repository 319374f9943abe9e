// Internal to jit/: executable memory for one compiled program, under W^X: the code is written
// while the memory is read-write and not executable, then the memory becomes read-execute; it is
// never writable and executable at once, and no other (writable) mapping of it exists. Released
// memory becomes read-write again and goes back to the pool of vm/sealed.h for later programs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vm/result.h"
#include "vm/sealed.h"

namespace bpfvm::jit::internal {

class CodeMemory {
 public:
  // Read-write memory for `size` bytes of code (rounded up to whole pages). Errors: kJit.
  Result<Ok> reserve(size_t size) {
    auto b = SealedBlock::create(size);
    if (!b) return make_error(ErrorCode::kJit, kNoPc, "cannot map memory for the code: " + b.error().msg);
    block_ = std::move(*b);
    return Ok{};
  }
  // The writable memory between reserve() and seal().
  uint8_t* data() const { return block_.data(); }
  size_t capacity() const { return block_.size(); }
  // Makes the memory read-execute; `used` bytes of it are the code. Errors: kJit.
  Result<Ok> seal(size_t used) {
    auto r = block_.seal(SealedBlock::Access::ReadExecute);
    if (!r) return make_error(ErrorCode::kJit, kNoPc, "cannot make the code executable: " + r.error().msg);
    used_ = used;
    return Ok{};
  }
  size_t size() const { return used_; }

 private:
  SealedBlock block_;
  size_t used_ = 0;
};

}  // namespace bpfvm::jit::internal
