// Map-in-map: an array of maps and a hash of maps whose inner maps are set declaratively.
// The program picks the inner map from packet data and bumps a counter in it.
#include "corpus_common.h"

struct inner_map {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 4);
};

struct inner_map tenant_a SEC(".maps");
struct inner_map tenant_b SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 4);
  __type(key, __u32);
  __array(values, struct inner_map);
} by_index SEC(".maps") = {
    .values = {[0] = &tenant_a, [2] = &tenant_b},
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, 8);
  __type(key, __u32);
  __array(values, struct inner_map);
} by_port SEC(".maps") = {
    .values = {[7] = &tenant_b},
};

SEC("xdp")
int xdp_tenants(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip) return XDP_PASS;
  __u32 outer = ip->tos & 3;  // tos selects the array slot
  __u32 slot = ip->ttl & 3;   // ttl selects the counter
  void* inner = bpf_map_lookup_elem(&by_index, &outer);
  if (!inner) return XDP_DROP;
  __u64* c = bpf_map_lookup_elem(inner, &slot);
  if (!c) return XDP_ABORTED;
  *c += 1;
  __u32 hkey = ip->id ? bpf_ntohs(ip->id) : 0;
  void* by_hash = bpf_map_lookup_elem(&by_port, &hkey);
  if (by_hash) {
    __u64* h = bpf_map_lookup_elem(by_hash, &slot);
    if (h) *h += 100;
    return XDP_TX;
  }
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
