// Helpers whose results vary between runs: ktime_get_ns, ktime_get_boot_ns, get_prandom_u32,
// get_smp_processor_id. Only properties are checked (monotonic clock, bounded values), and the
// return value is a bitmask of properties that held.
#include "corpus_common.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 4);
} samples SEC(".maps");

SEC("xdp")
int xdp_nondet(struct xdp_md* ctx) {
  __u32 ok = 0;
  __u64 t1 = bpf_ktime_get_ns();
  __u64 t2 = bpf_ktime_get_ns();
  if (t2 >= t1) ok |= 1;
  if (t1 > 0) ok |= 2;
  __u64 b = bpf_ktime_get_boot_ns();
  if (b >= t1) ok |= 4;  // boot clock includes suspend time: never behind the monotonic one
  __u32 r1 = bpf_get_prandom_u32();
  __u32 r2 = bpf_get_prandom_u32();
  __u32 r3 = bpf_get_prandom_u32();
  if (r1 != r2 || r2 != r3) ok |= 8;  // three equal 32-bit draws: 2^-64
  __u32 cpu = bpf_get_smp_processor_id();
  if (cpu < 4096) ok |= 16;
  __u32 k = 0;
  __u64 v = r1 % 100;
  bpf_map_update_elem(&samples, &k, &v, BPF_ANY);
  k = 1;
  v = t2 - t1;
  bpf_map_update_elem(&samples, &k, &v, BPF_ANY);
  return ok;
}

char LICENSE[] SEC("license") = "GPL";
