// Array map edge cases: lookups past max_entries return NULL, delete is refused (-EINVAL),
// BPF_NOEXIST update is refused (-EEXIST), and values are zero-initialised.
#include "corpus_common.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u32);
  __uint(max_entries, 3);
} arr SEC(".maps");

SEC("xdp")
int xdp_array_bounds(struct xdp_md* ctx) {
  __u32 ok = 0;
  __u32 k0 = 0, k2 = 2, k3 = 3, big = 0xffffffff;
  __u32* p = bpf_map_lookup_elem(&arr, &k0);
  if (p && *p == 0) ok |= 1;
  if (!bpf_map_lookup_elem(&arr, &k3)) ok |= 2;
  if (!bpf_map_lookup_elem(&arr, &big)) ok |= 4;
  if (bpf_map_delete_elem(&arr, &k0) == -22) ok |= 8;
  __u32 v = 7;
  if (bpf_map_update_elem(&arr, &k0, &v, BPF_NOEXIST) == -17) ok |= 16;
  if (bpf_map_update_elem(&arr, &k3, &v, BPF_ANY) == -7) ok |= 32;  // -E2BIG
  if (bpf_map_update_elem(&arr, &k2, &v, BPF_EXIST) == 0) ok |= 64;
  p = bpf_map_lookup_elem(&arr, &k2);
  if (p && *p == 7) ok |= 128;
  return ok;
}

char LICENSE[] SEC("license") = "GPL";
