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
inline uint64_t hash_bytes(const void* data, size_t len, uint64_t seed) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = seed ^ (len * kMul);
  auto mix = [](uint64_t x) {
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    return x;
  };
  for (; len >= 8; p += 8, len -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = mix(h ^ (w * kMul)) * kMul;
  }
  if (len) {
    // The last 1-7 bytes, little-endian, in fixed-size loads (a variable-length memcpy is a call).
    uint64_t w = 0;
    unsigned shift = 0;
    if (len & 4) {
      uint32_t x;
      std::memcpy(&x, p, 4);
      w = x;
      p += 4;
      shift = 32;
    }
    if (len & 2) {
      uint16_t x;
      std::memcpy(&x, p, 2);
      w |= uint64_t(x) << shift;
      p += 2;
      shift += 16;
    }
    if (len & 1) w |= uint64_t(*p) << shift;
    h = mix(h ^ (w * kMul)) * kMul;
  }
  h ^= h >> 32;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 29;
  return h;
}

// memcmp(a, b, n) == 0, with the common key sizes as single loads.
inline bool bytes_equal(const void* a, const void* b, size_t n) {
  auto eq = [&](auto word) {
    decltype(word) x, y;
    std::memcpy(&x, a, sizeof x);
    std::memcpy(&y, b, sizeof y);
    return x == y;
  };
  switch (n) {
    case 4:
      return eq(uint32_t{});
    case 8:
      return eq(uint64_t{});
    default:
      return std::memcmp(a, b, n) == 0;
  }
}

// Bytes of a value readable from `p` when values of `value_size` bytes lie every `stride` bytes
// from `base` (`count` of them); 0 when `p` is outside them or in the padding between values.
inline uint64_t slot_value_bytes_from(const uint8_t* base,
                                      const void* p,
                                      uint32_t stride,
                                      uint64_t count,
                                      uint32_t value_size) {
  uint64_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(base);
  if (off >= uint64_t(stride) * count) return 0;
  uint64_t within = off % stride;
  return within < value_size ? value_size - within : 0;
}

}  // namespace bpfvm
