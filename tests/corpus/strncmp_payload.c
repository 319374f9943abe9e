// bpf_strncmp: copies the UDP payload into a map value and compares it with constant strings
// ("GET ", "PING"); the result class is counted in an array.
#include "corpus_common.h"

struct scratch {
  char buf[16];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, __u32);
  __type(value, struct scratch);
  __uint(max_entries, 1);
} scratch_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __s64);
  __uint(max_entries, 4);
} cmp_results SEC(".maps");

SEC("xdp")
int xdp_match_payload(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip || ip->protocol != IPPROTO_UDP) return XDP_PASS;
  struct udphdr* udp = (void*)(ip + 1);
  char* payload = (void*)(udp + 1);
  if ((void*)(payload + 8) > data_end) return XDP_PASS;
  __u32 zero = 0;
  struct scratch* s = bpf_map_lookup_elem(&scratch_map, &zero);
  if (!s) return XDP_ABORTED;
  __builtin_memset(s->buf, 0, sizeof(s->buf));
  __builtin_memcpy(s->buf, payload, 8);

  __s64 r_get = bpf_strncmp(s->buf, 4, "GET ");
  __s64 r_ping = bpf_strncmp(s->buf, 8, "PING");
  __u32 k0 = 0, k1 = 1;
  bpf_map_update_elem(&cmp_results, &k0, &r_get, BPF_ANY);
  bpf_map_update_elem(&cmp_results, &k1, &r_ping, BPF_ANY);
  if (r_get == 0) return XDP_TX;
  if (r_ping == 0) return XDP_DROP;
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
