// Internal to sys/: the emulated kernel objects (maps, programs, BTF), their file descriptors and
// ids, and the persistent store of pinned objects (sys/store.cpp).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "helpers/environment.h"
#include "maps/map.h"
#include "maps/map_set.h"
#include "sys/bpf_sys.h"
#include "vm/elf/prog_type.h"
#include "vm/helper_table.h"
#include "vm/interp.h"
#include "vm/runtime/context.h"

namespace bpfvm::sys {

enum class Kind : uint8_t { Map, Prog, Btf };
// "bpf-map", "bpf-prog", "bpf-btf": the memfd names, and what /proc/self/fd links show.
const char* kind_name(Kind k);
// "map", "prog", "btf": file names in the store.
const char* kind_word(Kind k);

struct Obj {
  explicit Obj(Kind k) : kind(k) {}
  virtual ~Obj() = default;
  Kind kind;
  uint32_t id = 0;
  bool persisted = false;  // has a copy in the store (it was pinned, or something pinned uses it)
};

struct BtfObj : Obj {
  BtfObj() : Obj(Kind::Btf) {}
  std::vector<uint8_t> data;
};

struct MapObj : Obj {
  MapObj() : Obj(Kind::Map) {}
  ~MapObj() override;
  Map* map = nullptr;  // owned by the state's MapSet
  MapDef def;
  bool frozen = false;
  uint32_t btf_key_type_id = 0, btf_value_type_id = 0;
  std::shared_ptr<BtfObj> btf;
  // Objects held by prog array and map-of-maps slots (key bytes -> object), as the kernel holds them.
  std::map<std::vector<uint8_t>, std::shared_ptr<Obj>> held;
  ino_t file_ino = 0;  // the store's copy this process last read or wrote
};

struct ProgObj : Obj {
  ProgObj() : Obj(Kind::Prog) {}
  ProgType type = ProgType::Unspec;
  uint32_t expected_attach_type = 0;
  std::string name;
  std::string license;
  bool gpl = false;
  // As loaded, with lddw map references (src 1/2) whose imm is an index into `maps`.
  std::vector<RawInsn> insns;
  std::vector<std::shared_ptr<MapObj>> maps;
  std::shared_ptr<BtfObj> btf;
  std::unique_ptr<Interpreter> interp;
  std::deque<std::string> region_names;  // storage of MemRegion::name
  std::vector<MemRegion> data_regions;   // direct map values (global data)
  uint8_t tag[8] = {};
  uint64_t load_time = 0;  // ns since boot (CLOCK_BOOTTIME), as the kernel reports it
  uint32_t uid = 0;
  uint32_t verified_insns = 0;
  uint64_t run_time_ns = 0, run_cnt = 0;
};

// Process-wide state. One lock serialises every command.
struct State : TailCallTargets {
  State();
  std::recursive_mutex mu;
  bool configured = false;
  SysConfig cfg;
  MapSet maps;
  HelperTable helpers;
  DefaultEnvironment env;
  std::map<std::pair<dev_t, ino_t>, std::shared_ptr<Obj>> fds;  // inode of each fd handed out
  std::map<uint32_t, std::weak_ptr<Obj>> ids;
  uint32_t local_next_id = 1;
  size_t gc_threshold = 64;  // fds handed out before the next sweep of /proc/self/fd
  std::unique_ptr<RunScratch> scratch;

  const Interpreter* interpreter(uint32_t id) const override;
};
State& state();       // configured from the environment on first use
State* peek_state();  // nullptr until state() first ran
void ensure_configured(State& s);
std::string env_bpffs_prefix();  // BPFVM_BPFFS or /sys/fs/bpf, without a trailing '/'

// A new fd for `o` (errno value on failure, as a negative number).
int new_fd(State& s, const std::shared_ptr<Obj>& o);
// The object behind fd, or nullptr with *err = EBADF (not an open fd) or EINVAL (not ours).
std::shared_ptr<Obj> obj_of_fd(State& s, int fd, int* err);
uint32_t alloc_id(State& s);
void register_id(State& s, const std::shared_ptr<Obj>& o);
std::shared_ptr<Obj> obj_by_id(State& s, Kind k, uint32_t id);  // in memory, else from the store

// ---- The store (sys/store.cpp) ----
std::string store_dir(State& s);                       // "" when unusable
int persist(State& s, const std::shared_ptr<Obj>& o);  // 0 or -errno
void sync_in(State& s, MapObj& m);                     // re-reads a persisted map another process changed
void sync_out(State& s, MapObj& m);                    // writes a persisted map back after a change
std::shared_ptr<Obj> load_persisted(State& s, Kind k, uint32_t id);
std::vector<uint32_t> persisted_ids(State& s, Kind k);
int pin_object(State& s, const std::shared_ptr<Obj>& o, const std::string& path);  // 0 or -errno
std::shared_ptr<Obj> get_pinned(State& s, const std::string& path, int* err);

// ---- Program loading (sys/bpf_sys.cpp), also used to restore a stored program ----
struct LoadRequest {
  ProgType type = ProgType::Unspec;
  uint32_t expected_attach_type = 0;
  std::string name, license;
  std::vector<RawInsn> insns;  // lddw src 1/2 imm = index into maps
  std::vector<std::shared_ptr<MapObj>> maps;
  uint32_t log_level = 0;
  uint32_t id = 0;  // a stored program keeps its id; 0: a new one
};
// 0 and *out, or -errno; the verifier log goes to *log.
int load_program(State& s, LoadRequest req, std::shared_ptr<ProgObj>* out, std::string* log);
std::shared_ptr<MapObj> create_map_obj(State& s, const MapDef& def, int* err);

}  // namespace bpfvm::sys
