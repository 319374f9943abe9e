// The targets of bpf_redirect_map: devmap and devmap_hash (kernel/bpf/devmap.c), cpumap
// (kernel/bpf/cpumap.c) and xskmap (net/xdp/xskmap.c), with the kernel's checks, errno values and
// iteration order.
//
// A user-space VM has no network devices, CPU kthreads or AF_XDP rings to redirect frames to, so the
// maps hold what the kernel records and no frame goes anywhere: bpf_redirect_map returns what the
// kernel's returns (XDP_REDIRECT when the entry exists, else the action in the low bits of its
// flags; BPF_PROG_TEST_RUN reports that verdict too, without sending the frame). What each entry must
// name is checked against the host, as the kernel checks it for the calling process:
//  - devmap entries are struct bpf_devmap_val {u32 ifindex; u32 prog fd/id} (value_size 4 or 8): the
//    ifindex must name a network interface of the host (if_indextoname), else -EINVAL; ifindex 0
//    clears a devmap slot.
//  - cpumap entries are struct bpf_cpumap_val {u32 qsize; u32 prog fd/id}: the key must be a
//    possible CPU (below MapOptions::num_cpus, else -ENODEV), qsize at most 16384 (-EOVERFLOW);
//    qsize 0 clears the slot.
//  - xskmap values are file descriptors of AF_XDP sockets (-EBADF, -ENOTSOCK, -EOPNOTSUPP for
//    anything else); the map keeps a duplicate of the descriptor, as the kernel keeps a reference.
// Programs attached to devmap or cpumap entries (bpf_prog.fd > 0) are refused with the errno the
// kernel gives for an invalid one (-EINVAL for devmap, -ENOMEM for cpumap): bpfvm runs no program
// on redirected frames. Lookups read back what was stored, with a program id of 0.
//
// Programs may look up devmap and devmap_hash entries (read-only: the map's definition gets
// BPF_F_RDONLY_PROG, as the kernel sets it) and no other kind; the syscall side of an xskmap has no
// lookup (-EOPNOTSUPP).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "maps/map.h"

namespace bpfvm {

// struct bpf_devmap_val / bpf_cpumap_val: {u32 ifindex or qsize; u32 program fd (in) / id (out)}.
// A slot is one 8-byte word (0: empty), so that programs and lookups never see half an update.
class RedirectArrayMap : public Map {
 public:
  RedirectArrayMap(const MapDef& def, const MapOptions& opts);
  ~RedirectArrayMap() override;
  void* lookup(const void* key) override;  // nullptr when empty or out of range
  int update(const void* key, const void* value, uint64_t flags) override;
  int remove(const void* key) override;
  int get_next_key(const void* key, void* next) override;
  int lookup_copy(const void* key, void* out) override;
  uint64_t value_bytes_from(const void* p) const override;
  // bpf_redirect_map's lookup: whether slot `index` holds a target.
  bool has_target(uint32_t index) const;

 private:
  std::unique_ptr<uint64_t[]> slots_;  // devmap/cpumap: the value; xskmap: the duplicated fd + 1
  std::mutex mu_;                      // xskmap: serialises replacing descriptors
};

// devmap_hash: entries hashed by key into roundup_pow_of_two(max_entries) buckets (bucket = key &
// (n - 1), the newest entry first), as the kernel chains them, so get_next_key walks the keys in
// the kernel's order.
class DevmapHashMap : public Map {
 public:
  DevmapHashMap(const MapDef& def, const MapOptions& opts);
  void* lookup(const void* key) override;
  int update(const void* key, const void* value, uint64_t flags) override;
  int remove(const void* key) override;
  int get_next_key(const void* key, void* next) override;
  uint64_t value_bytes_from(const void* p) const override;
  bool has_target(uint32_t key) const;

 private:
  struct Slot {
    uint32_t key = 0;
    uint64_t value = 0;  // what lookup() points to
  };
  int find(uint32_t key) const;  // slot index or -1; mu_ held
  mutable std::mutex mu_;
  uint32_t mask_;
  std::vector<std::vector<uint32_t>> buckets_;  // slot indexes, the newest first
  std::unique_ptr<Slot[]> slots_;
  std::vector<uint32_t> free_;
};

// Whether `m` (a devmap, devmap_hash, cpumap or xskmap) holds a redirect target at `key`.
bool redirect_target_exists(const Map& m, uint32_t key);

}  // namespace bpfvm
