// Queue and stack maps: push three values into each, pop one from each, peek the next.
// The result packs the popped and peeked values; what remains is checked from user space.
#include "corpus_common.h"

struct {
  __uint(type, BPF_MAP_TYPE_QUEUE);
  __uint(max_entries, 8);
  __type(value, __u32);
} fifo SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_STACK);
  __uint(max_entries, 8);
  __type(value, __u32);
} lifo SEC(".maps");

SEC("xdp")
int xdp_queue_stack(struct xdp_md* ctx) {
  for (__u32 i = 1; i <= 3; i++) {
    __u32 v = i * 11;
    if (bpf_map_push_elem(&fifo, &v, 0)) return 1000;
    if (bpf_map_push_elem(&lifo, &v, 0)) return 2000;
  }
  __u32 q = 0, s = 0, qp = 0, sp = 0;
  if (bpf_map_pop_elem(&fifo, &q)) return 3000;
  if (bpf_map_pop_elem(&lifo, &s)) return 4000;
  if (bpf_map_peek_elem(&fifo, &qp)) return 5000;
  if (bpf_map_peek_elem(&lifo, &sp)) return 6000;
  return q + s * 100 + qp * 10000 + sp * 1000000;
}

// Pops everything from the queue (which the spec pre-fills) and returns the count, or
// 0xffffffff if more than 8 elements came out.
SEC("xdp")
int xdp_drain_queue(struct xdp_md* ctx) {
  __u32 n = 0, v, sum = 0;
  for (int i = 0; i < 9; i++) {
    if (bpf_map_pop_elem(&fifo, &v)) return n | (sum << 8);
    n++;
    sum += v;
  }
  return 0xffffffff;
}

char LICENSE[] SEC("license") = "GPL";
