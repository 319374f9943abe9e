// Global data: a configuration in .rodata (const volatile), counters in .data, an accumulator in
// .bss, and a static array in .data read with a bounded index.
#include "corpus_common.h"

const volatile __u32 cfg_multiplier = 3;
const volatile __u8 cfg_drop_ttl = 1;
__u64 packets_seen = 100;  // .data: starts at 100
__u32 table[4] = {10, 20, 30, 40};
__u64 ttl_sum;  // .bss
__u32 last_len;

SEC("xdp")
int xdp_globals(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  packets_seen++;
  last_len = (data_end - data) * cfg_multiplier;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip) return XDP_PASS;
  ttl_sum += ip->ttl;
  if (ip->ttl <= cfg_drop_ttl) return XDP_DROP;
  return table[ip->tos & 3];
}

char LICENSE[] SEC("license") = "GPL";
