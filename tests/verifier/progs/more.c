// Restricted C cases: context rules per program type, pointer leaks into the return value, packet
// loops and the packet metadata area.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_write_data_field(struct xdp_md *ctx) {
  ctx->data = 0;  // expect reject InvalidCtxAccess
  return XDP_PASS;
}

SEC("socket")
int socket_reads_len(struct __sk_buff *skb) {
  // expect accept
  return skb->len;
}

SEC("socket")
int socket_reads_data(struct __sk_buff *skb) {
  return skb->data != 0;  // expect reject InvalidCtxAccess
}

SEC("kprobe")
int kprobe_returns_ctx(void *ctx) {
  return (long)ctx;  // expect reject PointerLeak
}

SEC("xdp")
int packet_loop_checked(struct xdp_md *ctx) {
  // expect accept
  unsigned char *data = (void *)(long)ctx->data;
  unsigned char *end = (void *)(long)ctx->data_end;
  unsigned int sum = 0;
  for (int i = 0; i < 16; i++) {
    if (data + i + 1 > end) break;
    sum += data[i];
  }
  return sum & 3;
}

SEC("xdp")
int packet_loop_reads_one_past(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data;
  unsigned char *end = (void *)(long)ctx->data_end;
  unsigned int sum = 0;
  for (int i = 0; i < 16; i++) {
    if (data + i + 1 > end) break;
    sum += data[i + 1];  // expect reject OutOfBounds
  }
  return sum & 3;
}

SEC("xdp")
int meta_checked(struct xdp_md *ctx) {
  // expect accept
  unsigned int *meta = (void *)(long)ctx->data_meta;
  void *data = (void *)(long)ctx->data;
  if ((void *)(meta + 1) > data) return XDP_PASS;
  return *meta & 3;
}

SEC("xdp")
int meta_unchecked(struct xdp_md *ctx) {
  unsigned int *meta = (void *)(long)ctx->data_meta;
  return *meta & 3;  // expect reject OutOfBounds
}

char LICENSE[] SEC("license") = "GPL";
