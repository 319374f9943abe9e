// bpf_spin_lock in a map value: a locked read-modify-write of a two-field account in an array
// and in a hash map entry created on demand.
#include "corpus_common.h"

struct account {
  struct bpf_spin_lock lock;
  __u32 pad;
  __u64 balance;
  __u64 ops;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, struct account);
  __uint(max_entries, 2);
} accounts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u32);
  __type(value, struct account);
  __uint(max_entries, 8);
} by_src SEC(".maps");

SEC("tc")
int tc_locked_add(struct __sk_buff* skb) {
  __u32 k = skb->mark & 1;
  struct account* a = bpf_map_lookup_elem(&accounts, &k);
  if (!a) return TC_ACT_SHOT;
  bpf_spin_lock(&a->lock);
  a->balance += skb->len;
  a->ops++;
  __u64 now = a->balance;
  bpf_spin_unlock(&a->lock);

  __u32 hk = skb->priority;
  struct account* h = bpf_map_lookup_elem(&by_src, &hk);
  if (!h) {
    struct account fresh = {};
    bpf_map_update_elem(&by_src, &hk, &fresh, BPF_NOEXIST);
    h = bpf_map_lookup_elem(&by_src, &hk);
    if (!h) return TC_ACT_SHOT;
  }
  bpf_spin_lock(&h->lock);
  h->balance += 1;
  h->ops += 2;
  bpf_spin_unlock(&h->lock);
  return now > 1000 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
