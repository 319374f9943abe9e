#include "vm/sealed.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace bpfvm {
namespace {

constexpr size_t kPoolBytes = size_t{1} << 20;  // at most 1 MiB of released blocks kept

struct Pool {
  std::mutex mu;
  std::vector<std::pair<void*, size_t>> maps;  // read-write mappings and their sizes
  size_t bytes = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: programs may be released during exit
  return *p;
}

size_t page_size() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

}  // namespace

Result<SealedBlock> SealedBlock::create(size_t bytes) {
  const size_t page = page_size();
  const size_t size = (std::max<size_t>(bytes, 1) + page - 1) / page * page;
  SealedBlock b;
  b.size_ = size;
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    for (size_t i = p.maps.size(); i-- > 0;) {
      if (p.maps[i].second != size) continue;
      b.base_ = static_cast<uint8_t*>(p.maps[i].first);
      p.bytes -= size;
      p.maps.erase(p.maps.begin() + static_cast<ptrdiff_t>(i));
      break;
    }
  }
  if (b.base_ != nullptr) {
    std::memset(b.base_, 0, size);
    return b;
  }
  void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return make_error(ErrorCode::kInternal, kNoPc, std::string("cannot map memory: ") + std::strerror(errno));
  b.base_ = static_cast<uint8_t*>(m);
  return b;
}

SealedBlock::SealedBlock(SealedBlock&& o) noexcept {
  *this = std::move(o);
}

SealedBlock& SealedBlock::operator=(SealedBlock&& o) noexcept {
  if (this != &o) {
    release();
    base_ = std::exchange(o.base_, nullptr);
    size_ = std::exchange(o.size_, 0);
    used_ = std::exchange(o.used_, 0);
    sealed_ = std::exchange(o.sealed_, false);
  }
  return *this;
}

SealedBlock::~SealedBlock() {
  release();
}

void SealedBlock::release() {
  if (base_ == nullptr) return;
  void* const base = std::exchange(base_, nullptr);
  if (sealed_ && mprotect(base, size_, PROT_READ | PROT_WRITE) != 0) {
    munmap(base, size_);
    return;
  }
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.bytes + size_ <= kPoolBytes) {
      p.maps.emplace_back(base, size_);
      p.bytes += size_;
      return;
    }
  }
  munmap(base, size_);
}

Status SealedBlock::seal(Access access) {
  const int prot = access == Access::ReadExecute ? PROT_READ | PROT_EXEC : PROT_READ;
  if (mprotect(base_, size_, prot) != 0)
    return make_error(ErrorCode::kInternal, kNoPc,
                      std::string("cannot seal memory: ") + std::strerror(errno));
  sealed_ = true;
  return Ok{};
}

}  // namespace bpfvm
