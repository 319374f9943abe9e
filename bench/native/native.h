/* The native build of the benchmark corpus, as C and C++ see it: the context the native programs
 * take, the shim's maps, and how the harness fills them. No kernel header here, so that the C++
 * harness can include it next to libbpf's. */
#ifndef BPFVM_BENCH_NATIVE_H
#define BPFVM_BENCH_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* struct xdp_md with 64-bit packet pointers: natively `(void *)(long)ctx->data` is a plain pointer. */
struct bench_xdp_md {
  uint64_t data;
  uint64_t data_end;
  uint64_t data_meta;
  uint32_t ingress_ifindex;
  uint32_t rx_queue_index;
  uint32_t egress_ifindex;
};
typedef int (*bench_native_fn)(struct bench_xdp_md* ctx);

enum shim_map_type { SHIM_ARRAY = 1, SHIM_HASH = 2 };

/* A map of the shim. Arrays: `values` holds max_entries values. Hashes: open addressing with linear
 * probing over `slots` (a power of two, twice max_entries) slots of key, value and a used flag. */
struct shim_map {
  int type;
  uint32_t key_size, value_size, max_entries;
  uint32_t slots;
  unsigned char* keys;
  unsigned char* values;
  unsigned char* used;
  uint32_t count;
};

/* 0, or -E2BIG when the map is full, -EINVAL for a key out of an array's range. */
int shim_map_update(struct shim_map* m, const void* key, const void* value);
void* shim_hash_lookup(const struct shim_map* m, const void* key);

#ifdef __cplusplus
}
#endif

#endif
