#include "vm/sealed.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace bpfvm {

Result<SealedBlock> SealedBlock::create(size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t size = (std::max<size_t>(bytes, 1) + page - 1) / page * page;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return make_error(ErrorCode::kInternal, kNoPc,
                      std::string("cannot map memory for the decoded program: ") + std::strerror(errno));
  SealedBlock b;
  b.base_ = static_cast<uint8_t*>(p);
  b.size_ = size;
  return b;
}

SealedBlock::SealedBlock(SealedBlock&& o) noexcept {
  *this = std::move(o);
}

SealedBlock& SealedBlock::operator=(SealedBlock&& o) noexcept {
  if (this != &o) {
    if (base_) munmap(base_, size_);
    base_ = std::exchange(o.base_, nullptr);
    size_ = std::exchange(o.size_, 0);
    used_ = std::exchange(o.used_, 0);
    sealed_ = std::exchange(o.sealed_, false);
  }
  return *this;
}

SealedBlock::~SealedBlock() {
  if (base_) munmap(base_, size_);
}

Status SealedBlock::seal() {
  if (mprotect(base_, size_, PROT_READ) != 0)
    return make_error(ErrorCode::kInternal, kNoPc,
                      std::string("cannot make the decoded program read-only: ") + std::strerror(errno));
  sealed_ = true;
  return Ok{};
}

}  // namespace bpfvm
