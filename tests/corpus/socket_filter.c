// Socket filter on __sk_buff: keeps UDP packets to port 53 whole, truncates other IPv4 packets
// to 64 bytes and drops everything else. Reads len and protocol; loads bytes with
// bpf_skb_load_bytes (socket filters cannot read data/data_end directly). As on an IP socket
// (and in BPF_PROG_TEST_RUN), the skb starts at the network header: the Ethernet header has been
// pulled, so skb->len excludes it and offset 0 is the IPv4 header.
#include "corpus_common.h"

SEC("socket")
int sock_dns_filter(struct __sk_buff* skb) {
  if (skb->protocol != bpf_htons(ETH_P_IP)) return 0;
  struct iphdr ip;
  if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0) return 0;
  if (ip.protocol == IPPROTO_UDP) {
    struct udphdr udp;
    if (bpf_skb_load_bytes(skb, ip.ihl * 4, &udp, sizeof(udp)) < 0) return 0;
    if (udp.dest == bpf_htons(53)) return skb->len;
  }
  return skb->len < 64 ? skb->len : 64;
}

char LICENSE[] SEC("license") = "GPL";
