// The Linux kernel as a test oracle: loads a BPF ELF object with libbpf, fills maps, runs one
// program with BPF_PROG_TEST_RUN and reads back r0, the packet, the context, every map and every
// ring buffer. The result is plain data (no libbpf types) so the user-space VM can fill the same
// structs and the two can be compared field by field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vm/result.h"

namespace bpfvm::kernel {

using Bytes = std::vector<uint8_t>;

// True when this process can load and test-run BPF programs (root or CAP_BPF+CAP_NET_ADMIN and a
// working bpf(2)). Otherwise false, with the reason in *why (when why is not null).
bool kernel_bpf_available(std::string* why);

// One map entry as user space sees it. For per-CPU maps `values` has one element per possible
// CPU (each value_size bytes, the kernel's 8-byte padding removed); otherwise exactly one.
// Queue and stack maps have an empty key; their entries are listed in pop order.
struct MapEntry {
  Bytes key;
  std::vector<Bytes> values;
};

struct MapContents {
  std::string name;   // as libbpf names it: "flows", "global_d.bss", ...
  uint32_t type = 0;  // enum bpf_map_type
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  uint32_t max_entries = 0;
  bool per_cpu = false;
  std::vector<MapEntry> entries;  // sorted by key bytes (except queue/stack: pop order)
};

// A value to store before the run. `key` empty for queue/stack (push). For per-CPU maps, a
// single value goes to `cpu` (see RunRequest::cpu) and zeros to every other CPU, unless
// `values` has one element per possible CPU.
struct MapInit {
  std::string map;  // exact libbpf name, or a suffix starting with '.' (".bss", ".rodata")
  Bytes key;
  std::vector<Bytes> values;
};

struct RunRequest {
  std::string object_path;
  std::string program;  // function name of the program in the object
  Bytes data_in;
  Bytes ctx_in;                // empty: no context passed
  uint32_t data_size_out = 0;  // 0: data_in.size() + 512
  uint32_t ctx_size_out = 0;   // 0: ctx_in.size()
  uint32_t repeat = 1;
  std::vector<MapInit> maps_before;
  // The run is pinned to this CPU (sched_setaffinity) so per-CPU maps are deterministic.
  int cpu = 0;
};

struct RunResult {
  uint32_t retval = 0;     // r0 as BPF_PROG_TEST_RUN reports it (low 32 bits)
  uint32_t prog_type = 0;  // enum bpf_prog_type libbpf chose from the section name
  int cpu = 0;             // the CPU the run was pinned to
  int num_cpus = 0;        // libbpf_num_possible_cpus(): the size of per-CPU value lists
  Bytes data_out;
  Bytes ctx_out;
  uint32_t duration_ns = 0;       // average per repetition
  std::vector<MapContents> maps;  // every map except ring buffers, prog arrays, maps of maps
  // Records drained from each ring buffer map, in the order they were committed.
  std::vector<std::pair<std::string, std::vector<Bytes>>> ringbufs;

  const MapContents* find_map(const std::string& name_or_suffix) const;
};

// Loads the object, applies maps_before, runs the program and collects everything. Errors
// (object missing, verifier rejection with the log's tail, unknown program or map, test_run
// failure) come back as values with a message naming the object and program.
Result<RunResult> kernel_run(const RunRequest& req);

// Names of the programs (functions) in an object, without loading it.
Result<std::vector<std::string>> kernel_list_programs(const std::string& object_path);

// "0a0b0c", lower-case, no separators.
std::string to_hex(const Bytes& bytes);

}  // namespace bpfvm::kernel
