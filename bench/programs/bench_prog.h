/* The one header of the benchmark corpus (the .c files of bench/programs). The same source builds two ways:
 *  - for BPF (clang -target bpf): an XDP program, with libbpf's map definitions and helpers;
 *  - natively (clang -O2, host target; BENCH_NATIVE): a plain C function over a native xdp_md, with
 *    the maps and helpers of the shim (bench/native/shim.h).
 * Programs only read the packet, so that a batch of runs on the same packet (the kernel's
 * BPF_PROG_TEST_RUN repeat) gives the same r0 every time. */
#ifndef BPFVM_BENCH_PROG_H
#define BPFVM_BENCH_PROG_H

#include <linux/types.h>

#ifndef BENCH_NATIVE
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define BENCH_PROG(name) SEC("xdp") int name(struct xdp_md* ctx)
#define BENCH_MAP(name, map_type, key_t, value_t, n) \
  struct {                                           \
    __uint(type, map_type);                          \
    __uint(max_entries, n);                          \
    __type(key, key_t);                              \
    __type(value, value_t);                          \
  } name SEC(".maps")
#define BENCH_ARRAY_MAP(name, key_t, value_t, n) BENCH_MAP(name, BPF_MAP_TYPE_ARRAY, key_t, value_t, n)
#define BENCH_HASH_MAP(name, key_t, value_t, n) BENCH_MAP(name, BPF_MAP_TYPE_HASH, key_t, value_t, n)
#define BENCH_LICENSE char LICENSE[] SEC("license") = "GPL"
#else
#include "bench/native/shim.h"
#endif

/* Packet bounds, as every XDP program writes them. */
#define PKT_START(ctx) ((const __u8*)(long)(ctx)->data)
#define PKT_END(ctx) ((const __u8*)(long)(ctx)->data_end)

#endif
