// BTF-defined maps: hash, array, a map-in-map and a prog array with initial `.values`.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 128);
} counts SEC(".maps");

struct inner {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u32);
  __uint(max_entries, 4);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 2);
  __type(key, __u32);
  __array(values, struct inner);
} outer SEC(".maps") = {
    .values = {[0] = &inner_a, [1] = &inner_b},
};

SEC("xdp") int tail_a(struct xdp_md* ctx) { return XDP_PASS; }
SEC("xdp") int tail_b(struct xdp_md* ctx) { return XDP_DROP; }

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 3);
  __type(key, __u32);
  __array(values, int(void*));
} jumps SEC(".maps") = {
    .values = {[0] = (void*)&tail_a, [2] = (void*)&tail_b},
};

SEC("xdp") int entry(struct xdp_md* ctx) {
  __u32 k = 1;
  __u64* v = bpf_map_lookup_elem(&counts, &k);
  if (v) *v += 1;
  void* in = bpf_map_lookup_elem(&outer, &k);
  if (in) bpf_map_lookup_elem(in, &k);
  bpf_tail_call(ctx, &jumps, 0);
  return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
