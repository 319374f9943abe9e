// A .text subprogram called by two programs, and two programs in one section.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __attribute__((noinline)) int leaf(int x) { return x * 3 + 1; }
__attribute__((noinline)) int helper_fn(int x) { return leaf(x) + leaf(x + 1); }

SEC("tc") int first(struct __sk_buff* skb) { return helper_fn(skb->len); }
SEC("tc") int second(struct __sk_buff* skb) { return helper_fn(skb->mark) + 2; }
SEC("kprobe/do_sys_open") int probe(void* ctx) { return leaf(5); }

char LICENSE[] SEC("license") = "GPL";
