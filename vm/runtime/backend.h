// One interface, two backends: a BPF ELF object opened, its maps created, its programs loaded
// (verdict + verifier log), test-run with BPF_PROG_TEST_RUN semantics and its maps read and updated,
// either by bpfvm in user space (`user`: vm/runtime/object.h and bpfvm's verifier) or by the Linux
// kernel through bpf(2) (`kernel`: libbpf; maps created in the kernel, relocations pointing at real
// map fds, BTF loaded when the object has it).
//
// Life cycle: open_backend() reads the object (no map exists in the kernel yet); set_initial_value()
// may then replace a global-data map's initial value (.rodata is frozen at load in the kernel);
// load() creates the maps and loads every program. One program the verifier rejects does not hide
// the others' verdicts: every program gets its own verdict and log, and the programs that were
// accepted are loaded together (so prog arrays and tail calls work between them).
//
// Map values use the kernel's user-space layout: per-CPU maps take and return round_up(value_size, 8)
// bytes per possible CPU. Queue and stack maps have no key (update pushes; read_map pops).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vm/elf/prog_type.h"
#include "vm/map_def.h"
#include "vm/result.h"
#include "vm/runtime/object.h"
#include "vm/runtime/vm.h"

namespace bpfvm {

enum class BackendKind { User, Kernel };
const char* backend_name(BackendKind k);
// "user" or "kernel"; kBadInput naming both otherwise.
Result<BackendKind> parse_backend(std::string_view name);

struct BackendOptions {
  // User space: everything (seed, num_cpus, type override, trace output, budget). Kernel: only
  // type_override (libbpf's bpf_program__set_type) is used.
  ObjectOptions object;
  Engine engine = Engine::Interp;  // user space: how accepted programs run
  // Collect the verifier log of every program (kernel: log level 1, the tail is kept when it
  // overflows; user space: bpfvm's log converted to the kernel's format). Without it, the log holds
  // only the error lines and the statistics line.
  bool full_log = false;
  size_t log_size = 4u << 20;  // kernel: bytes of log buffer per program
};

// The verifier's verdict on one program.
struct ProgramVerdict {
  bool accepted = false;
  int err_no = 0;     // kernel: the errno of BPF_PROG_LOAD (or of libbpf's step before it); 0
  std::string error;  // one line: why the program was rejected (empty when accepted)
  // The verifier log in the kernel's format: the error line(s), then
  // "processed N insns (limit 1000000) max_states_per_insn M total_states T peak_states P mark_read R".
  std::string log;
  uint64_t insns_processed = 0;  // from the statistics line (0 when unknown)
  // Time of the load that gave the verdict (kernel: the whole object's load when all its programs
  // loaded at once; user space: bpfvm's verifier on this program).
  double load_seconds = 0;
};

struct BackendProgram {
  std::string name;     // function name
  std::string section;  // ELF section
  ProgType type = ProgType::Unspec;
  size_t insns = 0;  // instructions (lddw counted once), 0 when unknown
};

struct BackendMap {
  std::string name;  // user space: ".bss" for global data; kernel: libbpf's "<obj>.bss"
  MapType type = MapType::Unspec;
  uint32_t key_size = 0, value_size = 0, max_entries = 0, map_flags = 0;
  bool per_cpu = false;
};

// BPF_PROG_TEST_RUN's input.
struct TestRunInput {
  std::vector<uint8_t> data_in;  // packet (XDP, skb types)
  std::vector<uint8_t> ctx_in;   // context (empty: none given)
  uint32_t repeat = 1;
  uint32_t cpu = 0;  // the run's CPU (kernel: the thread is pinned to it)
};

struct TestRunOutput {
  uint64_t retval = 0;            // r0 (the kernel reports its low 32 bits)
  std::vector<uint8_t> data_out;  // the packet after the run (empty when none was given)
  std::vector<uint8_t> ctx_out;   // the context after the run (empty when none was given)
  uint64_t duration_ns = 0;       // average per repetition
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;

  // ---- Programs ----
  virtual size_t num_programs() const = 0;
  virtual const BackendProgram& program(size_t index) const = 0;
  // By function name, else by section name, else the only program; kBadInput listing the programs.
  Result<size_t> select_program(std::string_view name, std::string_view section = {}) const;
  int find_program(std::string_view name) const;

