#include "maps/hash_table.h"

#include "maps/map_internal.h"

namespace bpfvm {

namespace {

uint64_t bucket_count(uint32_t max_entries) {
  uint64_t n = 1;
  while (n < max_entries)
    n <<= 1;
  return n;
}

constexpr uint32_t kElemHeader = 24;

}  // namespace

uint64_t hash_table_bytes(uint32_t key_size, uint32_t value_bytes, uint32_t max_entries) {
  uint64_t slot = kElemHeader + round_up8(key_size) + ((uint64_t(value_bytes) + 7) & ~7ULL);
  return slot * max_entries + bucket_count(max_entries) * sizeof(uint32_t);
}

HashTable::HashTable(uint32_t key_size, uint32_t value_bytes, uint32_t max_entries, bool lru, uint64_t seed)
    : key_size_(key_size), value_bytes_(value_bytes), max_entries_(max_entries), lru_(lru), seed_(seed) {
  static_assert(sizeof(Elem) == kElemHeader);
  slot_size_ = sizeof(Elem) + round_up8(key_size) + ((uint64_t(value_bytes) + 7) & ~7ULL);
  // Chunks of up to 256 slots, fewer for small tables.
  // Small tables (up to kFlatBytes) are one chunk, allocated now: a slot's address is then one
  // multiply-add from the index, with no chunk pointer to load on the lookup's dependency chain.
  constexpr uint64_t kFlatBytes = 1 << 20;
  const bool flat = slot_size_ * max_entries <= kFlatBytes;
  chunk_shift_ = 0;
  while ((flat || chunk_shift_ < 8) && (uint64_t(1) << chunk_shift_) < max_entries)
    ++chunk_shift_;
  chunk_mask_ = (1u << chunk_shift_) - 1;
  num_chunks_ = uint32_t((uint64_t(max_entries) + chunk_mask_) >> chunk_shift_);
  chunks_.reset(new std::atomic<uint8_t*>[num_chunks_]);
  for (uint32_t i = 0; i < num_chunks_; ++i)
    chunks_[i].store(nullptr, std::memory_order_relaxed);
  if (flat && num_chunks_ == 1) {
    flat_ = new uint8_t[slot_size_ << chunk_shift_]();
    chunks_[0].store(flat_, std::memory_order_relaxed);
  }
  uint64_t nb = bucket_count(max_entries);
  bucket_mask_ = nb - 1;
  heads_.reset(new uint32_t[nb]);
  for (uint64_t i = 0; i < nb; ++i)
    heads_[i] = kNil;
}

uint64_t HashTable::value_bytes_from(const void* p, uint32_t stride, uint32_t value_size) const {
  const uint64_t a = reinterpret_cast<uintptr_t>(p);
  const uint64_t chunk_bytes = slot_size_ << chunk_shift_;
  const uint64_t value_start = sizeof(Elem) + round_up8(key_size_);
  for (uint32_t i = 0; i < num_chunks_; ++i) {
    const uint8_t* c = chunks_[i].load(std::memory_order_acquire);
    if (c == nullptr) continue;
    uint64_t off = a - reinterpret_cast<uintptr_t>(c);
    if (off >= chunk_bytes) continue;
    uint64_t in_slot = off % slot_size_;
    if (in_slot < value_start || in_slot - value_start >= value_bytes_) return 0;
    uint64_t within = (in_slot - value_start) % stride;
    return within < value_size ? value_size - within : 0;
  }
  return 0;
}

HashTable::~HashTable() {
  for (uint32_t i = 0; i < num_chunks_; ++i)
    delete[] chunks_[i].load(std::memory_order_relaxed);
}

uint32_t HashTable::find_locked(const void* key, uint64_t h) const {
  for (uint32_t idx = heads_[h & bucket_mask_]; idx != kNil; idx = elem(idx)->next) {
    if (elem(idx)->hash == h && bytes_equal(key_of(idx), key, key_size_)) return idx;
  }
  return kNil;
}

inline bool HashTable::find_lockfree(const void* key, uint64_t h, uint32_t* found) const {
  const uint32_t s = stripe(h);
  const uint32_t seq = seqs_[s].load(std::memory_order_acquire);
  if (seq & 1) return false;
  uint32_t idx = load_link(heads_[h & bucket_mask_]);
  uint32_t hit = kNil;
  // A chain has at most max_entries elements; more steps mean a writer moved it under us.
  for (uint32_t steps = 0; idx != kNil; ++steps) {
    if (steps > max_entries_ || idx >= max_entries_) return false;
    const uint8_t* c =
        flat_ != nullptr ? flat_ : chunks_[idx >> chunk_shift_].load(std::memory_order_acquire);
    if (c == nullptr) return false;
    const auto* e = reinterpret_cast<const Elem*>(c + uint64_t(idx & chunk_mask_) * slot_size_);
    if (__atomic_load_n(&e->hash, __ATOMIC_RELAXED) == h &&
        bytes_equal(reinterpret_cast<const uint8_t*>(e) + sizeof(Elem), key, key_size_)) {
      hit = idx;
      break;
    }
    idx = load_link(e->next);
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  if (seqs_[s].load(std::memory_order_relaxed) != seq) return false;
  *found = hit;
  return true;
}

uint8_t* HashTable::lookup(const void* key) {
  const uint64_t h = hash(key);
  if (!lru_) {
    for (int attempt = 0; attempt < 4; ++attempt) {
      uint32_t idx;
      if (find_lockfree(key, h, &idx)) return idx == kNil ? nullptr : value_of(idx);
    }
  }
  std::lock_guard<std::mutex> g(lock_for(h));
  const uint32_t idx = find_locked(key, h);
  if (idx == kNil) return nullptr;
  if (lru_) lru_move_front(idx);
  return value_of(idx);
}

void* HashTable::lookup_fn(void* table, const void* key) {
  // The common case inline (a plain table: LRU tables get no Direct plan), the rest in lookup().
  // Not just a call of lookup(): its frame, set up for the mutex path, cost ~10 % on the JIT's
  // hash_lookup benchmark (measured when the two were one function).
  auto* t = static_cast<HashTable*>(table);
  uint32_t idx;
  if (__builtin_expect(!t->lru_ && t->find_lockfree(key, t->hash(key), &idx), 1))
    return idx == kNil ? nullptr : t->value_of(idx);
  return t->lookup(key);
}

uint32_t HashTable::alloc_slot() {
  std::lock_guard<std::mutex> g(alloc_mu_);
  if (free_head_ != kNil) {
    uint32_t idx = free_head_;
    free_head_ = elem(idx)->next;
    return idx;
  }
  if (fresh_ >= max_entries_) return kNil;
  uint32_t idx = fresh_++;
  uint32_t c = idx >> chunk_shift_;
  if (!chunks_[c].load(std::memory_order_relaxed)) {
    // Zeroed and 16-byte aligned (operator new[]), so values are 8-aligned.
    chunks_[c].store(new uint8_t[slot_size_ << chunk_shift_](), std::memory_order_release);
  }
  return idx;
}

void HashTable::free_slot(uint32_t idx) {
  std::lock_guard<std::mutex> g(alloc_mu_);
  store_link(elem(idx)->next, free_head_);
  free_head_ = idx;
}

void HashTable::unlink_bucket_locked(uint32_t idx) {
  uint32_t* link = &heads_[elem(idx)->hash & bucket_mask_];
  while (*link != kNil && *link != idx)
    link = &elem(*link)->next;
  if (*link == idx) store_link(*link, elem(idx)->next);
}

void HashTable::lru_push_front(uint32_t idx) {
  Elem* e = elem(idx);
  e->lru_prev = kNil;
  e->lru_next = lru_head_;
  if (lru_head_ != kNil) elem(lru_head_)->lru_prev = idx;
  lru_head_ = idx;
  if (lru_tail_ == kNil) lru_tail_ = idx;
}

void HashTable::lru_unlink(uint32_t idx) {
  Elem* e = elem(idx);
  if (e->lru_prev != kNil)
    elem(e->lru_prev)->lru_next = e->lru_next;
  else
    lru_head_ = e->lru_next;
  if (e->lru_next != kNil)
    elem(e->lru_next)->lru_prev = e->lru_prev;
  else
    lru_tail_ = e->lru_prev;
}

uint32_t HashTable::evict_lru_locked() {
  uint32_t idx = lru_tail_;
  if (idx == kNil) return kNil;
  lru_unlink(idx);
  unlink_bucket_locked(idx);
  count_.fetch_sub(1, std::memory_order_relaxed);
  return idx;
}

int HashTable::erase(const void* key) {
  uint64_t h = hash(key);
  std::lock_guard<std::mutex> g(lock_for(h));
  uint32_t idx = find_locked(key, h);
  if (idx == kNil) return -ENOENT;
  const uint32_t s = stripe(h);
  begin_write(s);
  unlink_bucket_locked(idx);
  if (lru_) lru_unlink(idx);
  count_.fetch_sub(1, std::memory_order_relaxed);
  free_slot(idx);  // the slot's `next` now links the free list
  end_write(s);
  return 0;
}

int HashTable::next_key(const void* key, void* next) {
  uint64_t start = 0;
  if (key) {
    uint64_t h = hash(key);
    std::lock_guard<std::mutex> g(lock_for(h));
    uint32_t idx = find_locked(key, h);
    if (idx != kNil) {
      uint32_t n = elem(idx)->next;
      if (n != kNil) {
        std::memcpy(next, key_of(n), key_size_);
        return 0;
      }
      start = (h & bucket_mask_) + 1;
    }
    // A key that is not in the table restarts the walk from the first element (as the kernel).
  }
  for (uint64_t b = start; b <= bucket_mask_; ++b) {
    std::lock_guard<std::mutex> g(lock_for(b));
    uint32_t idx = heads_[b];
    if (idx != kNil) {
      std::memcpy(next, key_of(idx), key_size_);
      return 0;
    }
  }
  return -ENOENT;
}

}  // namespace bpfvm
