// CO-RE: field offsets, existence and sizes resolved against a target BTF (core_target.c).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task {
  int pid;
  int tgid;
  long missing_field;
} __attribute__((preserve_access_index));

SEC("raw_tp/sched_switch") int core_prog(struct task* t) {
  int tgid = BPF_CORE_READ(t, tgid);
  if (bpf_core_field_exists(t->missing_field)) tgid += 1000;
  return tgid + bpf_core_field_size(t->pid);
}

char LICENSE[] SEC("license") = "GPL";
