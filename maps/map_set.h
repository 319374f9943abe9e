// Creating maps: the kernel's validation of a definition (map_alloc_check of each map type), the
// memory accounting, and MapSet, which owns the maps of one program or object.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "maps/map.h"
#include "vm/region.h"
#include "vm/result.h"

namespace bpfvm {

class RingbufMap;

// Bytes a map with this definition is charged (its storage when full), or an error when the
// definition is invalid or its type is not supported. Errors are kBadInput (invalid definition) or
// kUnsupported (a map type bpfvm does not emulate), with a message naming the map and its type.
Result<uint64_t> map_memory_bytes(const MapDef& def, const MapOptions& opts);

// The host kernel's NR_CPUS (/sys/devices/system/cpu/kernel_max + 1; Debian's CONFIG_NR_CPUS, 8192,
// when that cannot be read): the largest max_entries of a cpumap, as the kernel limits it.
uint32_t host_nr_cpus();

// Validates `def` as the kernel does at BPF_MAP_CREATE and creates the map. The map alone is checked
// against opts.memory_cap (no sharing). Supported types: array, percpu_array, hash, percpu_hash,
// lru_hash, lru_percpu_hash, prog_array, array_of_maps, hash_of_maps, ringbuf, perf_event_array,
// queue, stack, lpm_trie, bloom_filter, devmap, devmap_hash, cpumap, xskmap (maps/redirect_maps.h),
// cgroup_array and stack_trace (maps/cgroup_stack_maps.h). devmap and devmap_hash get
// BPF_F_RDONLY_PROG (and MapDef::read_only), as the kernel gives them.
Result<std::unique_ptr<Map>> create_map(const MapDef& def, const MapOptions& opts = {});

// Owns a group of maps and shares one memory cap between them. Thread-safe.
//
// It is also the RegionResolver of the runs of the programs using these maps (RunInput::resolver):
// it vouches for the values of array, per-CPU array and hash maps (the value bytes only, not the
// padding between values, nor keys), and for ringbuf data areas (reserved records); values of
// read-only maps (MapDef::read_only, BPF_F_RDONLY_PROG) are not writable. Linear in the number of
// maps (and of allocated hash chunks): checked mode consults it only for addresses that no fixed
// region nor the stack contains.
class MapSet : public RegionResolver {
 public:
  explicit MapSet(MapOptions opts = {}) : opts_(opts) {}

  // Creates a map; refused (kBadInput, naming the map and the sizes) when it would take the total
  // above opts.memory_cap. The pointer stays valid as long as the MapSet.
  Result<Map*> create(const MapDef& def);
  // Frees a map of this set and gives its bytes back to the cap (the bpf(2) emulation releases a map
  // when its last reference goes). Its id is not reused: by_id() of it is then nullptr. false when
  // `m` is not a map of this set. The caller guarantees that no run uses the map any more.
  bool destroy(const Map* m);
  Map* find(std::string_view name) const;  // nullptr if no map has this name
  Map* by_id(uint32_t id) const;           // ids start at 1
  // The ring buffer whose data area contains `sample` (for bpf_ringbuf_submit/discard, which get
  // only the record pointer), or nullptr.
  RingbufMap* find_ringbuf(const void* sample) const;
  // `m` is one of this set's maps (helpers check the map pointers programs pass them).
  bool contains(const Map* m) const;
  // RegionResolver.
  bool contains(uint64_t addr, uint64_t len, bool write, std::string_view* name) const override;
  uint64_t span_from(uint64_t addr, bool write) const override;
  uint64_t used_bytes() const;
  const MapOptions& options() const { return opts_; }
  size_t size() const;

 private:
  MapOptions opts_;
  mutable std::mutex mu_;
  uint64_t used_ = 0;
  std::vector<std::unique_ptr<Map>> maps_;
  std::vector<std::unique_ptr<std::string>> labels_;  // "map 'flows' value", parallel to maps_

  // The map whose value memory contains `addr`, with the bytes left from there; nullptr if none.
  const Map* value_at(uint64_t addr, uint64_t* avail, size_t* index) const;
};

}  // namespace bpfvm
