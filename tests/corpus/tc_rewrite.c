// tc helpers that rewrite packets: bpf_skb_store_bytes to change the destination port,
// bpf_l4_csum_replace / bpf_l3_csum_replace to fix checksums, and bpf_skb_change_tail.
#include "corpus_common.h"

#define IP_OFF ETH_HLEN
#define UDP_OFF (ETH_HLEN + sizeof(struct iphdr))
#define UDP_CSUM_OFF (UDP_OFF + offsetof(struct udphdr, check))
#define UDP_DPORT_OFF (UDP_OFF + offsetof(struct udphdr, dest))
#define IP_CSUM_OFF (IP_OFF + offsetof(struct iphdr, check))
#define IP_DST_OFF (IP_OFF + offsetof(struct iphdr, daddr))

// Redirects UDP port 5353 to 53 and rewrites the destination address to 10.0.0.53.
SEC("tc")
int tc_nat_udp(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip || ip->protocol != IPPROTO_UDP) return TC_ACT_OK;
  struct udphdr* udp = (void*)(ip + 1);
  if ((void*)(udp + 1) > data_end) return TC_ACT_OK;
  if (udp->dest != bpf_htons(5353)) return TC_ACT_OK;
  __be16 old_port = udp->dest, new_port = bpf_htons(53);
  __be32 old_ip = ip->daddr, new_ip = bpf_htonl(0x0a000035);

  bpf_l4_csum_replace(skb, UDP_CSUM_OFF, old_port, new_port, sizeof(new_port));
  bpf_skb_store_bytes(skb, UDP_DPORT_OFF, &new_port, sizeof(new_port), 0);
  bpf_l4_csum_replace(skb, UDP_CSUM_OFF, old_ip, new_ip, BPF_F_PSEUDO_HDR | sizeof(new_ip));
  bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_ip, new_ip, sizeof(new_ip));
  bpf_skb_store_bytes(skb, IP_DST_OFF, &new_ip, sizeof(new_ip), 0);
  return TC_ACT_REDIRECT;
}

// Trims the packet to 60 bytes with bpf_skb_change_tail and returns the new length.
SEC("tc")
int tc_trim(struct __sk_buff* skb) {
  if (skb->len <= 60) return skb->len;
  if (bpf_skb_change_tail(skb, 60, 0)) return -1;
  return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
