// IPv6: decrement the hop limit, drop at zero, and report the next header; extension headers
// (hop-by-hop, routing, destination options) are skipped with a bounded loop.
#include "corpus_common.h"

struct ipv6_opt {
  __u8 nexthdr;
  __u8 hdrlen;  // in 8-octet units, not counting the first 8
};

SEC("xdp")
int xdp_ipv6(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return XDP_ABORTED;
  if (eth->h_proto != bpf_htons(ETH_P_IPV6)) return XDP_PASS;
  struct ipv6hdr* ip6 = (void*)(eth + 1);
  if ((void*)(ip6 + 1) > data_end) return XDP_ABORTED;
  if (ip6->hop_limit <= 1) return XDP_DROP;
  ip6->hop_limit--;
  __u8 next = ip6->nexthdr;
  void* cursor = ip6 + 1;
  for (int i = 0; i < 4; i++) {
    if (next != 0 && next != 43 && next != 60) break;
    struct ipv6_opt* opt = cursor;
    if ((void*)(opt + 1) > data_end) return XDP_ABORTED;
    next = opt->nexthdr;
    cursor += (opt->hdrlen + 1) * 8;
  }
  return 0x100 | next;  // not an XDP action: the test checks the raw return value
}

char LICENSE[] SEC("license") = "GPL";
