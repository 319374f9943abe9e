// Code memory under W^X, with a bounded pool of released mappings.
//
// A fresh mapping costs an mmap, a page fault per page on the first write, and an munmap at the
// end (with its TLB flush). Released mappings therefore go back to a process-wide pool instead,
// switched to read-write first: pooled memory is never executable, and what it holds is the code of
// a program that no longer exists, so no writable alias of live code appears. A compile that finds
// a pooled mapping of its size writes into present pages and pays only the switch to
// read-execute. The copy into the mapping zero-fills it past the code (jit.cpp), so nothing of the
// previous program stays executable.
#include "jit/code_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <mutex>
#include <vector>

namespace bpfvm::jit::internal {
namespace {

constexpr size_t kPoolBytes = size_t{1} << 20;  // at most 1 MiB of released mappings kept

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

CodeMemory::~CodeMemory() {
  if (map_ == nullptr) return;
  if (sealed_ && mprotect(map_, map_size_, PROT_READ | PROT_WRITE) != 0) {
    munmap(map_, map_size_);
    return;
  }
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.bytes + map_size_ <= kPoolBytes) {
      p.maps.emplace_back(map_, map_size_);
      p.bytes += map_size_;
      return;
    }
  }
  munmap(map_, map_size_);
}

Result<Ok> CodeMemory::reserve(size_t size) {
  const size_t page = page_size();
  const size_t map_size = (size + page - 1) / page * page;
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    for (size_t i = p.maps.size(); i-- > 0;) {
      if (p.maps[i].second != map_size) continue;
      map_ = p.maps[i].first;
      map_size_ = map_size;
      p.bytes -= map_size;
      p.maps.erase(p.maps.begin() + static_cast<ptrdiff_t>(i));
      return Ok{};
    }
  }
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
  sealed_ = true;
  return Ok{};
}

}  // namespace bpfvm::jit::internal
