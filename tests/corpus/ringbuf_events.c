// Ring buffer events: one record reserved and submitted per IPv4 packet, plus a record copied
// with bpf_ringbuf_output; a discarded reservation must not appear.
#include "corpus_common.h"

struct event {
  __u32 kind;  // 1 = reserve/submit, 2 = output
  __u32 saddr;
  __u32 daddr;
  __u16 len;
  __u8 proto;
  __u8 ttl;
};

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} events SEC(".maps");

SEC("xdp")
int xdp_ringbuf(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip) return XDP_PASS;

  struct event* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) return XDP_ABORTED;
  e->kind = 1;
  e->saddr = ip->saddr;
  e->daddr = ip->daddr;
  e->len = data_end - data;
  e->proto = ip->protocol;
  e->ttl = ip->ttl;
  bpf_ringbuf_submit(e, 0);

  struct event* dropped = bpf_ringbuf_reserve(&events, sizeof(*dropped), 0);
  if (dropped) {
    dropped->kind = 99;
    bpf_ringbuf_discard(dropped, 0);
  }

  struct event copy = {.kind = 2, .saddr = ip->daddr, .daddr = ip->saddr, .len = 0,
                       .proto = ip->protocol, .ttl = 0};
  if (bpf_ringbuf_output(&events, &copy, sizeof(copy), 0) != 0) return XDP_ABORTED;
  return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
