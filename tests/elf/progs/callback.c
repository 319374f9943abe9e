// A bpf_loop callback: an lddw function reference (BPF_PSEUDO_FUNC) to a static function in .text.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static int step(__u32 index, void* ctx) {
  *(long*)ctx += index;
  return 0;
}

SEC("tp/syscalls/sys_enter_write") int looper(void* ctx) {
  long sum = 0;
  bpf_loop(10, step, &sum, 0);
  return sum;
}

char LICENSE[] SEC("license") = "GPL";
