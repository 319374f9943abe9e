// Restricted C cases: 32-bit arithmetic on the context's pointer fields (clang -mcpu=v3 computes
// u32 expressions with 32-bit instructions): the low half of a pointer is a truncated pointer,
// whose only uses are the distance between packet pointers and copies; anything else leaks
// address bits.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 1);
} bytes SEC(".maps");

SEC("xdp")
int packet_length_counted(struct xdp_md *ctx) {
  // expect accept
  __u32 len = ctx->data_end - ctx->data;
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&bytes, &k);
  if (v) __sync_fetch_and_add(v, len);
  return XDP_PASS;
}

SEC("xdp")
int packet_length_bounds_a_loop(struct xdp_md *ctx) {
  // expect accept
  __u32 len = ctx->data_end - ctx->data;
  __u32 sum = 0;
  for (__u32 i = 0; i < 16 && i < len; i++) sum += i;
  return sum & 3;
}

SEC("xdp")
int address_bits_into_a_map(struct xdp_md *ctx) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&bytes, &k);
  if (!v) return XDP_PASS;
  *v = ctx->data & 0xfff;  // expect reject BadPointerArithmetic
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
