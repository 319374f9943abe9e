/* A multiply/divide mix: 64- and 32-bit unsigned multiplications, divisions and remainders by
 * data-dependent (non-zero) divisors, as in rate limiters, histograms and hash bucketing. */
#include "bench_prog.h"

BENCH_PROG(bench_muldiv) {
  const __u8* p = PKT_START(ctx);
  const __u8* end = PKT_END(ctx);
  if (p + 16 > end) return 0;
  __u64 x = *(const __u64*)p | 1;
  __u64 y = *(const __u64*)(p + 8) | 1;
  __u64 q = 0;
  __u32 r = 0;
  for (__u32 i = 1; i <= 500; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    q += x / (y | i);
    y = y * 3 + (x % 1000003);
    __u32 a = (__u32)(x >> 32), b = (__u32)x | 1;
    r += a / b + a % (i | 16);
  }
  return (__u32)(q ^ (q >> 32)) ^ r;
}

BENCH_LICENSE;
