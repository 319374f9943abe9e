/* What a corpus program sees when it is compiled natively (bench/programs/bench_prog.h with
 * BENCH_NATIVE): the XDP definitions it uses, maps and bpf_map_lookup_elem over the shim's simple
 * array and hash implementation (shim.c). Array lookups are inline, as the kernel's JIT inlines
 * them; hash lookups are a call, as in the kernel. */
#ifndef BPFVM_BENCH_SHIM_H
#define BPFVM_BENCH_SHIM_H

#include "bench/native/native.h"

#define xdp_md bench_xdp_md
enum xdp_action { XDP_ABORTED = 0, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT };

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define BENCH_PROG(name) int name(struct xdp_md* ctx)
#define BENCH_LICENSE extern int bench_license_unused
/* Slots: twice the entries, which must be a power of two. */
#define BENCH_ARRAY_MAP(name, key_t, value_t, n)                                        \
  static value_t name##_values[(n)];                                                    \
  struct shim_map name = {SHIM_ARRAY, sizeof(key_t), sizeof(value_t), (n), 0, 0,      \
                          (unsigned char*)name##_values, 0, 0}
#define BENCH_HASH_MAP(name, key_t, value_t, n)                                                   \
  _Static_assert(((n) & ((n) - 1)) == 0, "shim hash maps: max_entries must be a power of two"); \
  static key_t name##_keys[2 * (n)];                                                              \
  static value_t name##_values[2 * (n)];                                                          \
  static unsigned char name##_used[2 * (n)];                                                      \
  struct shim_map name = {SHIM_HASH,                                                              \
                          sizeof(key_t),                                                          \
                          sizeof(value_t),                                                        \
                          (n),                                                                    \
                          2 * (n),                                                                \
                          (unsigned char*)name##_keys,                                            \
                          (unsigned char*)name##_values,                                          \
                          name##_used,                                                            \
                          0}

static __always_inline void* bpf_map_lookup_elem(struct shim_map* m, const void* key) {
  if (m->type == SHIM_ARRAY) {
    uint32_t k = *(const uint32_t*)key;
    return k < m->max_entries ? m->values + (size_t)k * m->value_size : NULL;
  }
  return shim_hash_lookup(m, key);
}

#endif
