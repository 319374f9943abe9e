// bpf-to-bpf calls: static noinline subprograms passing scalars and stack pointers, a call
// chain three deep, and a global (non-static) function verified on its own.
#include "corpus_common.h"

static __noinline __u32 mix(__u32 a, __u32 b) {
  return (a * 31) ^ (b + 7);
}

static __noinline void accumulate(__u64* acc, __u32 v) {
  *acc += mix(v, (__u32)*acc);
}

static __noinline __u64 chain3(__u32 x) {
  __u64 acc = 1;
  for (__u32 i = 0; i < 8; i++) accumulate(&acc, x + i);
  return acc;
}

__noinline int global_clamp(int v, int lo, int hi) {
  if (v < lo) return lo;
  if (v > hi) return hi;
  return v;
}

SEC("xdp")
int xdp_calls(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  __u32 len = data_end - data;
  __u64 h = chain3(len);
  int clamped = global_clamp((int)(h & 0xff) - 100, 0, 50);
  return (__u32)(h >> 8) & 0xfff0 | (clamped & 0xf) | (global_clamp(len, 0, 1000) << 16);
}

char LICENSE[] SEC("license") = "GPL";
