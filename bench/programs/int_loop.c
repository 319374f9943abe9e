/* Integer loops: a xorshift64 generator and a Collatz-style walk, seeded by the packet, 1000
 * iterations each: register-only ALU work and branches. */
#include "bench_prog.h"

BENCH_PROG(bench_int_loop) {
  const __u8* p = PKT_START(ctx);
  const __u8* end = PKT_END(ctx);
  if (p + 8 > end) return XDP_ABORTED;
  __u64 x = *(const __u64*)p | 1;
  __u64 acc = 0;
  for (int i = 0; i < 1000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    acc += x >> 32;
  }
  __u32 n = (__u32)x | 1, steps = 0;
  for (int i = 0; i < 1000; i++) {
    if (n == 1) n = (__u32)acc | 3;
    n = (n & 1) ? 3 * n + 1 : n >> 1;
    steps += n & 7;
  }
  return (__u32)(acc ^ (acc >> 32)) ^ steps;
}

BENCH_LICENSE;
