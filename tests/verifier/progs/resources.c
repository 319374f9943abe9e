// Restricted C cases: resources released on every path (ringbuf reservations, spin locks).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} events SEC(".maps");

struct locked {
  struct bpf_spin_lock lock;
  __u64 n;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, struct locked);
  __uint(max_entries, 1);
} state SEC(".maps");

SEC("kprobe")
int ringbuf_submitted(void *ctx) {
  // expect accept
  __u64 *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) return 0;
  *e = bpf_get_prandom_u32();
  bpf_ringbuf_submit(e, 0);
  return 0;
}

SEC("kprobe")
int ringbuf_leaked_on_error_path(void *ctx) {
  __u64 *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) return 0;
  *e = bpf_get_prandom_u32();
  if (*e & 1) return 1;
  bpf_ringbuf_submit(e, 0);
  return 0;
}  // expect reject UnreleasedResource

SEC("kprobe")
int ringbuf_record_overrun(void *ctx) {
  __u32 *e = bpf_ringbuf_reserve(&events, 8, 0);
  if (!e) return 0;
  e[2] = 1;  // expect reject OutOfBounds
  bpf_ringbuf_discard(e, 0);
  return 0;
}

SEC("tc")
int spin_lock_released(struct __sk_buff *skb) {
  // expect accept
  __u32 k = 0;
  struct locked *v = bpf_map_lookup_elem(&state, &k);
  if (!v) return 0;
  bpf_spin_lock(&v->lock);
  v->n++;
  bpf_spin_unlock(&v->lock);
  return 0;
}

SEC("tc")
int spin_lock_kept_on_early_return(struct __sk_buff *skb) {
  __u32 k = 0;
  struct locked *v = bpf_map_lookup_elem(&state, &k);
  if (!v) return 0;
  bpf_spin_lock(&v->lock);
  if (v->n > 100) return 1;
  v->n++;
  bpf_spin_unlock(&v->lock);
  return 0;
}  // expect reject UnreleasedResource

char LICENSE[] SEC("license") = "GPL";
