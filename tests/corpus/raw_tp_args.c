// Raw tracepoint program run through BPF_PROG_TEST_RUN with ctx_in: the context is an array of
// u64 arguments. Sums the arguments into a map and returns the first one times two.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 1);
} arg_sum SEC(".maps");

SEC("raw_tp/sys_enter")
int raw_tp_sum(struct bpf_raw_tracepoint_args* ctx) {
  __u32 k = 0;
  __u64* s = bpf_map_lookup_elem(&arg_sum, &k);
  if (!s) return 0;
  *s += ctx->args[0] + ctx->args[1];
  return (int)(ctx->args[0] * 2);
}

char LICENSE[] SEC("license") = "GPL";
