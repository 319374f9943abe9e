// Internal to jit/: executable memory for one compiled program, under W^X. The code is written
// while the memory is read-write and not executable, then the memory becomes read-execute; it is
// never writable and executable at once, and no other (writable) mapping of it exists. Released
// memory becomes read-write again and is kept in a bounded pool for later programs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vm/result.h"

namespace bpfvm::jit::internal {

class CodeMemory {
 public:
  CodeMemory() = default;
  ~CodeMemory();
  CodeMemory(const CodeMemory&) = delete;
  CodeMemory& operator=(const CodeMemory&) = delete;

  // Read-write memory for `size` bytes of code (rounded up to whole pages). Errors: kJit.
  Result<Ok> reserve(size_t size);
  // The writable memory between reserve() and seal().
  uint8_t* data() const { return static_cast<uint8_t*>(map_); }
  size_t capacity() const { return map_size_; }
  // Makes the memory read-execute; `used` bytes of it are the code. Errors: kJit.
  Result<Ok> seal(size_t used);
  size_t size() const { return used_; }

 private:
  void* map_ = nullptr;
  size_t map_size_ = 0;
  size_t used_ = 0;
  bool sealed_ = false;
};

}  // namespace bpfvm::jit::internal
