/* Sorting on the stack: 64 32-bit words of the payload are copied to a stack array and bubble-sorted
 * (fixed trip counts, a branch-free compare-and-swap per step, as sorting networks do: 2016 steps),
 * then summed with their rank as weight. Branch-free because a data-dependent swap doubles the
 * kernel verifier's paths at every step (it gives up past 1M instructions). */
#include "bench_prog.h"

#define N 64

BENCH_PROG(bench_sort) {
  const __u8* p = PKT_START(ctx);
  const __u8* end = PKT_END(ctx);
  __u32 a[N];
  if (p + 64 + 4 * N > end) return 0;
  for (int i = 0; i < N; i++) a[i] = *(const __u32*)(p + 64 + 4 * i);
  for (int i = 0; i < N - 1; i++) {
    for (int j = 0; j < N - 1 - i; j++) {
      __s64 x = a[j], y = a[j + 1];
      __s64 d = (y - x) & ((y - x) >> 63); /* min(y - x, 0) */
      a[j] = (__u32)(x + d);
      a[j + 1] = (__u32)(y - d);
    }
  }
  __u32 r = 0;
  for (int i = 0; i < N; i++) r = r * 31 + a[i] * (__u32)(i + 1);
  return r;
}

BENCH_LICENSE;
