#include "jit/code_memory.h"

#include <sys/mman.h>
#include <unistd.h>

namespace bpfvm::jit::internal {

CodeMemory::~CodeMemory() {
  if (map_ != nullptr) munmap(map_, map_size_);
}

Result<Ok> CodeMemory::reserve(size_t size) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t map_size = (size + page - 1) / page * page;
  void* map = mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return make_error(ErrorCode::kJit, kNoPc, "cannot map memory for the code");
  map_ = map;
  map_size_ = map_size;
  return Ok{};
}

Result<Ok> CodeMemory::seal(size_t used) {
  if (mprotect(map_, map_size_, PROT_READ | PROT_EXEC) != 0)
    return make_error(ErrorCode::kJit, kNoPc, "cannot make the code executable");
  used_ = used;
  return Ok{};
}

}  // namespace bpfvm::jit::internal
