/* The shim's hash map (native.h). */
#include <errno.h>
#include <string.h>

#include "bench/native/native.h"

/* FNV-1a over the key, then a final mix so that the low bits (the slot) depend on every byte. */
static uint32_t key_hash(const unsigned char* k, uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < n; i++) h = (h ^ k[i]) * 16777619u;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  return h ^ (h >> 13);
}

void* shim_hash_lookup(const struct shim_map* m, const void* key) {
  const uint32_t mask = m->slots - 1;
  for (uint32_t i = key_hash(key, m->key_size) & mask, n = 0; n < m->slots; i = (i + 1) & mask, n++) {
    if (!m->used[i]) return NULL;
    if (memcmp(m->keys + (size_t)i * m->key_size, key, m->key_size) == 0)
      return m->values + (size_t)i * m->value_size;
  }
  return NULL;
}

int shim_map_update(struct shim_map* m, const void* key, const void* value) {
  if (m->type == SHIM_ARRAY) {
    uint32_t k;
    memcpy(&k, key, sizeof k);
    if (k >= m->max_entries) return -EINVAL;
    memcpy(m->values + (size_t)k * m->value_size, value, m->value_size);
    return 0;
  }
  void* v = shim_hash_lookup(m, key);
  if (!v) {
    if (m->count >= m->max_entries) return -E2BIG;
    const uint32_t mask = m->slots - 1;
    uint32_t i = key_hash(key, m->key_size) & mask;
    while (m->used[i]) i = (i + 1) & mask;
    m->used[i] = 1;
    memcpy(m->keys + (size_t)i * m->key_size, key, m->key_size);
    m->count++;
    v = m->values + (size_t)i * m->value_size;
  }
  memcpy(v, value, m->value_size);
  return 0;
}
