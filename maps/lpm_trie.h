// BPF_MAP_TYPE_LPM_TRIE (kernel/bpf/lpm_trie.c): longest-prefix match over big-endian bit strings.
//
// Key: struct bpf_lpm_trie_key { u32 prefixlen; u8 data[key_size - 4]; } (prefixlen in host order).
// The trie has the kernel's shape (path-compressed binary trie with intermediate nodes), so
// get_next_key walks in the kernel's post-order: more specific prefixes before the prefixes that
// contain them; a missing key (or nullptr) starts from the first one.
//  - lookup: the value of the longest stored prefix p <= key.prefixlen matching the key's first p
//    bits, or nullptr;
//  - update: exact prefix; flags > BPF_EXIST -> -EINVAL; prefixlen > 8 * (key_size - 4) -> -EINVAL;
//    BPF_NOEXIST on an existing prefix -> -EEXIST; BPF_EXIST on a missing one -> -ENOENT; a new
//    prefix when max_entries are stored -> -ENOSPC (replacing is allowed when full, as in Linux 6.13+);
//  - remove: exact prefix; -EINVAL for a too long prefixlen, -ENOENT when absent.
// One mutex guards the structure (the kernel uses a spinlock for writers and RCU for readers).
// Values live in a preallocated slot pool of max_entries slots, so lookup pointers stay valid.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "maps/map.h"

namespace bpfvm {

class LpmTrieMap : public Map {
 public:
  LpmTrieMap(const MapDef& def, const MapOptions& opts);
  ~LpmTrieMap() override;
  void* lookup(const void* key) override;
  int update(const void* key, const void* value, uint64_t flags) override;
  int remove(const void* key) override;
  int get_next_key(const void* key, void* next) override;
  int lookup_copy(const void* key, void* out) override;
  uint32_t count() const;
  uint64_t value_bytes_from(const void* p) const override;

 private:
  struct Node;
  Node* lookup_locked(const uint8_t* key) const;
  uint8_t* value_of(const Node* n) const;
  uint32_t alloc_slot();
  void copy_key(const Node* n, void* out) const;
  size_t match_len(const Node* n, uint32_t key_prefixlen, const uint8_t* key_data) const;

  mutable std::mutex mu_;
  uint32_t data_size_, max_prefixlen_, stride_;
  Node* root_ = nullptr;
  uint32_t n_entries_ = 0;
  std::unique_ptr<uint8_t[]> values_;
  std::vector<uint32_t> free_slots_;
  uint32_t fresh_ = 0;
};

}  // namespace bpfvm
