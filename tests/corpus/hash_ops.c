// Hash map update/lookup/delete sequences with BPF_NOEXIST / BPF_EXIST / BPF_ANY, checking the
// helpers' return codes; the return value is a bitmask of the checks that held.
#include "corpus_common.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 4);
} kv SEC(".maps");

SEC("xdp")
int xdp_hash_ops(struct xdp_md* ctx) {
  __u32 ok = 0;
  __u32 k1 = 1, k2 = 2, k3 = 3, k4 = 4, k5 = 5, k9 = 9;
  __u64 v = 100;
  if (bpf_map_update_elem(&kv, &k1, &v, BPF_NOEXIST) == 0) ok |= 1 << 0;
  if (bpf_map_update_elem(&kv, &k1, &v, BPF_NOEXIST) == -17) ok |= 1 << 1;  // -EEXIST
  if (bpf_map_update_elem(&kv, &k2, &v, BPF_EXIST) == -2) ok |= 1 << 2;     // -ENOENT
  v = 200;
  if (bpf_map_update_elem(&kv, &k1, &v, BPF_EXIST) == 0) ok |= 1 << 3;
  __u64* p = bpf_map_lookup_elem(&kv, &k1);
  if (p && *p == 200) ok |= 1 << 4;
  if (bpf_map_lookup_elem(&kv, &k9) == 0) ok |= 1 << 5;
  if (bpf_map_delete_elem(&kv, &k9) == -2) ok |= 1 << 6;
  v = 2;
  bpf_map_update_elem(&kv, &k2, &v, BPF_ANY);
  v = 3;
  bpf_map_update_elem(&kv, &k3, &v, BPF_ANY);
  v = 4;
  bpf_map_update_elem(&kv, &k4, &v, BPF_ANY);
  if (bpf_map_update_elem(&kv, &k5, &v, BPF_ANY) == -7) ok |= 1 << 7;  // -E2BIG: map full
  if (bpf_map_delete_elem(&kv, &k3) == 0) ok |= 1 << 8;
  if (bpf_map_update_elem(&kv, &k5, &v, BPF_NOEXIST) == 0) ok |= 1 << 9;
  if (bpf_map_lookup_elem(&kv, &k3) == 0) ok |= 1 << 10;
  p = bpf_map_lookup_elem(&kv, &k5);
  if (p) {
    *p += 1;  // in-place update through the value pointer
    ok |= 1 << 11;
  }
  return ok;
}

char LICENSE[] SEC("license") = "GPL";
