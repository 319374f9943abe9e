// 802.1Q / 802.1ad VLAN parsing with a bounded loop over up to three tags; returns the inner
// VLAN id (or 0) and counts packets per VLAN id in a hash map.
#include "corpus_common.h"

struct vlan_hdr {
  __be16 tci;
  __be16 encap_proto;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u16);
  __type(value, __u32);
  __uint(max_entries, 32);
} per_vlan SEC(".maps");

SEC("xdp")
int xdp_vlan(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return 0;
  __be16 proto = eth->h_proto;
  void* cursor = eth + 1;
  __u16 vid = 0;
#pragma unroll
  for (int i = 0; i < 3; i++) {
    if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD)) break;
    struct vlan_hdr* vh = cursor;
    if ((void*)(vh + 1) > data_end) return 0;
    vid = bpf_ntohs(vh->tci) & 0x0fff;
    proto = vh->encap_proto;
    cursor = vh + 1;
  }
  __u32* c = bpf_map_lookup_elem(&per_vlan, &vid);
  if (c) {
    __sync_fetch_and_add(c, 1);
  } else {
    __u32 one = 1;
    bpf_map_update_elem(&per_vlan, &vid, &one, BPF_ANY);
  }
  return vid | ((__u32)bpf_ntohs(proto) << 16);
}

char LICENSE[] SEC("license") = "GPL";
