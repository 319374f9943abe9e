// XDP firewall: drop IPv4 packets whose source address matches a prefix in an LPM trie.
// The trie value is the action (XDP_DROP or XDP_PASS); per-action counters live in an array.
#include "corpus_common.h"

struct lpm_key {
  __u32 prefixlen;
  __u32 addr;  // network byte order
};

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __type(key, struct lpm_key);
  __type(value, __u32);
  __uint(max_entries, 64);
  __uint(map_flags, BPF_F_NO_PREALLOC);
} blocklist SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 4);
} verdicts SEC(".maps");

SEC("xdp")
int xdp_firewall(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip) return XDP_PASS;
  struct lpm_key key = {.prefixlen = 32, .addr = ip->saddr};
  __u32 action = XDP_PASS;
  __u32* v = bpf_map_lookup_elem(&blocklist, &key);
  if (v) action = *v == XDP_DROP ? XDP_DROP : XDP_PASS;
  __u64* cnt = bpf_map_lookup_elem(&verdicts, &action);
  if (cnt) __sync_fetch_and_add(cnt, 1);
  return action;
}

char LICENSE[] SEC("license") = "GPL";
