// Private helpers shared by the map implementations.
#pragma once

#include <cstdint>
#include <cstring>

#include "maps/map.h"

namespace bpfvm {

struct MapFactory;

// kernel bpf_map_meta_equal: an inner map must match the definition of the outer map's inner map.
inline bool inner_map_matches(const MapDef& meta, const MapDef& d) {
  return meta.type == d.type && meta.key_size == d.key_size && meta.value_size == d.value_size &&
         meta.map_flags == d.map_flags &&
         (meta.max_entries == d.max_entries || (meta.map_flags & kBpfFInnerMap));
}

// Array-style get_next_key (array_map_get_next_key): a missing or out-of-range key gives index 0.
inline int array_get_next_key(uint32_t max_entries, const void* key, void* next) {
  uint32_t index = 0;
  if (key) std::memcpy(&index, key, 4);
  uint32_t n;
  if (!key || index >= max_entries) {
    n = 0;
  } else if (index == max_entries - 1) {
    return -ENOENT;
  } else {
    n = index + 1;
  }
  std::memcpy(next, &n, 4);
  return 0;
}

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 64-bit hash of a byte string with a seed (a multiply-xorshift mix, 8 bytes per step).
uint64_t hash_bytes(const void* data, size_t len, uint64_t seed);

// Bytes of a value readable from `p` when values of `value_size` bytes lie every `stride` bytes
// from `base` (`count` of them); 0 when `p` is outside them or in the padding between values.
inline uint64_t slot_value_bytes_from(const uint8_t* base, const void* p, uint32_t stride, uint64_t count,
                                      uint32_t value_size) {
  uint64_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(base);
  if (off >= uint64_t(stride) * count) return 0;
  uint64_t within = off % stride;
  return within < value_size ? value_size - within : 0;
}

}  // namespace bpfvm
