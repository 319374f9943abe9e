// Decrements the IPv4 TTL and fixes the header checksum incrementally with bpf_csum_diff;
// a second program recomputes the full header checksum with bpf_csum_diff over the header.
#include "corpus_common.h"

static __always_inline __u16 csum_fold(__u64 csum) {
  csum = (csum & 0xffff) + (csum >> 16);
  csum = (csum & 0xffff) + (csum >> 16);
  csum = (csum & 0xffff) + (csum >> 16);
  return ~csum;
}

SEC("xdp")
int xdp_ttl_dec(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip) return XDP_PASS;
  if (ip->ttl <= 1) return XDP_DROP;
  __u32 old_word = *(__u32*)&ip->ttl;  // ttl, protocol, check
  ip->ttl--;
  __u32 new_word = *(__u32*)&ip->ttl;
  __s64 diff = bpf_csum_diff(&old_word, 4, &new_word, 4, ~((__u32)ip->check) & 0xffff);
  if (diff < 0) return XDP_ABORTED;
  // The check field is part of the words compared above; it is unchanged there, so fold now.
  ip->check = csum_fold(diff);
  return XDP_TX;
}

SEC("xdp")
int xdp_csum_full(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip) return XDP_PASS;
  ip->check = 0;
  __s64 sum = bpf_csum_diff(0, 0, (__be32*)ip, sizeof(*ip), 0);
  if (sum < 0) return XDP_ABORTED;
  ip->check = csum_fold(sum);
  return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
