// BPF_MAP_TYPE_QUEUE (FIFO) and BPF_MAP_TYPE_STACK (LIFO), kernel/bpf/queue_stack_maps.c.
// No key (key_size 0). push: flags BPF_ANY or BPF_EXIST, else -EINVAL; full -> -E2BIG, or with
// BPF_EXIST the oldest element is dropped to make room (for both queue and stack). pop/peek of an
// empty map: -ENOENT. lookup/update/delete/get_next_key are -EINVAL as in the kernel; the syscall
// lookup (lookup_copy) peeks.
#pragma once

#include <memory>
#include <mutex>

#include "maps/map.h"

namespace bpfvm {

class QueueStackMap : public Map {
 public:
  QueueStackMap(const MapDef& def, const MapOptions& opts);
  int update(const void* key, const void* value, uint64_t flags) override { return -EINVAL; }
  int remove(const void* key) override { return -EINVAL; }
  int get_next_key(const void* key, void* next) override { return -EINVAL; }
  int push(const void* value, uint64_t flags) override;
  int pop(void* value) override;
  int peek(void* value) override;
  int lookup_copy(const void* key, void* out) override { return peek(out); }
  uint32_t count() const;

 private:
  int take(void* value, bool remove);
  bool is_stack() const { return type() == MapType::Stack; }
  std::mutex mu_;
  uint32_t size_;                 // max_entries + 1 slots, as the kernel's ring
  uint32_t head_ = 0, tail_ = 0;  // tail = oldest, head = next free slot
  std::unique_ptr<uint8_t[]> data_;
};

// BPF_MAP_TYPE_BLOOM_FILTER (kernel/bpf/bloom_filter.c). No key; push adds a value (flags must be
// BPF_ANY), peek tests it (0 = maybe present, -ENOENT = certainly absent). pop and delete are
// -EOPNOTSUPP, update -EINVAL. Number of hash functions: MapDef::map_extra & 0xf (bits above must be
// zero), 5 when 0, as the kernel. Bit array: max_entries * nr_hashes * 7 / 5 bits, rounded up to a
// power of 2 (at least 64), capped at 2^31. The hash function differs from the kernel's jhash, so
// false positives differ (never false negatives). Lock-free (atomic or on 64-bit words).
class BloomFilterMap : public Map {
 public:
  BloomFilterMap(const MapDef& def, const MapOptions& opts);
  int update(const void* key, const void* value, uint64_t flags) override { return -EINVAL; }
  int remove(const void* key) override { return -EOPNOTSUPP; }
  int get_next_key(const void* key, void* next) override { return -EOPNOTSUPP; }
  int push(const void* value, uint64_t flags) override;
  int pop(void* value) override { return -EOPNOTSUPP; }
  int peek(void* value) override;
  int lookup_copy(const void* key, void* out) override { return peek(out); }
  uint32_t nr_hashes() const { return nr_hashes_; }
  uint64_t nr_bits() const { return mask_ + 1; }

  static uint32_t hashes_of(const MapDef& def);
  static uint64_t bits_of(const MapDef& def);

 private:
  uint64_t bit(const void* value, uint32_t i) const;
  uint32_t nr_hashes_;
  uint64_t mask_;
  uint64_t seed_;
  std::unique_ptr<uint64_t[]> words_;
};

}  // namespace bpfvm
