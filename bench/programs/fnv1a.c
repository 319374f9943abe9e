/* FNV-1a (64-bit) over the whole packet, one byte at a time. */
#include "bench_prog.h"

BENCH_PROG(bench_fnv1a) {
  const __u8* p = PKT_START(ctx);
  const __u8* end = PKT_END(ctx);
  __u64 h = 0xcbf29ce484222325ull;
  for (int i = 0; i < 1500; i++) {
    if (p + i + 1 > end) break;
    h = (h ^ p[i]) * 0x100000001b3ull;
  }
  return (__u32)(h ^ (h >> 32));
}

BENCH_LICENSE;
