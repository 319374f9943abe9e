// XDP ICMP echo responder: turns an echo request into a reply in place (swap MACs and IPs,
// set type 0, fix the ICMP checksum incrementally) and transmits it.
#include "corpus_common.h"

SEC("xdp")
int xdp_icmp_echo(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip || ip->protocol != IPPROTO_ICMP) return XDP_PASS;
  struct icmphdr* icmp = (void*)(ip + 1);
  if ((void*)(icmp + 1) > data_end) return XDP_PASS;
  if (icmp->type != ICMP_ECHO || icmp->code != 0) return XDP_PASS;

  __u8 mac[ETH_ALEN];
  __builtin_memcpy(mac, eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
  __be32 a = ip->saddr;
  ip->saddr = ip->daddr;
  ip->daddr = a;  // IP checksum is unchanged by swapping two words
  ip->ttl = 64;
  // ttl changed: recompute the header checksum from scratch (20 bytes, 10 words)
  ip->check = 0;
  __u32 sum = 0;
  __u16* w = (void*)ip;
#pragma unroll
  for (int i = 0; i < 10; i++) sum += w[i];
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  ip->check = ~sum;

  // type 8 -> 0 lowers the first 16-bit word by 0x0800 (network order): RFC 1624 update.
  __u32 c = (__u16)~icmp->checksum;
  c += (__u16)~bpf_htons(0x0800);
  c += bpf_htons(0x0000);
  c = (c & 0xffff) + (c >> 16);
  c = (c & 0xffff) + (c >> 16);
  icmp->type = ICMP_ECHOREPLY;
  icmp->checksum = ~c;
  return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
