/* bpf-to-bpf calls: MurmurHash3 (x86_32) over the packet with each step a separate non-inlined
 * function, so that every 4-byte block costs three calls. */
#include "bench_prog.h"

static __attribute__((noinline)) __u32 rotl32(__u32 x, __u32 r) {
  return (x << (r & 31)) | (x >> ((32 - r) & 31));
}

static __attribute__((noinline)) __u32 mix_block(__u32 k) {
  k *= 0xcc9e2d51;
  k = rotl32(k, 15);
  return k * 0x1b873593;
}

static __attribute__((noinline)) __u32 mix_hash(__u32 h, __u32 k) {
  h ^= mix_block(k);
  h = rotl32(h, 13);
  return h * 5 + 0xe6546b64;
}

static __attribute__((noinline)) __u32 fmix(__u32 h) {
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  return h ^ (h >> 16);
}

BENCH_PROG(bench_calls) {
  const __u8* p = PKT_START(ctx);
  const __u8* end = PKT_END(ctx);
  __u32 h = 0x9747b28c, n = 0;
  for (int i = 0; i < 375; i++) {
    if (p + 4 * i + 4 > end) break;
    h = mix_hash(h, *(const __u32*)(p + 4 * i));
    n += 4;
  }
  return fmix(h ^ n);
}

BENCH_LICENSE;
