// Private: the concurrent hash table behind hash, percpu_hash, lru_hash, lru_percpu_hash and
// hash_of_maps.
//
// Elements live in a slot pool of exactly max_entries slots, carved from chunks that are allocated
// on first use and freed only with the table, so value pointers stay valid for the table's life
// (like the kernel's preallocated elements; a deleted slot goes to a free list and is reused).
// Slot layout: Elem header | key (rounded to 8) | value bytes (8-aligned).
//
// Locking: plain tables use 64 striped mutexes over the buckets (a bucket's chain is only touched
// under its stripe); the free list has its own mutex, always taken after a stripe. LRU tables use
// one mutex for everything, because an exact global LRU list is shared by all buckets. The kernel's
// LRU is approximate (per-CPU local lists, a global active/inactive list and second-chance
// reference bits); ours evicts exactly the least recently used element.
//
// Program-side lookups of plain tables (lookup()) take no lock, as the kernel's RCU readers: each
// stripe also has a sequence counter that writers make odd while they change a chain (insert,
// erase, and the slot's reuse); a reader walks the chain with atomic loads, bounded by the number
// of slots, and retries when the counter moved (after a few tries it takes the stripe's mutex).
// Slots are never freed while the table lives, so a reader that races with an erase reads stale
// but valid memory, and the counter tells it to retry.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>

#include "maps/map.h"
#include "maps/map_internal.h"

namespace bpfvm {

class HashTable {
 public:
  HashTable(uint32_t key_size, uint32_t value_bytes, uint32_t max_entries, bool lru, uint64_t seed);
  ~HashTable();
  HashTable(const HashTable&) = delete;
  HashTable& operator=(const HashTable&) = delete;

  // Calls f(value) under the element's lock when `key` is present; `touch` marks it used (LRU).
  template <class F>
  bool find(const void* key, bool touch, F&& f) {
    uint64_t h = hash(key);
    std::lock_guard<std::mutex> g(lock_for(h));
    uint32_t idx = find_locked(key, h);
    if (idx == kNil) return false;
    if (lru_ && touch) lru_move_front(idx);
    f(value_of(idx));
    return true;
  }

  // Inserts or updates under the lock. `flags` is already known to be BPF_ANY/NOEXIST/EXIST.
  // on_new(value) fills a new element, on_old(value) updates an existing one.
  // -EEXIST / -ENOENT per flags; -E2BIG when full (LRU tables evict instead).
  template <class FNew, class FOld>
  int upsert(const void* key, uint64_t flags, FNew&& on_new, FOld&& on_old) {
    uint64_t h = hash(key);
    std::lock_guard<std::mutex> g(lock_for(h));
    uint32_t idx = find_locked(key, h);
    if (idx != kNil && flags == kBpfNoExist) return -EEXIST;
    if (idx == kNil && flags == kBpfExist) return -ENOENT;
    if (idx != kNil) {
      on_old(value_of(idx));
      if (lru_) lru_move_front(idx);
      return 0;
    }
    idx = alloc_slot();
    if (idx == kNil) {
      if (!lru_) return -E2BIG;
      idx = evict_lru_locked();
      if (idx == kNil) return -E2BIG;
    }
    const uint32_t s = stripe(h);
    begin_write(s);
    Elem* e = elem(idx);
    __atomic_store_n(&e->hash, h, __ATOMIC_RELAXED);
    std::memcpy(key_of(idx), key, key_size_);
    on_new(value_of(idx));
    uint32_t& head = heads_[h & bucket_mask_];
    store_link(e->next, head);
    store_link(head, idx);
    end_write(s);
    if (lru_) lru_push_front(idx);
    count_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }

  // The value of `key`, or nullptr: the program side's lookup (LRU tables: under the lock, marking
  // the element used; plain tables: without a lock).
  uint8_t* lookup(const void* key);
  // lookup() as a plain function of the table (a MapLookupPlan's Direct call).
  static void* lookup_fn(void* table, const void* key);

  int erase(const void* key);                 // 0 or -ENOENT
  int next_key(const void* key, void* next);  // kernel htab_map_get_next_key order
  uint32_t count() const { return count_.load(std::memory_order_relaxed); }
  // Bytes from `p` to the end of the value containing it, when `p` lies in the value area of a
  // slot (values of `value_size` bytes every `stride` bytes in the area, per-CPU maps having
  // several); 0 otherwise. Free slots count: their storage stays valid.
  uint64_t value_bytes_from(const void* p, uint32_t stride, uint32_t value_size) const;

