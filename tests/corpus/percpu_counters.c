// Per-CPU packet and byte counters indexed by IP protocol class (0 other, 1 TCP, 2 UDP, 3 ICMP).
#include "corpus_common.h"

struct counters {
  __u64 packets;
  __u64 bytes;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, __u32);
  __type(value, struct counters);
  __uint(max_entries, 4);
} proto_stats SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  __u32 idx = 0;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (ip) {
    if (ip->protocol == IPPROTO_TCP) idx = 1;
    else if (ip->protocol == IPPROTO_UDP) idx = 2;
    else if (ip->protocol == IPPROTO_ICMP) idx = 3;
  }
  struct counters* c = bpf_map_lookup_elem(&proto_stats, &idx);
  if (!c) return XDP_ABORTED;
  c->packets += 1;  // per-CPU: no atomics needed
  c->bytes += data_end - data;
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
