// Maps of kernel objects a user-space VM can name but not produce: cgroup_array (kernel/bpf/
// arraymap.c, cgroup_fd_array_get_ptr) and stack_trace (kernel/bpf/stackmap.c).
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>

#include "maps/map.h"

namespace bpfvm {

// cgroup_array: slots hold cgroups, given (update, BPF_ANY only) as file descriptors of cgroup v2
// directories; anything else is -EBADF, as cgroup_get_from_fd answers. The syscall side cannot read
// them back (-ENOTSUPP, the kernel-internal 524), programs only pass the map to
// bpf_skb_under_cgroup / bpf_current_task_under_cgroup.
class CgroupArrayMap : public Map {
 public:
  CgroupArrayMap(const MapDef& def, const MapOptions& opts);
  int update(const void* key, const void* value, uint64_t flags) override;  // value: the cgroup fd
  int remove(const void* key) override;
  int get_next_key(const void* key, void* next) override;
  int lookup_copy(const void* key, void* out) override { return -kENOTSUPP; }
  // bpf_current_task_under_cgroup (and bpf_skb_under_cgroup, whose test-run socket belongs to the
  // calling task's cgroup): -E2BIG past max_entries, -EAGAIN for an empty slot, else 1 when the
  // calling thread's cgroup (v2, /proc/thread-self/cgroup) is the slot's cgroup or below it, 0 if
  // not.
  int64_t current_task_under(uint32_t index) const;

 private:
  struct Cgroup {
    dev_t dev = 0;
    ino_t ino = 0;  // 0: empty slot
  };
  std::unique_ptr<Cgroup[]> slots_;
  mutable std::mutex mu_;
};

// stack_trace: stack ids to arrays of instruction pointers. bpfvm has no kernel or user stack to
// record, so bpf_get_stackid fails as the kernel's does when it cannot fetch one (-EFAULT) and the
// map stays empty: lookups are -ENOENT, get_next_key -ENOENT, delete -ENOENT (-E2BIG for ids past
// its roundup_pow_of_two(max_entries) buckets), update -EINVAL, as the kernel answers for an empty
// stack map.
class StackTraceMap : public Map {
 public:
  StackTraceMap(const MapDef& def, const MapOptions& opts);
  int update(const void* key, const void* value, uint64_t flags) override { return -EINVAL; }
  int remove(const void* key) override;
  int get_next_key(const void* key, void* next) override { return -ENOENT; }
  int lookup_copy(const void* key, void* out) override { return -ENOENT; }
  // bpf_get_stackid with these flags: -EINVAL for unknown flag bits, else -EFAULT.
  static int64_t get_stackid(uint64_t flags);

 private:
  uint64_t n_buckets_;
};

}  // namespace bpfvm
