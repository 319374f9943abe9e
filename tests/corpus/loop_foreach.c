// bpf_loop with a callback and context, and bpf_for_each_map_elem over an array and a hash map.
#include "corpus_common.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 8);
} values SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 32);
} weights SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 4);
} results SEC(".maps");

struct loop_ctx {
  __u64 sum;
  __u32 limit;
};

static long square_step(__u32 index, void* data) {
  struct loop_ctx* c = data;
  c->sum += (__u64)index * index;
  if (index + 1 >= c->limit) return 1;  // stop early
  return 0;
}

struct walk_ctx {
  __u64 total;
  __u32 visited;
  __u32 stop_after;
};

static long sum_elem(void* map, __u32* key, __u64* val, struct walk_ctx* c) {
  c->total += *val * (*key + 1);
  c->visited++;
  return 0;
}

static long sum_until(void* map, __u32* key, __u64* val, struct walk_ctx* c) {
  c->total += *val;
  c->visited++;
  return c->visited >= c->stop_after ? 1 : 0;
}

static __always_inline void store(__u32 slot, __u64 v) {
  bpf_map_update_elem(&results, &slot, &v, BPF_ANY);
}

SEC("xdp")
int xdp_loops(struct xdp_md* ctx) {
  struct loop_ctx lc = {.sum = 0, .limit = 10};
  long iters = bpf_loop(100, square_step, &lc, 0);
  store(0, lc.sum);
  store(1, iters);

  struct walk_ctx wa = {};
  long n = bpf_for_each_map_elem(&values, sum_elem, &wa, 0);
  store(2, wa.total + ((__u64)n << 32));

  struct walk_ctx wh = {.stop_after = 1000};
  long m = bpf_for_each_map_elem(&weights, sum_until, &wh, 0);
  store(3, wh.total + ((__u64)m << 32));
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
