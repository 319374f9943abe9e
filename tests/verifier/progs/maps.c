// Restricted C cases: map lookups (unchecked result, constant keys into arrays, unbounded index into
// a value, uninitialized key) and pointer leaks into maps.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct row {
  unsigned char b[16];
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 4);
} counts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, struct row);
  __uint(max_entries, 1);
} table SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 16);
} seen SEC(".maps");

SEC("xdp")
int lookup_checked(struct xdp_md *ctx) {
  // expect accept
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&counts, &k);
  if (!v) return XDP_PASS;
  *v += 1;
  return XDP_PASS;
}

SEC("xdp")
int lookup_unchecked(struct xdp_md *ctx) {
  __u32 k = ctx->rx_queue_index;
  __u64 *v = bpf_map_lookup_elem(&counts, &k);
  *v += 1;  // expect reject NullDeref
  return XDP_PASS;
}

// An array lookup with a constant key below max_entries always finds its element (Linux elides
// the null check too).
SEC("xdp")
int lookup_constant_key_in_array(struct xdp_md *ctx) {
  // expect accept
  __u32 k = 3;
  __u64 *v = bpf_map_lookup_elem(&counts, &k);
  *v += 1;
  return XDP_PASS;
}

SEC("xdp")
int lookup_zero_key_in_array(struct xdp_md *ctx) {
  // expect accept
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&counts, &k);
  *v += 1;
  return XDP_PASS;
}

SEC("xdp")
int lookup_constant_key_past_the_array(struct xdp_md *ctx) {
  __u32 k = 4;
  __u64 *v = bpf_map_lookup_elem(&counts, &k);
  *v += 1;  // expect reject NullDeref
  return XDP_PASS;
}

SEC("xdp")
int lookup_constant_key_in_hash(struct xdp_md *ctx) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&seen, &k);
  *v += 1;  // expect reject NullDeref
  return XDP_PASS;
}

SEC("xdp")
int value_index_bounded(struct xdp_md *ctx) {
  // expect accept
  __u32 k = 0;
  struct row *r = bpf_map_lookup_elem(&table, &k);
  if (!r) return XDP_PASS;
  __u32 i = ctx->ingress_ifindex;
  if (i >= 16) return XDP_PASS;
  return r->b[i];
}

SEC("xdp")
int value_index_unbounded(struct xdp_md *ctx) {
  __u32 k = 0;
  struct row *r = bpf_map_lookup_elem(&table, &k);
  if (!r) return XDP_PASS;
  __u32 i = ctx->ingress_ifindex;
  return r->b[i];  // expect reject OutOfBounds
}

SEC("xdp")
int value_index_off_by_one(struct xdp_md *ctx) {
  __u32 k = 0;
  struct row *r = bpf_map_lookup_elem(&table, &k);
  if (!r) return XDP_PASS;
  __u32 i = ctx->ingress_ifindex;
  if (i > 16) return XDP_PASS;
  return r->b[i];  // expect reject OutOfBounds
}

SEC("kprobe")
int key_uninitialized(void *ctx) {
  __u32 k;
  __u64 *v = bpf_map_lookup_elem(&counts, &k);  // expect reject UninitStack
  return v ? 1 : 0;
}

SEC("xdp")
int ctx_pointer_into_map(struct xdp_md *ctx) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&counts, &k);
  if (!v) return XDP_PASS;
  *v = (__u64)(long)ctx;  // expect reject PointerLeak
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
