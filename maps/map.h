// User-space BPF maps with the kernel's semantics (include/linux/bpf.h, kernel/bpf/*map*.c).
//
// Every map is a `Map`. Its operations return what the kernel returns: a pointer (or nullptr) for
// lookup, and 0 or a negative errno for everything else. The program side (what helpers call:
// lookup/update/remove/push/pop/peek) and the syscall side (what an embedder calls:
// lookup_copy/update_copy, which see every CPU's value of a per-CPU map) are separate entry points,
// as in the kernel.
//
// Concurrency: every operation may be called from any number of threads at once. Pointers returned
// by lookup() point into stable storage owned by the map: they stay dereferenceable until the map is
// destroyed (the element they belong to may be deleted and its slot reused, as with the kernel's
// preallocated maps). Programs write through them without locks; use __atomic builtins for shared
// counters, as BPF programs use atomic instructions.
//
// bpf_spin_lock (BPF_F_LOCK) is later work: until values can carry a lock, every update with
// BPF_F_LOCK fails with -EINVAL, as the kernel does for a value without a bpf_spin_lock field.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>

#include "vm/map_def.h"
#include "vm/map_lookup.h"

namespace bpfvm {

// Update flags (enum in linux/bpf.h).
constexpr uint64_t kBpfAny = 0;
constexpr uint64_t kBpfNoExist = 1;
constexpr uint64_t kBpfExist = 2;
constexpr uint64_t kBpfFLock = 4;

// Map creation flags (MapDef::map_flags).
constexpr uint32_t kBpfFNoPrealloc = 1u << 0;
constexpr uint32_t kBpfFNoCommonLru = 1u << 1;
constexpr uint32_t kBpfFNumaNode = 1u << 2;
constexpr uint32_t kBpfFRdonly = 1u << 3;
constexpr uint32_t kBpfFWronly = 1u << 4;
constexpr uint32_t kBpfFZeroSeed = 1u << 6;
constexpr uint32_t kBpfFRdonlyProg = 1u << 7;
constexpr uint32_t kBpfFWronlyProg = 1u << 8;
constexpr uint32_t kBpfFMmapable = 1u << 10;
constexpr uint32_t kBpfFPreserveElems = 1u << 11;
constexpr uint32_t kBpfFInnerMap = 1u << 12;
constexpr uint32_t kBpfFAccessMask = kBpfFRdonly | kBpfFWronly | kBpfFRdonlyProg | kBpfFWronlyProg;

// bpf_perf_event_output flags.
constexpr uint64_t kBpfFIndexMask = 0xffffffffULL;
constexpr uint64_t kBpfFCurrentCpu = kBpfFIndexMask;

// Ring buffer: submit/discard/output flags, query selectors, record header.
constexpr uint64_t kBpfRbNoWakeup = 1;
constexpr uint64_t kBpfRbForceWakeup = 2;
constexpr uint64_t kBpfRbAvailData = 0;
constexpr uint64_t kBpfRbRingSize = 1;
constexpr uint64_t kBpfRbConsPos = 2;
constexpr uint64_t kBpfRbProdPos = 3;
constexpr uint32_t kRingbufBusyBit = 1u << 31;
constexpr uint32_t kRingbufDiscardBit = 1u << 30;
constexpr uint32_t kRingbufHdrSize = 8;

// The kernel-internal ENOTSUPP (524), which the kernel returns for operations a map type lacks.
constexpr int kENOTSUPP = 524;

// The simulated CPU of the calling thread (thread-local, 0 by default). The runtime sets it before
// running a program; per-CPU maps use current_cpu() % num_cpus.
void set_current_cpu(uint32_t cpu);
uint32_t current_cpu();

// Sets the current CPU for a scope and restores the previous one.
class ScopedCpu {
 public:
  explicit ScopedCpu(uint32_t cpu) : prev_(current_cpu()) { set_current_cpu(cpu); }
  ~ScopedCpu() { set_current_cpu(prev_); }
  ScopedCpu(const ScopedCpu&) = delete;
  ScopedCpu& operator=(const ScopedCpu&) = delete;