  // ---- Loading ----
  // Global data before load(): replaces the initial value of the map (`value` = the whole section).
  virtual Status set_initial_value(size_t map, std::span<const uint8_t> value) = 0;
  // Creates the maps and loads every program. An error here is about the object as a whole (a map
  // the kernel cannot create, no bpf(2)); per-program rejections are verdicts.
  virtual Status load() = 0;
  // After load(): the verdict of program `index`.
  virtual const ProgramVerdict& verdict(size_t index) const = 0;
  // Why the object as a whole cannot be used (a map the backend cannot create), or "" when it can.
  // User space then still verifies every program (as `bpfvm verify` does) but cannot run them.
  virtual std::string object_error() const = 0;

  // After load(): one BPF_PROG_TEST_RUN of an accepted program.
  virtual Result<TestRunOutput> test_run(size_t prog, const TestRunInput& in) = 0;

  // ---- Maps ----
  virtual size_t num_maps() const = 0;
  virtual const BackendMap& map(size_t index) const = 0;
  // Exact name, or for names starting with '.', a map whose name ends with it (".bss"); -1 if none.
  int find_map(std::string_view name) const;
  virtual uint32_t num_cpus() const = 0;  // the number of per-CPU values of per-CPU maps
  // Bytes of a lookup/update value: value_size, or round_up(value_size, 8) * num_cpus().
  uint32_t value_buffer_size(size_t map) const;
  // std::nullopt when the key is absent (ENOENT); other failures are errors naming the map.
  virtual Result<std::optional<std::vector<uint8_t>>> map_lookup(size_t map,
                                                                 std::span<const uint8_t> key) = 0;
  // Queue/stack: `key` empty, pushes the value.
  virtual Status map_update(size_t map,
                            std::span<const uint8_t> key,
                            std::span<const uint8_t> value,
                            uint64_t flags = 0) = 0;
  // The key after `key` (the first key when `key` is null); std::nullopt at the end.
  virtual Result<std::optional<std::vector<uint8_t>>> map_next_key(size_t map,
                                                                   const std::vector<uint8_t>* key) = 0;
  // Queue/stack: pops one value (std::nullopt when empty).
  virtual Result<std::optional<std::vector<uint8_t>>> map_pop(size_t map) = 0;
  // Ring buffers: the records waiting, consumed in order. Empty for other maps.
  virtual Result<std::vector<std::vector<uint8_t>>> drain_ringbuf(size_t map) = 0;

  // Every entry of a map through get_next_key + lookup (sorted by key bytes), per-CPU values split
  // per CPU (padding removed); queues and stacks are drained in pop order. Prog arrays, maps of maps,
  // ring buffers, perf event arrays, cgroup arrays and xskmaps hold no data a user can compare:
  // empty.
  Result<std::vector<MapEntryData>> read_map(size_t map);
};

// Whether a map holds data read_map() returns (not fds/ids, ring buffers, perf event arrays, nor
// the cgroups of a cgroup_array and the sockets of an xskmap, which bpf(2) cannot read back).
bool map_has_data(MapType t);

// Opens an ELF object with one of the backends. Errors: unreadable or malformed object (kIo/kElf);
// kernel: bpf(2) not reachable (kernel_available()'s reason).
Result<std::unique_ptr<Backend>> open_backend(BackendKind kind,
                                              const std::string& path,
                                              const BackendOptions& opts = {});

// Whether this process can create maps, load and test-run programs in the kernel. Otherwise an
// error (kUnsupported) saying why: no privilege (EPERM: needs root or CAP_BPF + CAP_NET_ADMIN +
// CAP_PERFMON), bpf(2) missing or disabled (ENOSYS), or another errno. The probe runs once.
Status kernel_available();

// The kernel backend's number of possible CPUs (the per-CPU value count), 0 when unknown.
uint32_t kernel_num_possible_cpus();

// bpfvm's verifier result as the kernel would print it (see ProgramVerdict::log): for every error
// "pc: (insn)" and the message, the register states, then the statistics line.
std::string kernel_style_log(const verifier::VerifyResult& r, const verifier::VerifyOptions& opts);

}  // namespace bpfvm
