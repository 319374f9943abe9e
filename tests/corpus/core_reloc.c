// CO-RE: field accesses through local struct flavours ("___local") marked with
// preserve_access_index, relocated by libbpf against the kernel's BTF (struct __sk_buff, struct
// iphdr), plus field-existence, field-size and type-existence relocations.
#include "corpus_common.h"
#include <bpf/bpf_core_read.h>

// Deliberately different layout from the kernel's: libbpf must relocate the offsets.
struct __sk_buff___local {
  __u32 mark;
  __u32 priority;
  __u32 len;
  __u32 protocol;
  __u32 missing_field_xyz;  // does not exist in the kernel
} __attribute__((preserve_access_index));

struct iphdr___local {
  __be32 daddr;
  __be32 saddr;
  __u8 ttl;
  __u8 protocol;
} __attribute__((preserve_access_index));

struct no_such_type___xyz {
  int a;
} __attribute__((preserve_access_index));

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 8);
} out SEC(".maps");

static __always_inline void put(__u32 k, __u64 v) { bpf_map_update_elem(&out, &k, &v, BPF_ANY); }

SEC("tc")
int tc_core(struct __sk_buff* skb) {
  struct __sk_buff___local* s = (void*)skb;
  put(0, s->len);
  put(1, s->mark);
  put(2, s->priority);
  put(3, bpf_core_field_exists(s->missing_field_xyz) ? 1 : 0);
  put(4, bpf_core_field_exists(s->protocol) ? bpf_core_field_size(s->protocol) : 0);
  put(5, bpf_core_type_exists(struct no_such_type___xyz) + 2 * bpf_core_type_exists(struct iphdr___local));

  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  if (data + sizeof(struct ethhdr) + sizeof(struct iphdr) > data_end) return TC_ACT_SHOT;
  struct iphdr___local* ip = data + sizeof(struct ethhdr);
  put(6, ((__u64)bpf_ntohl(ip->saddr) << 32) | bpf_ntohl(ip->daddr));
  put(7, ip->ttl * 1000 + ip->protocol);
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
