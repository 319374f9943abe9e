#include "maps/queue_stack.h"

#include <cstring>
#include <random>

#include "maps/map_internal.h"

namespace bpfvm {

// ---- queue / stack ----

QueueStackMap::QueueStackMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts), size_(def.max_entries + 1), data_(new uint8_t[uint64_t(size_) * def.value_size]()) {}

uint32_t QueueStackMap::count() const {
  auto* self = const_cast<QueueStackMap*>(this);
  std::lock_guard<std::mutex> g(self->mu_);
  return head_ >= tail_ ? head_ - tail_ : head_ + size_ - tail_;
}

int QueueStackMap::push(const void* value, uint64_t flags) {
  if ((flags & kBpfNoExist) || flags > kBpfExist) return -EINVAL;
  std::lock_guard<std::mutex> g(mu_);
  uint32_t next_head = head_ + 1 >= size_ ? 0 : head_ + 1;
  if (next_head == tail_) {  // full
    if (!(flags & kBpfExist)) return -E2BIG;
    tail_ = tail_ + 1 >= size_ ? 0 : tail_ + 1;  // drop the oldest
  }
  std::memcpy(data_.get() + uint64_t(head_) * def().value_size, value, def().value_size);
  head_ = next_head;
  return 0;
}

int QueueStackMap::take(void* value, bool remove) {
  std::lock_guard<std::mutex> g(mu_);
  if (head_ == tail_) return -ENOENT;
  uint32_t idx;
  if (is_stack()) {
    idx = head_ == 0 ? size_ - 1 : head_ - 1;
    if (remove) head_ = idx;
  } else {
    idx = tail_;
    if (remove) tail_ = tail_ + 1 >= size_ ? 0 : tail_ + 1;
  }
  std::memcpy(value, data_.get() + uint64_t(idx) * def().value_size, def().value_size);
  return 0;
}

int QueueStackMap::pop(void* value) {
  return take(value, true);
}
int QueueStackMap::peek(void* value) {
  return take(value, false);
}

// ---- bloom_filter ----

uint32_t BloomFilterMap::hashes_of(const MapDef& def) {
  uint32_t n = uint32_t(def.map_extra & 0xf);
  return n == 0 ? 5 : n;
}

uint64_t BloomFilterMap::bits_of(const MapDef& def) {
  uint64_t n = uint64_t(def.max_entries) * hashes_of(def);
  n = n / 5 * 7;
  if (n > (1ULL << 31)) return 1ULL << 31;
  if (n <= 64) return 64;
  uint64_t p = 1;
  while (p < n)
    p <<= 1;
  return p;
}

BloomFilterMap::BloomFilterMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts), nr_hashes_(hashes_of(def)), mask_(bits_of(def) - 1) {
  seed_ = 0;
  if (!(def.map_flags & kBpfFZeroSeed)) {
    std::random_device rd;
    seed_ = (uint64_t(rd()) << 32) | rd();
  }
  words_.reset(new uint64_t[(mask_ + 1) / 64]());
}

uint64_t BloomFilterMap::bit(const void* value, uint32_t i) const {
  return hash_bytes(value, def().value_size, seed_ + i) & mask_;
}

int BloomFilterMap::push(const void* value, uint64_t flags) {
  if (flags != kBpfAny) return -EINVAL;
  for (uint32_t i = 0; i < nr_hashes_; ++i) {
    uint64_t b = bit(value, i);
    __atomic_fetch_or(&words_[b / 64], 1ULL << (b % 64), __ATOMIC_RELAXED);
  }
  return 0;
}

int BloomFilterMap::peek(void* value) {
  for (uint32_t i = 0; i < nr_hashes_; ++i) {
    uint64_t b = bit(value, i);
    if (!(__atomic_load_n(&words_[b / 64], __ATOMIC_RELAXED) & (1ULL << (b % 64)))) return -ENOENT;
  }
  return 0;
}

}  // namespace bpfvm
