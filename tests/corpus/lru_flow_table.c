// Flow table in an LRU hash: each packet updates its 5-tuple entry; a second program floods
// the table with synthetic flows so older entries are evicted.
#include "corpus_common.h"

struct flow_key {
  __u32 saddr;
  __u32 daddr;
  __u16 sport;
  __u16 dport;
  __u8 proto;
  __u8 pad[3];
};

struct flow_stats {
  __u64 packets;
  __u64 bytes;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __type(key, struct flow_key);
  __type(value, struct flow_stats);
  __uint(max_entries, 16);
} flows SEC(".maps");

SEC("tc")
int tc_flow_track(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip) return TC_ACT_OK;
  struct flow_key key = {.saddr = ip->saddr, .daddr = ip->daddr, .proto = ip->protocol};
  if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
    struct udphdr* l4 = (void*)(ip + 1);  // ports sit at the same offsets in TCP and UDP
    if ((void*)(l4 + 1) > data_end) return TC_ACT_SHOT;
    key.sport = l4->source;
    key.dport = l4->dest;
  }
  struct flow_stats* st = bpf_map_lookup_elem(&flows, &key);
  if (st) {
    __sync_fetch_and_add(&st->packets, 1);
    __sync_fetch_and_add(&st->bytes, skb->len);
    return TC_ACT_OK;
  }
  struct flow_stats init = {.packets = 1, .bytes = skb->len};
  bpf_map_update_elem(&flows, &key, &init, BPF_NOEXIST);
  return TC_ACT_OK;
}

// Inserts 64 synthetic flows (saddr = 10.0.0.i) into a 16-entry LRU table; returns how many
// of the updates failed (expected 0: LRU evicts instead of failing).
SEC("tc")
int tc_flow_flood(struct __sk_buff* skb) {
  int failures = 0;
  for (__u32 i = 0; i < 64; i++) {
    struct flow_key key = {.saddr = bpf_htonl(0x0a000000 | i), .daddr = bpf_htonl(0x0a0000fe), .proto = 17};
    struct flow_stats init = {.packets = i, .bytes = 0};
    if (bpf_map_update_elem(&flows, &key, &init, BPF_ANY) != 0) failures++;
  }
  return failures;
}

char LICENSE[] SEC("license") = "GPL";