 private:
  uint32_t prev_;
};

struct MapOptions {
  uint32_t num_cpus = 4;                   // simulated CPUs (per-CPU maps, perf_event_array)
  uint64_t memory_cap = 1ULL << 30;        // bytes, for all the maps of one MapSet together
  uint32_t perf_buffer_bytes = 64 * 1024;  // data bytes of each simulated perf buffer (per CPU)
};

constexpr uint32_t round_up8(uint32_t n) {
  return (n + 7u) & ~7u;
}

class Map {
 public:
  virtual ~Map() = default;
  Map(const Map&) = delete;
  Map& operator=(const Map&) = delete;

  const MapDef& def() const { return def_; }
  MapType type() const { return def_.type; }
  const std::string& name() const { return def_.name; }
  uint32_t num_cpus() const { return num_cpus_; }
  // Bytes charged against MapOptions::memory_cap for this map.
  uint64_t memory_bytes() const { return memory_bytes_; }
  // Id given by the MapSet that created the map (1, 2, ...); 0 for maps made by create_map().
  uint32_t id() const { return id_; }
  bool is_percpu() const;

  // ---- Program side (helpers) ----
  // bpf_map_lookup_elem: pointer to the value (of the current CPU for per-CPU maps), or nullptr.
  // Maps of maps return the inner Map*. prog_array, perf_event_array, ringbuf, queue, stack and
  // bloom_filter return nullptr (the verifier forbids these lookups).
  virtual void* lookup(const void* key) { return nullptr; }
  // How compiled code of a verified program may do lookup() without the helper call
  // (vm/map_lookup.h): inline for plain arrays, a direct call for plain hash maps; the helper
  // (Kind::Helper) for the others (per-CPU maps depend on the run's CPU, LRU lookups update the LRU
  // list, maps of maps and the map types without lookup go through the helper's checks).
  virtual MapLookupPlan lookup_plan() { return {}; }
  // bpf_map_update_elem. Per-CPU maps: sets the current CPU's value only (a new element gets zeros
  // on the other CPUs).
  virtual int update(const void* key, const void* value, uint64_t flags) { return -kENOTSUPP; }
  // bpf_map_delete_elem.
  virtual int remove(const void* key) { return -kENOTSUPP; }
  // BPF_MAP_GET_NEXT_KEY: key == nullptr gives the first key. -ENOENT after the last one.
  virtual int get_next_key(const void* key, void* next) { return -kENOTSUPP; }
  // bpf_map_push_elem / pop / peek (queue, stack, bloom_filter).
  virtual int push(const void* value, uint64_t flags) { return -kENOTSUPP; }
  virtual int pop(void* value) { return -kENOTSUPP; }
  virtual int peek(void* value) { return -kENOTSUPP; }

  // Memory a program may touch through pointers the map handed out (lookup results, ringbuf
  // records): the number of bytes from `p` to the end of the value (or ringbuf data area) that
  // contains `p`, or 0 when `p` is not inside one. Padding between values does not count. Used by
  // MapSet's RegionResolver (checked mode, helper pointer checks).
  virtual uint64_t value_bytes_from(const void* p) const { return 0; }
  // Programs may write the values (false for .rodata and BPF_F_RDONLY_PROG maps).
  bool prog_writable() const { return !def_.read_only && !(def_.map_flags & kBpfFRdonlyProg); }

  // ---- Syscall side (embedder) ----
  // Size of the value buffer of lookup_copy/update_copy: value_size, or for per-CPU maps
  // round_up(value_size, 8) * num_cpus (each CPU's value padded to 8 bytes, as the kernel does).
  // prog_array and maps of maps: 4 (a u32 id).
  uint32_t copy_value_size() const;
  // BPF_MAP_LOOKUP_ELEM: copies the value(s) into `out` (copy_value_size() bytes); 0 or -ENOENT.
  // prog_array writes the program id, maps of maps the inner map's id(). queue/stack/bloom: peek.
  virtual int lookup_copy(const void* key, void* out);
  // BPF_MAP_UPDATE_ELEM: per-CPU maps take every CPU's value (copy_value_size() bytes).
  virtual int update_copy(const void* key, const void* values, uint64_t flags) {
    return update(key, values, flags);
  }

 protected:
  Map(const MapDef& def, const MapOptions& opts);
  uint32_t cpu() const { return current_cpu() % num_cpus_; }

 private:
  friend class MapSet;
  friend struct MapFactory;
  MapDef def_;
  uint32_t num_cpus_;
  uint64_t memory_bytes_ = 0;
  uint32_t id_ = 0;
};

}  // namespace bpfvm
