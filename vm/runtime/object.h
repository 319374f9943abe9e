// The runtime object: a BPF ELF object (vm/elf) made runnable. An Object creates every map of the
// object in a MapSet (global-data maps with their initial value, .rodata read-only to programs),
// fills prog arrays and maps of maps from their declarative `.values`, resolves every program's map
// references to host addresses, prepares one interpreter per program and runs programs with the
// context of their type (vm/runtime/context.h). Maps stay accessible to the embedder between runs.
//
// Program ids: program i of the object (ObjectFile::programs order) has id i + 1. Prog arrays hold
// these ids, and tail calls reach programs by them.
//
// Map references: `lddw rX, map` (pseudo source 5, or legacy 1 by fd, where the fd is taken as the
// map index) becomes imm64 = the host address of the `Map` object (map helpers receive it in r1);
// `lddw rX, map value + off` (source 6, or legacy 2) becomes the host address of the value of key 0
// plus the offset (array maps, which global data are), and that value is a memory region of every
// run (read-only for .rodata).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "maps/map.h"
#include "maps/map_set.h"
#include "verifier/verifier.h"
#include "vm/elf/elf_loader.h"
#include "vm/helper_table.h"
#include "vm/interp.h"
#include "vm/result.h"
#include "vm/runtime/context.h"
#include "vm/runtime/vm.h"

namespace bpfvm {

struct ObjectOptions {
  uint64_t memory_cap = MapOptions{}.memory_cap;  // bytes, for all the maps of the object together
  uint32_t num_cpus = MapOptions{}.num_cpus;      // simulated CPUs (per-CPU maps)
  // Deterministic mode: seeded random numbers and a virtual clock; helpers also report fixed
  // pid/uid/comm.
  std::optional<uint64_t> seed;
  std::FILE* trace_out = stderr;  // bpf_trace_printk output (nullptr discards it)
  // Type of every program instead of the section-name convention (also sets LoadOptions).
  std::optional<ProgType> type_override;
  LoadOptions load;  // used by Object::open
  // Execution mode of programs the verifier has not accepted (Object::verify): checked mode
  // bounds-checks every access and meters instructions. Accepted programs run unchecked (fast) when
  // `unchecked_when_verified` and the run's context is the one the verifier assumed (see run()).
  bool checked = true;
  bool unchecked_when_verified = true;
  uint64_t budget = RunOptions{}.budget;
  // Engine::Jit: every linked program is compiled to checked JIT code at creation; a program the
  // verifier accepts (verify()) also to unchecked JIT code, used when runs_checked() is false. Tail
  // calls reach the JIT code of the target in the same mode. `jit` gives blinding and Spectre
  // hardening (its checked/verified/budget fields are set by the object).
  Engine engine = Engine::Interp;
  jit::JitOptions jit;
  // Called once with the object's helper table after the built-in helpers are registered: embedders
  // add or replace helpers here.
  std::function<void(HelperTable&)> add_helpers;
};

struct RunOutput {
  uint64_t r0 = 0;              // of the last repetition
  std::vector<uint8_t> packet;  // the packet after the run (context.h, collect_output)
  std::vector<uint8_t> ctx;     // the context after the run
  uint64_t duration_ns = 0;     // average per repetition
  RunStats stats;               // of the last repetition
  bool checked = true;          // the run used checked mode (false: unchecked, after verification)
};

// One entry of a map as user space sees it (BPF_MAP_LOOKUP_ELEM): per-CPU maps have one value per
// simulated CPU, other maps exactly one. Queue/stack entries have an empty key.
struct MapEntryData {
  std::vector<uint8_t> key;
  std::vector<std::vector<uint8_t>> values;
};

class Object {
 public:
  // Loads the ELF file and creates the object. Load errors are kIo/kElf; map creation errors
  // kBadInput/kUnsupported naming the map. Programs that failed to link stay listed with their error.
  static Result<std::unique_ptr<Object>> open(const std::string& path, const ObjectOptions& opts = {});
  static Result<std::unique_ptr<Object>> create(ObjectFile file, const ObjectOptions& opts = {});
  ~Object();
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  const ObjectFile& file() const;
  const ObjectOptions& options() const;

  // ---- Programs ----
  size_t num_programs() const;
  const ElfProgram& program(size_t index) const;
  uint32_t program_id(size_t index) const { return static_cast<uint32_t>(index) + 1; }
  // The program's type (the override when one was given).
  ProgType program_type(size_t index) const;
  // Ok, or why the program cannot run (link error, unresolvable map reference, decode error).
  const Status& program_status(size_t index) const;
  // Index of the program with this function name, or -1.
  int find_program(std::string_view name) const;
  // The program to run: by function name, else by section name, else the only program. kBadInput
  // listing the programs when there is no match or several programs and no selector.
  Result<size_t> select_program(std::string_view name, std::string_view section) const;

