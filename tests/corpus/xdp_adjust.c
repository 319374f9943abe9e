// bpf_xdp_adjust_head and bpf_xdp_adjust_tail: strip an outer Ethernet+IPv4 (IPIP) header to
// decapsulate, and trim trailing padding to the IPv4 total length.
#include "corpus_common.h"

SEC("xdp")
int xdp_decap_ipip(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct iphdr* outer = parse_ipv4(data, data_end);
  if (!outer || outer->protocol != IPPROTO_IPIP) return XDP_PASS;
  struct ethhdr saved;
  __builtin_memcpy(&saved, data, sizeof(saved));
  if (bpf_xdp_adjust_head(ctx, (int)sizeof(struct iphdr))) return XDP_ABORTED;
  data = (void*)(long)ctx->data;
  data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return XDP_ABORTED;
  __builtin_memcpy(eth, &saved, sizeof(saved));
  return XDP_TX;
}

SEC("xdp")
int xdp_trim_padding(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip) return XDP_PASS;
  int frame = data_end - data;
  int want = sizeof(struct ethhdr) + bpf_ntohs(ip->tot_len);
  if (want >= frame) return XDP_PASS;
  if (bpf_xdp_adjust_tail(ctx, want - frame)) return XDP_ABORTED;
  return XDP_TX;
}

// Grows the packet by 4 bytes at the tail and writes a trailer.
SEC("xdp")
int xdp_add_trailer(struct xdp_md* ctx) {
  __u32 len = ctx->data_end - ctx->data;
  if (bpf_xdp_adjust_tail(ctx, 4)) return XDP_ABORTED;
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  if (len > 4096) return XDP_ABORTED;
  __u8* t = data + len;
  if ((void*)(t + 4) > data_end) return XDP_ABORTED;
  t[0] = 0xde;
  t[1] = 0xad;
  t[2] = 0xbe;
  t[3] = 0xef;
  return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
