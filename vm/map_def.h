// A map definition as an object file or an embedder states it, before the map exists. Shared by
// the ELF loader (which reads them), the maps library (which creates them) and the kernel backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bpfvm {

// Kernel numbering (enum bpf_map_type in linux/bpf.h).
enum class MapType : uint32_t {
  Unspec = 0,
  Hash = 1,
  Array = 2,
  ProgArray = 3,
  PerfEventArray = 4,
  PercpuHash = 5,
  PercpuArray = 6,
  StackTrace = 7,
  CgroupArray = 8,
  LruHash = 9,
  LruPercpuHash = 10,
  LpmTrie = 11,
  ArrayOfMaps = 12,
  HashOfMaps = 13,
  Devmap = 14,
  Sockmap = 15,
  Cpumap = 16,
  Xskmap = 17,
  Sockhash = 18,
  CgroupStorage = 19,
  ReuseportSockarray = 20,
  PercpuCgroupStorage = 21,
  Queue = 22,
  Stack = 23,
  SkStorage = 24,
  DevmapHash = 25,
  StructOps = 26,
  Ringbuf = 27,
  InodeStorage = 28,
  TaskStorage = 29,
  BloomFilter = 30,
  UserRingbuf = 31,
  CgrpStorage = 32,
  Arena = 33,
};

// Kernel name of a map type as libbpf spells it ("hash", "percpu_array", ...), or "unknown".
const char* map_type_name(MapType t);

struct MapDef {
  std::string name;
  MapType type = MapType::Unspec;
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  uint32_t max_entries = 0;
  uint32_t map_flags = 0;
  // BTF map_extra: bloom_filter's number of hash functions (low 4 bits); 0 for other maps.
  uint64_t map_extra = 0;
  // Map-in-map: the definition every inner map must match (one level deep, as in the kernel).
  std::vector<MapDef> inner;  // empty, or exactly one element
  // Declarative initial values (libbpf `.values = {...}`) for prog arrays and maps of maps:
  // (key index, name of the program or map the slot refers to).
  std::vector<std::pair<uint32_t, std::string>> init_refs;
  // Initial contents of global-data maps (.data, .rodata, .bss: one value of value_size bytes).
  std::vector<uint8_t> initial_value;
  bool read_only = false;  // .rodata and BPF_F_RDONLY_PROG
};

}  // namespace bpfvm
