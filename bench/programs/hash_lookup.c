/* Hash-map lookups in a loop: 128 flow keys taken from the payload (16-bit values, 1024 possible)
 * are looked up in a hash map holding 512 of them (filled by the harness); hits add their value. */
#include "bench_prog.h"

BENCH_HASH_MAP(bench_hash, __u32, __u64, 1024);

BENCH_PROG(bench_hash_lookup) {
  const __u8* p = PKT_START(ctx);
  const __u8* end = PKT_END(ctx);
  __u64 sum = 0;
  __u32 hits = 0;
  for (int i = 0; i < 128; i++) {
    if (p + 64 + 2 * i + 2 > end) break;
    __u32 key = *(const __u16*)(p + 64 + 2 * i) & 1023;
    __u64* v = bpf_map_lookup_elem(&bench_hash, &key);
    if (v) {
      sum += *v;
      hits++;
    }
  }
  return (__u32)(sum ^ (sum >> 32)) + (hits << 24);
}

BENCH_LICENSE;
