// Hash maps: hash, percpu_hash, lru_hash, lru_percpu_hash (kernel/bpf/hashtab.c) and hash_of_maps.
//
// Differences from the kernel, by design:
//  - an update of an existing key writes the value in place (the kernel swaps in a new element for
//    non-per-CPU maps, so a program holding the old pointer keeps seeing the old value);
//  - LRU eviction is an exact global LRU (see maps/hash_table.h); BPF_F_NO_COMMON_LRU is accepted
//    and changes nothing;
//  - BPF_F_NO_PREALLOC is accepted; storage is always allocated in chunks on first use and kept.
#pragma once

#include <memory>

#include "maps/hash_table.h"
#include "maps/map.h"

namespace bpfvm {

class HashMap : public Map {
 public:
  HashMap(const MapDef& def, const MapOptions& opts);
  void* lookup(const void* key) override;  // LRU maps: marks the element used
  MapLookupPlan lookup_plan() override;    // Direct for plain hash maps
  int update(const void* key, const void* value, uint64_t flags) override;
  int remove(const void* key) override;
  int get_next_key(const void* key, void* next) override;
  int lookup_copy(const void* key, void* out) override;  // does not mark the element used
  int update_copy(const void* key, const void* values, uint64_t flags) override;
  uint32_t count() const { return table_.count(); }
  uint64_t value_bytes_from(const void* p) const override {
    return table_.value_bytes_from(p, stride_, def().value_size);
  }
  bool is_lru() const { return type() == MapType::LruHash || type() == MapType::LruPercpuHash; }

 private:
  int do_update(const void* key, const void* value, uint64_t flags, bool all_cpus);
  uint32_t stride_;  // round_up(value_size, 8)
  HashTable table_;
};

// hash_of_maps: values are inner maps (not owned). lookup() returns the inner Map*. Insert with
// update_map(); the generic update() is -EINVAL.
class HashOfMapsMap : public Map {
 public:
  HashOfMapsMap(const MapDef& def, const MapOptions& opts);
  void* lookup(const void* key) override;
  int update(const void* key, const void* value, uint64_t flags) override { return -EINVAL; }
  // Flags as for hash maps; null map: -EBADF; a map not matching def().inner[0]: -EINVAL.
  int update_map(const void* key, Map* inner, uint64_t flags);
  int remove(const void* key) override;
  int get_next_key(const void* key, void* next) override;
  int lookup_copy(const void* key, void* out) override;  // the inner map's id()
  uint32_t count() const { return table_.count(); }

 private:
  HashTable table_;
};

}  // namespace bpfvm
