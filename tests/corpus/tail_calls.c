// Tail-call dispatch through a prog array initialised declaratively (.values): the dispatcher
// jumps to a per-protocol handler; a missing slot falls through to the dispatcher's default.
#include "corpus_common.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u32);
  __uint(max_entries, 4);
} handled_by SEC(".maps");

static __always_inline void mark(__u32 slot, __u32 value) {
  __u32* v = bpf_map_lookup_elem(&handled_by, &slot);
  if (v) *v = value;
}

SEC("xdp")
int handle_tcp(struct xdp_md* ctx) {
  mark(0, 6);
  return XDP_DROP;
}

SEC("xdp")
int handle_udp(struct xdp_md* ctx) {
  mark(0, 17);
  return XDP_TX;
}

int dispatch(struct xdp_md* ctx);

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 8);
  __type(key, __u32);
  __array(values, int(void*));
} jump_table SEC(".maps") = {
    .values = {[1] = (void*)&handle_tcp, [2] = (void*)&handle_udp},
};

SEC("xdp")
int dispatch(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip) return XDP_PASS;
  __u32 slot = 3;  // empty slot: the tail call fails and execution continues here
  if (ip->protocol == IPPROTO_TCP) slot = 1;
  else if (ip->protocol == IPPROTO_UDP) slot = 2;
  bpf_tail_call(ctx, &jump_table, slot);
  mark(1, 0xdead);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
