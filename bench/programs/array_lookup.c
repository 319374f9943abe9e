/* Array-map lookups in a loop: each of the packet's first 256 bytes picks one of 256 counters of a
 * per-protocol table (filled by the harness), whose values are summed. */
#include "bench_prog.h"

BENCH_ARRAY_MAP(bench_array, __u32, __u64, 256);

BENCH_PROG(bench_array_lookup) {
  const __u8* p = PKT_START(ctx);
  const __u8* end = PKT_END(ctx);
  __u64 sum = 0;
  for (int i = 0; i < 256; i++) {
    if (p + i + 1 > end) break;
    __u32 key = p[i];
    __u64* v = bpf_map_lookup_elem(&bench_array, &key);
    if (v) sum += *v;
  }
  return (__u32)(sum ^ (sum >> 32));
}

BENCH_LICENSE;
