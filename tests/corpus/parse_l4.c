// Ethernet / IPv4 / TCP / UDP parser (with IPv4 options) that classifies by destination port
// and TCP flags and records the classification in a hash map keyed by destination port.
#include "corpus_common.h"

enum verdict { V_OTHER = 1, V_HTTP = 2, V_DNS = 3, V_TCP_SYN = 4, V_BAD = 5 };

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u16);
  __type(value, __u32);
  __uint(max_entries, 64);
} port_verdicts SEC(".maps");

SEC("xdp")
int xdp_parse_l4(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return V_BAD;
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return V_OTHER;
  struct iphdr* ip = (void*)(eth + 1);
  if ((void*)(ip + 1) > data_end) return V_BAD;
  __u32 hlen = ip->ihl * 4;
  if (hlen < sizeof(*ip) || hlen > 60) return V_BAD;
  if (ip->frag_off & bpf_htons(0x1fff)) return V_OTHER;  // non-first fragment
  void* l4 = (void*)ip + hlen;
  __u16 dport;
  __u32 v;
  if (ip->protocol == IPPROTO_TCP) {
    struct tcphdr* tcp = l4;
    if ((void*)(tcp + 1) > data_end) return V_BAD;
    dport = bpf_ntohs(tcp->dest);
    if (tcp->syn && !tcp->ack) v = V_TCP_SYN;
    else if (dport == 80 || dport == 8080) v = V_HTTP;
    else v = V_OTHER;
  } else if (ip->protocol == IPPROTO_UDP) {
    struct udphdr* udp = l4;
    if ((void*)(udp + 1) > data_end) return V_BAD;
    dport = bpf_ntohs(udp->dest);
    if (bpf_ntohs(udp->len) < sizeof(*udp)) return V_BAD;
    v = dport == 53 ? V_DNS : V_OTHER;
  } else {
    return V_OTHER;
  }
  bpf_map_update_elem(&port_verdicts, &dport, &v, BPF_ANY);
  return v;
}

char LICENSE[] SEC("license") = "GPL";
