// Per-CPU hash and LRU per-CPU hash: per-source-address packet counters.
#include "corpus_common.h"

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 16);
} src_packets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 16);
} dst_bytes SEC(".maps");

SEC("xdp")
int xdp_percpu_hash(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip) return XDP_PASS;
  __u32 s = bpf_ntohl(ip->saddr), d = bpf_ntohl(ip->daddr);
  __u64* c = bpf_map_lookup_elem(&src_packets, &s);
  if (c) {
    *c += 1;
  } else {
    __u64 one = 1;
    bpf_map_update_elem(&src_packets, &s, &one, BPF_NOEXIST);
  }
  __u64 len = data_end - data;
  __u64* b = bpf_map_lookup_elem(&dst_bytes, &d);
  if (b) *b += len;
  else bpf_map_update_elem(&dst_bytes, &d, &len, BPF_NOEXIST);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