  static constexpr uint32_t kNil = UINT32_MAX;

 private:
  struct Elem {
    uint32_t next;  // bucket chain, or free list
    uint32_t lru_prev, lru_next;
    uint32_t pad;
    uint64_t hash;
  };
  static constexpr uint32_t kStripes = 64;

  [[gnu::always_inline]] inline uint64_t hash(const void* key) const;
  uint32_t stripe(uint64_t h) const { return lru_ ? 0 : uint32_t((h & bucket_mask_) % kStripes); }
  std::mutex& lock_for(uint64_t h) { return stripes_[stripe(h)]; }
  // A writer's change of a chain of stripe s (under its mutex): the counter is odd meanwhile.
  void begin_write(uint32_t s) {
    seqs_[s].store(seqs_[s].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
  }
  void end_write(uint32_t s) {
    seqs_[s].store(seqs_[s].load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  // lookup() without the lock: kNil when absent, or `false` when a writer interfered.
  [[gnu::always_inline]] inline bool find_lockfree(const void* key, uint64_t h, uint32_t* found) const;
  static uint32_t load_link(const uint32_t& l) { return __atomic_load_n(&l, __ATOMIC_RELAXED); }
  static void store_link(uint32_t& l, uint32_t v) { __atomic_store_n(&l, v, __ATOMIC_RELAXED); }
  uint8_t* slot(uint32_t idx) const {
    uint8_t* c = flat_ != nullptr ? flat_ : chunks_[idx >> chunk_shift_].load(std::memory_order_acquire);
    return c + uint64_t(idx & chunk_mask_) * slot_size_;
  }
  Elem* elem(uint32_t idx) const { return reinterpret_cast<Elem*>(slot(idx)); }
  uint8_t* key_of(uint32_t idx) const { return slot(idx) + sizeof(Elem); }
  uint8_t* value_of(uint32_t idx) const { return slot(idx) + sizeof(Elem) + round_up8(key_size_); }
  uint32_t find_locked(const void* key, uint64_t h) const;
  uint32_t alloc_slot();
  void free_slot(uint32_t idx);
  uint32_t evict_lru_locked();
  void unlink_bucket_locked(uint32_t idx);
  void lru_push_front(uint32_t idx);
  void lru_unlink(uint32_t idx);
  void lru_move_front(uint32_t idx) {
    lru_unlink(idx);
    lru_push_front(idx);
  }

  uint32_t key_size_, value_bytes_, max_entries_;
  bool lru_;
  uint64_t seed_;
  uint64_t slot_size_;
  uint32_t chunk_shift_, chunk_mask_, num_chunks_;
  std::unique_ptr<std::atomic<uint8_t*>[]> chunks_;
  uint8_t* flat_ = nullptr;  // the only chunk of a small table (also chunks_[0])
  uint64_t bucket_mask_;
  std::unique_ptr<uint32_t[]> heads_;
  std::mutex stripes_[kStripes];
  std::atomic<uint32_t> seqs_[kStripes] = {};
  std::mutex alloc_mu_;
  uint32_t free_head_ = kNil;
  uint32_t fresh_ = 0;
  uint32_t lru_head_ = kNil, lru_tail_ = kNil;  // most recently used at the head
  std::atomic<uint32_t> count_{0};
};

inline uint64_t HashTable::hash(const void* key) const {
  // Keys of 4 and 8 bytes (most maps'): one multiply and a fold, seeded; a short dependency chain
  // on every lookup. The full 64 bits are kept in the element and compared first.
  auto fold = [&](uint64_t w) {
    uint64_t x = (w ^ seed_) * 0x9e3779b97f4a7c15ULL;
    return x ^ (x >> 32);
  };
  if (key_size_ == 4) return fold(load_u32(key));
  if (key_size_ == 8) {
    uint64_t w;
    std::memcpy(&w, key, 8);
    return fold(w);
  }
  return hash_bytes(key, key_size_, seed_);
}

// Bytes a table of this shape takes when full.
uint64_t hash_table_bytes(uint32_t key_size, uint32_t value_bytes, uint32_t max_entries);

}  // namespace bpfvm
