// Restricted C cases: context write rules, return values, helper memory sizes, loops, stack
// indexes, call chains and tail calls.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(key_size, 4);
  __uint(value_size, 4);
  __uint(max_entries, 4);
} jumps SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u32);
  __uint(max_entries, 4);
} plain SEC(".maps");

SEC("tc")
int tc_set_mark(struct __sk_buff *skb) {
  // expect accept
  skb->mark = 7;
  return 0;
}

SEC("tc")
int tc_set_len(struct __sk_buff *skb) {
  skb->len = 0;  // expect reject WriteToReadOnly
  return 0;
}

SEC("cgroup_skb/ingress")
int cgroup_allow_or_deny(struct __sk_buff *skb) {
  // expect accept
  return skb->len > 100 ? 0 : 1;
}

SEC("cgroup_skb/ingress")
int cgroup_returns_two(struct __sk_buff *skb) {
  return skb->len > 100 ? 2 : 1;  // expect reject BadReturnValue
}

SEC("kprobe")
int comm_fits(void *ctx) {
  // expect accept
  char buf[16];
  bpf_get_current_comm(buf, sizeof(buf));
  return buf[0];
}

SEC("kprobe")
int comm_buffer_too_small(void *ctx) {
  char buf[8];
  bpf_get_current_comm(buf, 16);  // expect reject OutOfBounds
  return buf[0];
}

SEC("xdp")
int loop_bounded(struct xdp_md *ctx) {
  // expect accept
  __u32 n = ctx->ingress_ifindex, s = 1;
  for (__u32 i = 0; i < n && i < 64; i++) s = s * 31 + i;
  return s & 3;
}

SEC("xdp")
int loop_unbounded(struct xdp_md *ctx) {
  // Collatz: nobody can bound it.
  __u32 x = ctx->ingress_ifindex;
  while (x > 1)
    x = (x & 1) ? 3 * x + 1 : x / 2;  // expect reject UnboundedLoop
  return x;
}

SEC("xdp")
int stack_index_bounded(struct xdp_md *ctx) {
  // expect accept
  volatile unsigned char buf[16] = {};
  __u32 i = ctx->rx_queue_index & 15;
  return buf[i];
}

SEC("xdp")
int stack_index_unbounded(struct xdp_md *ctx) {
  volatile unsigned char buf[16] = {};
  __u32 i = ctx->rx_queue_index;
  return buf[i];  // expect reject OutOfBounds
}

static __attribute__((noinline)) int leaf(int x) {
  volatile char pad[200] = {};
  pad[x & 127] = 1;
  return pad[3];
}

static __attribute__((noinline)) int middle(int x) {
  volatile char pad[200] = {};
  pad[x & 127] = 1;
  // The chain main -> middle -> leaf is too big: reported at the call that completes it.
  return leaf(pad[5]);  // expect reject StackSize (combined_stack_too_big)
}

SEC("xdp")
int combined_stack_too_big(struct xdp_md *ctx) {
  volatile char pad[200] = {};
  pad[ctx->rx_queue_index & 127] = 1;
  return middle(pad[1]);
}

SEC("xdp")
int combined_stack_fits(struct xdp_md *ctx) {
  // expect accept
  volatile char pad[64] = {};
  pad[ctx->rx_queue_index & 63] = 1;
  return middle(pad[1]);
}

SEC("xdp")
int tail_call_prog_array(struct xdp_md *ctx) {
  // expect accept
  bpf_tail_call(ctx, &jumps, ctx->rx_queue_index & 3);
  return XDP_PASS;
}

SEC("xdp")
int tail_call_plain_array(struct xdp_md *ctx) {
  bpf_tail_call(ctx, &plain, 0);  // expect reject BadHelperArg
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