  // Verifies program `index` (bpfvm's verifier, verifier/verifier.h) with its type and the object's
  // maps; `opts.type` and `opts.maps` are filled in here, the rest (raw_ctx_size for ProgType::Raw,
  // budgets, log) is taken from `opts`. An accepted program is marked verified: its later runs use
  // unchecked mode. A rejection clears the mark. Errors: index out of range, a program that did not
  // link (its link error), an empty program. Not thread-safe with run() of the same object.
  Result<verifier::VerifyResult> verify(size_t index, const verifier::VerifyOptions& opts = {});
  // Whether the verifier accepted program `index` (the last verify() of it).
  bool verified(size_t index) const;
  // The execution mode run() uses for `input`: unchecked only when the program is verified and the
  // context matches the verifier's assumption (raw: exactly raw_ctx_size bytes of writable memory;
  // tracing args: at least the verifier's context size; xdp/skb: always) and, when the object has a
  // prog array (tail calls run in the caller's mode), every linked program of the object is verified.
  bool runs_checked(size_t index, const ContextInput& input) const;

  // Program `index`'s linked code (map addresses in its lddw) compiled with `jo` as the runtime
  // compiles it: unchecked code (jo.checked false) gets this object's map lookup plans, as after
  // verify(). `jo.verified` is the caller's word (bpfvm jit-dump shows code without running it).
  // Needs Engine::Jit (other engines keep no linked code); errors: index out of range, a program
  // that did not link, the JIT's errors.
  Result<std::unique_ptr<jit::JitProgram>> compile_jit(size_t index, const jit::JitOptions& jo) const;

  // Runs program `index` with the context of its type. Thread-safe: runs of any programs of the
  // object may overlap (they share the maps, as in the kernel). A fault is an Error naming the pc.
  Result<RunOutput> run(size_t index, const ContextInput& input) const;

  // ---- Maps ----
  MapSet& map_set();
  size_t num_maps() const;
  Map* map(size_t index) const;  // in ObjectFile::maps order
  // The map with this name; a name starting with '.' also matches any map whose name ends with it
  // (".bss", ".rodata"), as libbpf's `<obj>.bss` names do. nullptr if none.
  Map* find_map(std::string_view name) const;
  // BPF_MAP_LOOKUP_ELEM / UPDATE_ELEM from user space (values: Map::copy_value_size() bytes).
  // Errors name the map and the negative errno.
  Result<std::vector<uint8_t>> lookup(Map& map, std::span<const uint8_t> key) const;
  Status update(Map& map,
                std::span<const uint8_t> key,
                std::span<const uint8_t> value,
                uint64_t flags = 0) const;

 private:
  struct Impl;
  explicit Object(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Verifies program `index` of an object file (verifier/verifier.h) as `type` with the file's map
// definitions (no map is created: objects whose maps bpfvm cannot create verify too); `opts.type` and
// `opts.maps` are filled in here. Errors: index out of range, a program that did not link (its link
// error), an empty program. Object::verify is this plus the execution mode.
Result<verifier::VerifyResult> verify_program(const ObjectFile& file,
                                              size_t index,
                                              ProgType type,
                                              const verifier::VerifyOptions& opts = {});

// Every entry of a map (sorted by key bytes) through get_next_key + lookup_copy, per-CPU values
// split per CPU. Queue and stack maps are drained (popped until empty, in pop order); ring buffers
// and perf event arrays have no entries (see drain_records); prog arrays and maps of maps list ids.
Result<std::vector<MapEntryData>> read_map_entries(Map& map);
// Records waiting in a ring buffer or perf event array map, consumed in order (the map is drained).
// Empty for other map types.
std::vector<std::vector<uint8_t>> drain_records(Map& map);

// Human-readable dump of every map of the object: a header line per map (name, type, sizes) and one
// line per entry (`key => value` in hex, per-CPU values as `cpuN: value`). Drains queues, stacks and
// ring buffers.
std::string dump_maps_text(const Object& obj);
// The same as JSON: {"maps": [{"name", "type", "key_size", "value_size", "max_entries", "entries":
// [{"key": hex, "value": hex} or {"key": hex, "values": [hex per cpu]}], "records": [hex]}]}.
std::string dump_maps_json(const Object& obj);

}  // namespace bpfvm
