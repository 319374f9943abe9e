// Restricted C cases: packet bounds (the classic missing and off-by-one checks).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int eth_proto_checked(struct xdp_md *ctx) {
  // expect accept
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) return XDP_DROP;
  return eth->h_proto == 0x0008 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int eth_proto_unchecked(struct xdp_md *ctx) {
  struct ethhdr *eth = (void *)(long)ctx->data;
  return eth->h_proto == 0x0008 ? XDP_PASS : XDP_DROP;  // expect reject OutOfBounds
}

SEC("xdp")
int header_off_by_one(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data;
  unsigned char *end = (void *)(long)ctx->data_end;
  if (data + 14 > end) return XDP_DROP;
  return data[14] == 6 ? XDP_PASS : XDP_DROP;  // expect reject OutOfBounds
}

SEC("xdp")
int variable_header_checked(struct xdp_md *ctx) {
  // expect accept
  unsigned char *data = (void *)(long)ctx->data;
  unsigned char *end = (void *)(long)ctx->data_end;
  if (data + 1 > end) return XDP_DROP;
  unsigned int ihl = (data[0] & 0xf) * 4;
  unsigned char *l4 = data + ihl;
  if (l4 + 2 > end) return XDP_DROP;
  return l4[1] == 0 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int variable_header_not_rechecked(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data;
  unsigned char *end = (void *)(long)ctx->data_end;
  if (data + 64 > end) return XDP_DROP;
  unsigned int ihl = (data[0] & 0xf) * 8;
  return data[ihl + 4] == 0 ? XDP_PASS : XDP_DROP;  // expect reject OutOfBounds
}

// A bounded variable offset inside the checked header keeps the proven range (Linux resets it).
SEC("xdp")
int variable_offset_inside_checked_header(struct xdp_md *ctx) {
  // expect accept
  unsigned char *data = (void *)(long)ctx->data;
  unsigned char *end = (void *)(long)ctx->data_end;
  if (data + 40 > end) return XDP_DROP;
  unsigned char *p = data + (data[0] & 15);
  return *(__u32 *)(p + 4) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int variable_offset_past_checked_header(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data;
  unsigned char *end = (void *)(long)ctx->data_end;
  if (data + 40 > end) return XDP_DROP;
  unsigned char *p = data + (data[0] & 63);
  return *(__u32 *)(p + 4) ? XDP_PASS : XDP_DROP;  // expect reject OutOfBounds
}

SEC("tc")
int tc_write_checked(struct __sk_buff *skb) {
  // expect accept
  unsigned char *data = (void *)(long)skb->data;
  unsigned char *end = (void *)(long)skb->data_end;
  if (data + 2 > end) return 0;
  data[1] = 0;
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
