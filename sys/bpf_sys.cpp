// The bpf(2) commands (sys/bpf_sys.h): attribute checks and errno values follow kernel/bpf/syscall.c
// and the map types' map_alloc_check (Linux 6.x).
#include "sys/bpf_sys.h"

#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>

#include <bpf/btf.h>
#include <fmt/format.h>

#include "helpers/context.h"
#include "helpers/kernel_helpers.h"
#include "helpers/proto.h"
#include "maps/array_maps.h"
#include "maps/hash_maps.h"
#include "sys/objects.h"
#include "verifier/verifier.h"
#include "vm/decode.h"
#include "vm/disasm.h"
#include "vm/runtime/context_run.h"

namespace bpfvm::sys {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Map:
      return "bpf-map";
    case Kind::Prog:
      return "bpf-prog";
    case Kind::Btf:
      return "bpf-btf";
  }
  return "bpf";
}
const char* kind_word(Kind k) {
  switch (k) {
    case Kind::Map:
      return "map";
    case Kind::Prog:
      return "prog";
    case Kind::Btf:
      return "btf";
  }
  return "obj";
}

MapObj::~MapObj() {
  if (map != nullptr) state().maps.destroy(map);
}

namespace {
// The kernel's number of possible CPUs (/sys/devices/system/cpu/possible, "0-3" or "0,2-5"):
// libbpf sizes per-CPU value buffers with it, so per-CPU maps simulate as many CPUs.
uint32_t possible_cpus() {
  std::FILE* f = std::fopen("/sys/devices/system/cpu/possible", "r");
  if (f == nullptr) return 1;
  char buf[256] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  uint32_t highest = 0;
  for (char* p = buf; *p;) {
    char* end;
    unsigned long v = std::strtoul(p, &end, 10);
    if (end == p) break;
    highest = std::max(highest, uint32_t(v));
    p = *end ? end + 1 : end;
  }
  return std::clamp<uint32_t>(highest + 1, 1, 1024);
}

MapOptions state_map_options() {
  MapOptions o;
  o.memory_cap = 1ULL << 32;
  o.num_cpus = possible_cpus();
  if (const char* n = getenv("BPFVM_NUM_CPUS"); n != nullptr && atoi(n) > 0) o.num_cpus = uint32_t(atoi(n));
  return o;
}
EnvironmentOptions state_env_options() {
  EnvironmentOptions o;
  o.trace_file = stderr;
  return o;
}
}  // namespace

State::State() : maps(state_map_options()), env(state_env_options()) {
  register_kernel_helpers(helpers);
}

const Interpreter* State::interpreter(uint32_t id) const {
  auto it = ids.find(id);
  if (it == ids.end()) return nullptr;
  auto o = it->second.lock();
  if (!o || o->kind != Kind::Prog) return nullptr;
  return static_cast<ProgObj*>(o.get())->interp.get();
}

namespace {
std::atomic<State*> g_state{nullptr};
}

State& state() {
  // Never destroyed: the preload library serves calls until the process is gone.
  static State* s = [] {
    auto* p = new State;
    g_state.store(p);
    return p;
  }();
  return *s;
}

State* peek_state() {
  return g_state.load();
}

void ensure_configured(State& s) {
  if (s.configured) return;
  s.configured = true;
  if (const char* d = getenv("BPFVM_STATE_DIR"); d != nullptr && *d) s.cfg.state_dir = d;
  if (s.cfg.state_dir.empty()) s.cfg.state_dir = fmt::format("/tmp/bpfvm-{}", getuid());
  s.cfg.bpffs_prefix = env_bpffs_prefix();
  if (const char* u = getenv("BPFVM_ALLOW_UNVERIFIED"); u != nullptr && *u && *u != '0')
    s.cfg.allow_unverified = true;
}

std::string env_bpffs_prefix() {
  const char* e = getenv("BPFVM_BPFFS");
  std::string p = e != nullptr && *e ? e : "/sys/fs/bpf";
  while (p.size() > 1 && p.back() == '/')
    p.pop_back();
  return p;
}

void configure(const SysConfig& cfg) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  s.configured = false;
  ensure_configured(s);
  if (!cfg.state_dir.empty()) s.cfg.state_dir = cfg.state_dir;
  if (!cfg.bpffs_prefix.empty()) s.cfg.bpffs_prefix = cfg.bpffs_prefix;
  s.cfg.allow_unverified = s.cfg.allow_unverified || cfg.allow_unverified;
}

SysConfig config() {
  State& s = state();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  ensure_configured(s);
  return s.cfg;
}

namespace {
void gc_locked(State& s);
}

int new_fd(State& s, const std::shared_ptr<Obj>& o) {
  int fd = memfd_create(kind_name(o->kind), MFD_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  // A reused inode number means the file that had it is gone: the entry was stale.
  s.fds[{sb.st_dev, sb.st_ino}] = o;
  // Without the preload library nothing sees close(2): sweep now and then as the table grows.
  if (s.fds.size() >= s.gc_threshold) {
    gc_locked(s);
    s.gc_threshold = std::max<size_t>(64, 2 * s.fds.size());
  }
  return fd;
}

std::shared_ptr<Obj> obj_of_fd(State& s, int fd, int* err) {
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0) {
    *err = EBADF;
    return nullptr;
  }
  auto it = s.fds.find({sb.st_dev, sb.st_ino});
  if (it == s.fds.end()) {
    *err = EINVAL;
    return nullptr;
  }
  return it->second;
}

void register_id(State& s, const std::shared_ptr<Obj>& o) {
  if (o->id == 0) o->id = alloc_id(s);
  s.ids[o->id] = o;
}

std::shared_ptr<Obj> obj_by_id(State& s, Kind k, uint32_t id) {
  auto it = s.ids.find(id);
  if (it != s.ids.end()) {
    if (auto o = it->second.lock(); o && o->kind == k) return o;
  }
  return load_persisted(s, k, id);
}

namespace {

void gc_locked(State& s) {
  std::set<std::pair<dev_t, ino_t>> live;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return;  // without /proc, objects live until the process ends
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat sb;
    if (fstat(atoi(e->d_name), &sb) == 0) live.insert({sb.st_dev, sb.st_ino});
  }
  closedir(d);
  std::vector<std::shared_ptr<Obj>> dropped;  // released after the table is consistent
  for (auto it = s.fds.begin(); it != s.fds.end();) {
    if (live.count(it->first) == 0) {
      dropped.push_back(std::move(it->second));
      it = s.fds.erase(it);
    } else {
      ++it;
    }
  }
  dropped.clear();
  for (auto it = s.ids.begin(); it != s.ids.end();)
    it = it->second.expired() ? s.ids.erase(it) : std::next(it);
}

// ---- attr access ----

template <class T>
T* uptr(uint64_t v) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(v));
}

// copy_from_user / copy_to_user: process_vm_readv/writev on this process fail with EFAULT on an
// address that is not mapped (or not writable) instead of crashing, as the kernel's copies do.
// Where a sandbox forbids them (ENOSYS, EPERM) plain copies are used.
bool user_copy(bool write, void* local_p, uint64_t remote, size_t n) {
  if (n == 0) return true;
  if (remote == 0) return false;
  iovec local{local_p, n}, rem{uptr<void>(remote), n};
  ssize_t r = write ? process_vm_writev(getpid(), &local, 1, &rem, 1, 0)
                    : process_vm_readv(getpid(), &local, 1, &rem, 1, 0);
  if (r == ssize_t(n)) return true;
  if (r < 0 && (errno == ENOSYS || errno == EPERM)) {
    write ? std::memcpy(uptr<void>(remote), local_p, n) : std::memcpy(local_p, uptr<void>(remote), n);
    return true;
  }
  return false;
}
bool user_read(void* dst, uint64_t src, size_t n) {
  return user_copy(false, dst, src, n);
}
bool user_write(uint64_t dst, const void* src, size_t n) {
  return user_copy(true, const_cast<void*>(src), dst, n);
}
// A NUL-terminated string of at most `max` bytes (strncpy_from_user); false on a bad address.
bool user_string(uint64_t src, size_t max, std::string* out) {
  out->clear();
  char c;
  for (size_t i = 0; i < max; i++) {
    if (!user_read(&c, src + i, 1)) return false;
    if (c == 0) return true;
    *out += c;
  }
  return true;
}
std::vector<uint8_t> user_bytes(uint64_t src, size_t n, bool* ok) {
  std::vector<uint8_t> v(n);
  *ok = user_read(v.data(), src, n);
  return v;
}

// Bytes of attr from `end` to the end of the union are zero (the kernel's CHECK_ATTR).
bool tail_zero(const bpf_attr& a, size_t end) {
  const auto* p = reinterpret_cast<const uint8_t*>(&a);
  for (size_t i = end; i < sizeof(bpf_attr); i++)
    if (p[i] != 0) return false;
  return true;
}
#define BPFVM_END(field) (offsetof(bpf_attr, field) + sizeof(bpf_attr::field))

// Writes a field back into the caller's attr when its size covers the field.
struct Out {
  bpf_attr* u;
  unsigned size;
  template <class T>
  void put(size_t off, T v) const {
    if (off + sizeof(T) <= size) user_write(reinterpret_cast<uint64_t>(u) + off, &v, sizeof(T));
  }
};

// bpf_obj_name_cpy: letters, digits, '_' and '.', NUL-terminated within the 16 bytes.
int name_copy(const char* src, std::string* out) {
  out->clear();
  for (size_t i = 0; i < BPF_OBJ_NAME_LEN; i++) {
    char c = src[i];
    if (c == 0) return 0;
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.') return -EINVAL;
    *out += c;
  }
  return -EINVAL;
}

bool gpl_compatible(std::string_view l) {  // license_is_gpl_compatible()
  return l == "GPL" || l == "GPL v2" || l == "GPL and additional rights" || l == "Dual BSD/GPL" ||
         l == "Dual MIT/GPL" || l == "Dual MPL/GPL";
}

// ---- MAP_CREATE ----

bool access_ok(uint32_t f) {  // bpf_map_flags_access_ok
  return (f & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) != (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG);
}
constexpr uint64_t kKmallocMax = 1ULL << 22;
constexpr uint32_t kAccess = BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;

// The map type's map_alloc_check (and the checks map_alloc does first), as errno.
int map_alloc_check(const bpf_attr& a) {
  const uint32_t f = a.map_flags;
  switch (a.map_type) {
    case BPF_MAP_TYPE_PROG_ARRAY:
    case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
    case BPF_MAP_TYPE_CGROUP_ARRAY:
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
      if (a.value_size != 4) return -EINVAL;
      if (f & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) return -EINVAL;
      [[fallthrough]];
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_ARRAY: {
      const uint32_t mask =
          BPF_F_NUMA_NODE | BPF_F_MMAPABLE | kAccess | BPF_F_INNER_MAP | BPF_F_PRESERVE_ELEMS;
      if (a.max_entries == 0 || a.key_size != 4 || a.value_size == 0 || (f & ~mask) || !access_ok(f))
        return -EINVAL;
      if (a.map_type != BPF_MAP_TYPE_ARRAY && (f & (BPF_F_MMAPABLE | BPF_F_INNER_MAP))) return -EINVAL;
      if (a.map_type != BPF_MAP_TYPE_PERF_EVENT_ARRAY && (f & BPF_F_PRESERVE_ELEMS)) return -EINVAL;
      if (a.value_size > INT_MAX) return -E2BIG;
      if (a.map_type == BPF_MAP_TYPE_PERCPU_ARRAY && round_up8(a.value_size) > 32768) return -E2BIG;
      // bpfvm's maps cannot be mmap()ed: refusing the flag makes libbpf's probe turn it off.
      if (f & BPF_F_MMAPABLE) return -EINVAL;
      return 0;
    }
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_HASH_OF_MAPS: {
      const bool lru = a.map_type == BPF_MAP_TYPE_LRU_HASH || a.map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
      const bool percpu =
          a.map_type == BPF_MAP_TYPE_PERCPU_HASH || a.map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
      const uint32_t mask =
          BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | kAccess | BPF_F_ZERO_SEED;
      if (a.map_type == BPF_MAP_TYPE_HASH_OF_MAPS && a.value_size != 4) return -EINVAL;
      if ((f & ~mask) || !access_ok(f)) return -EINVAL;
      if (!lru && (f & BPF_F_NO_COMMON_LRU)) return -EINVAL;
      if (lru && (f & BPF_F_NO_PREALLOC)) return -kENOTSUPP;
      if (a.max_entries == 0 || a.key_size == 0 || a.value_size == 0) return -EINVAL;
      if (uint64_t(a.key_size) + a.value_size >= kKmallocMax - 48) return -E2BIG;
      if (percpu && round_up8(a.value_size) > 32768) return -E2BIG;
      if (a.key_size > 512) return -E2BIG;  // bpfvm keeps keys on the BPF stack's limit
      return 0;
    }
    case BPF_MAP_TYPE_QUEUE:
    case BPF_MAP_TYPE_STACK:
      if (a.max_entries == 0 || a.key_size != 0 || a.value_size == 0 || (f & ~(BPF_F_NUMA_NODE | kAccess)) ||
          !access_ok(f))
        return -EINVAL;
      if (a.value_size > kKmallocMax) return -E2BIG;
      return 0;
    case BPF_MAP_TYPE_RINGBUF:
      if (f & ~BPF_F_NUMA_NODE) return -EINVAL;
      if (a.key_size || a.value_size || a.max_entries == 0 || (a.max_entries & (a.max_entries - 1)) ||
          a.max_entries % 4096)
        return -EINVAL;
      return 0;
    case BPF_MAP_TYPE_LPM_TRIE:
      if (a.max_entries == 0 || !(f & BPF_F_NO_PREALLOC) ||
          (f & ~(BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | kAccess)) || !access_ok(f) || a.key_size < 5 ||
          a.key_size > 4 + 256 || a.value_size < 1 || a.value_size > kKmallocMax - 256 - 48)
        return -EINVAL;
      return 0;
    case BPF_MAP_TYPE_BLOOM_FILTER:
      if (a.key_size != 0 || a.value_size == 0 || a.max_entries == 0 ||
          (f & ~(BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | kAccess)) || !access_ok(f) || (a.map_extra & ~0xfULL))
        return -EINVAL;
      return 0;
    case BPF_MAP_TYPE_DEVMAP:
    case BPF_MAP_TYPE_DEVMAP_HASH:
    case BPF_MAP_TYPE_CPUMAP:
    case BPF_MAP_TYPE_XSKMAP: {
      const bool prog_value = a.map_type != BPF_MAP_TYPE_XSKMAP;  // {u32, prog fd}
      const uint32_t mask =
          a.map_type == BPF_MAP_TYPE_CPUMAP ? BPF_F_NUMA_NODE : BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY;
      if (a.max_entries == 0 || a.key_size != 4 ||
          (a.value_size != 4 && !(prog_value && a.value_size == 8)) || (f & ~mask))
        return -EINVAL;
      if (a.map_type == BPF_MAP_TYPE_CPUMAP && a.max_entries > host_nr_cpus()) return -E2BIG;
      if (a.map_type == BPF_MAP_TYPE_DEVMAP_HASH && a.max_entries > (1u << 31)) return -EINVAL;
      return 0;
    }
    case BPF_MAP_TYPE_STACK_TRACE: {
      if (f & ~(BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_STACK_BUILD_ID)) return -EINVAL;
      if (a.max_entries == 0 || a.key_size != 4 || a.value_size < 8 || a.value_size % 8) return -EINVAL;
      const uint32_t entry = f & BPF_F_STACK_BUILD_ID ? sizeof(bpf_stack_build_id) : 8;
      if (a.value_size % entry || a.value_size / entry > 127) return -EINVAL;  // perf_event_max_stack
      if (a.max_entries > (1u << 31)) return -E2BIG;
      return 0;
    }
    default:
      return -EOPNOTSUPP;  // a kernel map type bpfvm does not emulate
  }
}

constexpr uint32_t kKernelMapTypes = 34;  // __MAX_BPF_MAP_TYPE of Linux 6.9+ (arena is 33)

long cmd_map_create(State& s, const bpf_attr& a) {
  if (!tail_zero(a, BPFVM_END(map_extra))) return -EINVAL;
  if (a.map_type != BPF_MAP_TYPE_BLOOM_FILTER && a.map_extra != 0) return -EINVAL;
  if ((a.map_flags & BPF_F_RDONLY) && (a.map_flags & BPF_F_WRONLY)) return -EINVAL;
  if (a.map_type == 0 || a.map_type >= kKernelMapTypes) return -EINVAL;
  if (int e = map_alloc_check(a)) return e;
  MapDef def;
  if (name_copy(a.map_name, &def.name) != 0) return -EINVAL;
  def.type = static_cast<MapType>(a.map_type);
  def.key_size = a.key_size;
  def.value_size = a.value_size;
  def.max_entries = a.max_entries;
  def.map_flags = a.map_flags;
  def.map_extra = a.map_extra;
  def.read_only = (a.map_flags & BPF_F_RDONLY_PROG) != 0;
  int err = 0;
  std::shared_ptr<MapObj> inner;
  if (a.map_type == BPF_MAP_TYPE_ARRAY_OF_MAPS || a.map_type == BPF_MAP_TYPE_HASH_OF_MAPS) {
    auto o = obj_of_fd(s, int(a.inner_map_fd), &err);
    if (!o) return -err;
    if (o->kind != Kind::Map) return -EINVAL;
    inner = std::static_pointer_cast<MapObj>(o);
    MapDef in = inner->def;
    in.inner.clear();
    def.inner.push_back(in);
  }
  std::shared_ptr<BtfObj> btf;
  if (a.btf_key_type_id || a.btf_value_type_id || a.btf_vmlinux_value_type_id) {
    if (a.btf_vmlinux_value_type_id) return -EOPNOTSUPP;  // struct_ops maps
    auto o = obj_of_fd(s, int(a.btf_fd), &err);
    if (!o) return -err;
    if (o->kind != Kind::Btf) return -EINVAL;
    btf = std::static_pointer_cast<BtfObj>(o);
  }
  auto m = create_map_obj(s, def, &err);
  if (!m) return -err;
  m->btf = btf;
  m->btf_key_type_id = btf ? a.btf_key_type_id : 0;
  m->btf_value_type_id = btf ? a.btf_value_type_id : 0;
  int fd = new_fd(s, m);
  return fd;
}

// ---- element commands ----

std::shared_ptr<MapObj> map_of_fd(State& s, int fd, int* err) {
  auto o = obj_of_fd(s, fd, err);
  if (!o) return nullptr;
  if (o->kind != Kind::Map) {
    *err = EINVAL;
    return nullptr;
  }
  return std::static_pointer_cast<MapObj>(o);
}

bool is_queue_stack(const MapObj& m) {
  return m.def.type == MapType::Queue || m.def.type == MapType::Stack || m.def.type == MapType::BloomFilter;
}
bool is_fd_map(const MapObj& m) {
  return m.def.type == MapType::ProgArray || m.def.type == MapType::ArrayOfMaps ||
         m.def.type == MapType::HashOfMaps || m.def.type == MapType::PerfEventArray;
}

long cmd_map_lookup(State& s, const bpf_attr& a, bool and_delete) {
  if (!tail_zero(a, BPFVM_END(flags))) return -EINVAL;
  int err = 0;
  auto m = map_of_fd(s, int(a.map_fd), &err);
  if (!m) return -err;
  if (m->def.map_flags & BPF_F_WRONLY) return -EPERM;
  if (and_delete && (m->frozen || (m->def.map_flags & BPF_F_RDONLY))) return -EPERM;
  if (a.flags & ~uint64_t(BPF_F_LOCK)) return -EINVAL;
  if (a.flags & BPF_F_LOCK) return -EINVAL;  // no map value has a bpf_spin_lock in bpfvm yet
  sync_in(s, *m);
  Map& map = *m->map;
  std::vector<uint8_t> key(m->def.key_size), value(map.copy_value_size());
  if (!user_read(key.data(), a.key, key.size())) return -EFAULT;
  int rc;
  if (and_delete) {
    if (m->def.type == MapType::Queue || m->def.type == MapType::Stack) {
      rc = map.pop(value.data());
    } else if (m->def.type == MapType::Hash || m->def.type == MapType::PercpuHash ||
               m->def.type == MapType::LruHash || m->def.type == MapType::LruPercpuHash) {
      rc = map.lookup_copy(key.data(), value.data());
      if (rc == 0) rc = map.remove(key.data());
    } else {
      rc = -kENOTSUPP;
    }
  } else if (m->def.type == MapType::PerfEventArray) {
    rc = -kENOTSUPP;  // perf event fds cannot be read back (prog arrays give program ids)
  } else {
    rc = map.lookup_copy(key.empty() ? nullptr : key.data(), value.data());
  }
  if (rc != 0) return rc;
  if (!user_write(a.value, value.data(), value.size())) return -EFAULT;
  if (and_delete) sync_out(s, *m);
  return 0;
}

long cmd_map_update(State& s, const bpf_attr& a) {
  if (!tail_zero(a, BPFVM_END(flags))) return -EINVAL;
  int err = 0;
  auto m = map_of_fd(s, int(a.map_fd), &err);
  if (!m) return -err;
  if (m->frozen || (m->def.map_flags & BPF_F_RDONLY)) return -EPERM;
  if ((a.flags & BPF_F_LOCK)) return -EINVAL;
  sync_in(s, *m);
  Map& map = *m->map;
  std::vector<uint8_t> key(m->def.key_size);
  if (!user_read(key.data(), a.key, key.size())) return -EFAULT;
  std::vector<uint8_t> value(map.copy_value_size());
  if (!user_read(value.data(), a.value, is_queue_stack(*m) ? m->def.value_size : value.size()))
    return -EFAULT;
  int rc;
  if (is_fd_map(*m)) {
    if (a.flags > BPF_EXIST) return -EINVAL;
    if (m->def.type == MapType::PerfEventArray) return -EOPNOTSUPP;  // needs a perf event fd
    int32_t fd;
    std::memcpy(&fd, value.data(), 4);
    auto o = obj_of_fd(s, fd, &err);
    if (!o) return -err;
    if (m->def.type == MapType::ProgArray) {
      if (o->kind != Kind::Prog) return -EINVAL;
      uint32_t id = o->id;
      rc = map.update(key.data(), &id, a.flags);
    } else {
      if (o->kind != Kind::Map) return -EINVAL;
      Map* inner = static_cast<MapObj*>(o.get())->map;
      if (auto* am = dynamic_cast<ArrayOfMapsMap*>(&map))
        rc = am->update_map(key.data(), inner, a.flags);
      else
        rc = static_cast<HashOfMapsMap&>(map).update_map(key.data(), inner, a.flags);
    }
    if (rc == 0) m->held[key] = o;
  } else if (is_queue_stack(*m)) {
    rc = map.push(value.data(), a.flags);
  } else {
    rc = map.update_copy(key.data(), value.data(), a.flags);
  }
  if (rc != 0) return rc;
  sync_out(s, *m);
  return 0;
}

long cmd_map_delete(State& s, const bpf_attr& a) {
  if (!tail_zero(a, BPFVM_END(key))) return -EINVAL;
  int err = 0;
  auto m = map_of_fd(s, int(a.map_fd), &err);
  if (!m) return -err;
  if (m->frozen || (m->def.map_flags & BPF_F_RDONLY)) return -EPERM;
  sync_in(s, *m);
  std::vector<uint8_t> key(m->def.key_size);
  if (!user_read(key.data(), a.key, key.size())) return -EFAULT;
  int rc = is_queue_stack(*m) ? -EINVAL : m->map->remove(key.data());
  if (rc != 0) return rc;
  m->held.erase(key);
  sync_out(s, *m);
  return 0;
}

long cmd_map_next_key(State& s, const bpf_attr& a) {
  if (!tail_zero(a, BPFVM_END(next_key))) return -EINVAL;
  int err = 0;
  auto m = map_of_fd(s, int(a.map_fd), &err);
  if (!m) return -err;
  if (m->def.map_flags & BPF_F_WRONLY) return -EPERM;
  sync_in(s, *m);
  std::vector<uint8_t> key(m->def.key_size), next(m->def.key_size);
  const void* k = nullptr;
  if (a.key != 0) {
    if (!user_read(key.data(), a.key, key.size())) return -EFAULT;
    k = key.data();
  }
  int rc = m->map->get_next_key(k, next.data());
  if (rc != 0) return rc;
  if (!user_write(a.next_key, next.data(), next.size())) return -EFAULT;
  return 0;
}

long cmd_map_freeze(State& s, const bpf_attr& a) {
  if (!tail_zero(a, BPFVM_END(map_fd))) return -EINVAL;
  int err = 0;
  auto m = map_of_fd(s, int(a.map_fd), &err);
  if (!m) return -err;
  // A frozen map has lost its write permission (map_get_sys_perms): EPERM before EBUSY.
  if (m->frozen || (m->def.map_flags & BPF_F_RDONLY)) return -EPERM;
  m->frozen = true;
  sync_out(s, *m);
  return 0;
}

// ---- PROG_LOAD ----

// The kernel's log buffer: at most size - 1 bytes and a NUL; a log that does not fit makes an
// otherwise successful load fail with ENOSPC.
int write_log(const bpf_attr& a, const std::string& log) {
  if (a.log_level == 0 || a.log_buf == 0 || a.log_size == 0) return 0;
  size_t n = std::min<size_t>(log.size(), a.log_size - 1);
  std::string text = log.substr(0, n);
  if (!user_write(a.log_buf, text.c_str(), n + 1)) return -EFAULT;
  return log.size() > n ? -ENOSPC : 0;
}

uint64_t boottime_ns() {
  timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

// Kernel-style verifier log of a verdict.
std::string verifier_log(const Program& code, const verifier::VerifyResult& vr, uint32_t level) {
  std::string log;
  if (level & 2) log += vr.log;
  for (const auto& d : vr.errors) {
    int32_t i = code.index_of_slot(d.pc);
    uint8_t opcode = i >= 0 ? code.insns[size_t(i)].info().opcode : 0;
    log += fmt::format("{}: ({:02x}) {}\n", d.pc, opcode, d.insn);
    if (!d.regs.empty()) log += d.regs + "\n";
    log += fmt::format("{} ({})\n", d.message, verifier::error_kind_name(d.kind));
  }
  log += fmt::format(
      "processed {} insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states {} "
      "mark_read 0\n",
      vr.stats.insns_analysed, vr.stats.peak_states);
  return log;
}

// What the kernel returns for a rejected program: EINVAL for malformed programs (unknown helper,
// bad map reference, unsupported instruction), EACCES for unsafe ones.
int reject_errno(const verifier::VerifyResult& vr) {
  for (const auto& d : vr.errors) {
    switch (d.kind) {
      case verifier::ErrorKind::UnknownHelper:
      case verifier::ErrorKind::InvalidMapRef:
      case verifier::ErrorKind::Unsupported:
      case verifier::ErrorKind::CallDepth:
        return -EINVAL;
      default:
        break;
    }
  }
  return -EACCES;
}

void compute_tag(ProgObj& p) {
  // The kernel's tag is a SHA-1 of the instructions with map fds cleared; bpfvm uses FNV-1a over
  // the same bytes (stable per program, not equal to the kernel's).
  uint64_t h = 0xcbf29ce484222325ULL;
  for (RawInsn in : p.insns) {
    if (in.opcode == 0x18 && (in.src == BPF_PSEUDO_MAP_FD || in.src == BPF_PSEUDO_MAP_VALUE)) in.imm = 0;
    const auto* b = reinterpret_cast<const uint8_t*>(&in);
    for (size_t i = 0; i < sizeof in; i++)
      h = (h ^ b[i]) * 0x100000001b3ULL;
  }
  std::memcpy(p.tag, &h, 8);
}

}  // namespace

std::shared_ptr<MapObj> create_map_obj(State& s, const MapDef& def, int* err) {
  auto made = s.maps.create(def);
  if (!made) {
    *err = made.error().code == ErrorCode::kUnsupported           ? EOPNOTSUPP
           : made.error().msg.find("memory") != std::string::npos ? ENOMEM
                                                                  : EINVAL;
    return nullptr;
  }
  auto m = std::make_shared<MapObj>();
  m->map = *made;
  m->def = def;
  m->def.map_flags = (*made)->def().map_flags;  // flags the map type adds (devmap: BPF_F_RDONLY_PROG)
  m->def.read_only = (*made)->def().read_only;
  register_id(s, m);
  return m;
}
// The ELF section name libbpf gives programs of an attach type: it names the hook whose context
// rules the verifier applies (VerifyOptions::section), as the ELF path does; "" for the others.
static std::string section_of_attach_type(uint32_t t) {
  switch (t) {
    case BPF_CGROUP_INET_INGRESS:
      return "cgroup_skb/ingress";
    case BPF_CGROUP_INET_EGRESS:
      return "cgroup_skb/egress";
    case BPF_CGROUP_INET_SOCK_CREATE:
      return "cgroup/sock_create";
    case BPF_CGROUP_INET_SOCK_RELEASE:
      return "cgroup/sock_release";
    case BPF_CGROUP_INET4_POST_BIND:
      return "cgroup/post_bind4";
    case BPF_CGROUP_INET6_POST_BIND:
      return "cgroup/post_bind6";
    case BPF_CGROUP_INET4_BIND:
      return "cgroup/bind4";
    case BPF_CGROUP_INET6_BIND:
      return "cgroup/bind6";
    case BPF_CGROUP_INET4_CONNECT:
      return "cgroup/connect4";
    case BPF_CGROUP_INET6_CONNECT:
      return "cgroup/connect6";
    case BPF_CGROUP_UDP4_SENDMSG:
      return "cgroup/sendmsg4";
    case BPF_CGROUP_UDP6_SENDMSG:
      return "cgroup/sendmsg6";
    case BPF_CGROUP_UDP4_RECVMSG:
      return "cgroup/recvmsg4";
    case BPF_CGROUP_UDP6_RECVMSG:
      return "cgroup/recvmsg6";
    case BPF_CGROUP_INET4_GETPEERNAME:
      return "cgroup/getpeername4";
    case BPF_CGROUP_INET6_GETPEERNAME:
      return "cgroup/getpeername6";
    case BPF_CGROUP_INET4_GETSOCKNAME:
      return "cgroup/getsockname4";
    case BPF_CGROUP_INET6_GETSOCKNAME:
      return "cgroup/getsockname6";
    case BPF_CGROUP_GETSOCKOPT:
      return "cgroup/getsockopt";
    case BPF_CGROUP_SETSOCKOPT:
      return "cgroup/setsockopt";
    default:
      return "";
  }
}

int load_program(State& s, LoadRequest req, std::shared_ptr<ProgObj>* out, std::string* log) {
  std::vector<uint8_t> bytes(req.insns.size() * sizeof(RawInsn));
  std::memcpy(bytes.data(), req.insns.data(), bytes.size());
  auto decoded = decode(bytes);
  if (!decoded) {
    *log = decoded.error().to_string() + "\n";
    return -EINVAL;
  }
  // GPL-only helpers need a GPL-compatible license (check_helper_call).
  const bool gpl = gpl_compatible(req.license);
  for (const Insn& in : decoded->insns) {
    if (in.op != Op::Call || in.src != 0) continue;
    const HelperProto* p = find_proto(uint32_t(in.imm));
    if (p == nullptr) {
      *log = fmt::format("{}: (85) call unknown#{}\ninvalid func unknown#{}\n", in.pc, in.imm, in.imm);
      return -EINVAL;
    }
    if (p->gpl_only && !gpl) {
      *log = fmt::format(
          "{}: (85) call bpf_{}#{}\ncannot call GPL-restricted function from non-GPL compatible "
          "program\n",
          in.pc, p->name, in.imm);
      return -EINVAL;
    }
  }
  verifier::VerifyOptions vo;
  vo.type = req.type;
  vo.section = section_of_attach_type(req.expected_attach_type);
  for (const auto& m : req.maps)
    vo.maps.push_back(m->def);
  vo.collect_log = (req.log_level & 2) != 0;
  auto vr = verifier::verify(*decoded, vo);
  if (!vr) {
    *log = vr.error().to_string() + "\n";
    return -EINVAL;
  }
  *log = verifier_log(*decoded, *vr, req.log_level);
  // BPFVM_ALLOW_UNVERIFIED=1 loads what bpfvm's verifier rejects (programs the kernel accepts but
  // bpfvm cannot prove yet, e.g. maps of maps): every test run is in checked mode anyway, so a
  // faulting access ends the run with EFAULT instead of corrupting memory.
  if (!vr->accepted) {
    if (!s.cfg.allow_unverified) return reject_errno(*vr);
    *log += "bpfvm: loaded although the verifier rejected it (BPFVM_ALLOW_UNVERIFIED)\n";
  }

  auto p = std::make_shared<ProgObj>();
  // Map references become host addresses (the Map object, or the value for direct access).
  Program code = *decoded;
  for (Insn& in : code.insns) {
    const bool value = in.op == Op::LddwMapValue;
    if (!value && in.op != Op::LddwMapFd) continue;
    MapObj& m = *req.maps.at(uint32_t(in.imm));
    uint64_t addr = reinterpret_cast<uint64_t>(m.map);
    if (value) {
      const uint32_t off = uint32_t(in.imm64 >> 32);
      auto* am = dynamic_cast<ArrayMap*>(m.map);
      if (am == nullptr || m.map->is_percpu() || m.def.max_entries != 1) {
        *log += fmt::format("direct value access on map type {} is not supported\n", uint32_t(m.def.type));
        return -EINVAL;
      }
      if (off >= m.def.value_size) {
        *log +=
            fmt::format("invalid access to map value pointer, value_size={} off={}\n", m.def.value_size, off);
        return -EACCES;
      }
      auto* base = static_cast<uint8_t*>(am->value_ptr(0, 0));
      addr = reinterpret_cast<uint64_t>(base + off);
      const uint64_t b = reinterpret_cast<uint64_t>(base);
      if (std::none_of(p->data_regions.begin(), p->data_regions.end(),
                       [&](const MemRegion& r) { return r.base == b; })) {
        p->region_names.push_back(fmt::format("map '{}' value", m.def.name));
        p->data_regions.push_back(
            MemRegion{b, m.def.value_size, m.map->prog_writable(), p->region_names.back()});
      }
    }
    in.op = Op::Lddw;
    in.src = 0;
    in.imm = static_cast<int32_t>(static_cast<uint32_t>(addr));
    in.imm64 = addr;
  }
  auto interp = Interpreter::create(code, &s.helpers);
  if (!interp) {
    *log += interp.error().to_string() + "\n";
    return -EINVAL;
  }
  p->interp = std::move(*interp);
  p->type = req.type;
  p->expected_attach_type = req.expected_attach_type;
  p->name = req.name;
  p->license = req.license;
  p->gpl = gpl;
  p->insns = std::move(req.insns);
  p->maps = std::move(req.maps);
  p->load_time = boottime_ns();
  p->uid = getuid();
  p->verified_insns = uint32_t(std::min<uint64_t>(vr->stats.insns_analysed, UINT32_MAX));
  compute_tag(*p);
  p->id = req.id;
  register_id(s, p);
  *out = std::move(p);
  return 0;
}

namespace {

constexpr uint32_t kKernelProgTypes = 33;  // __MAX_BPF_PROG_TYPE of Linux 6.4+ (netfilter is 32)

long cmd_prog_load(State& s, const bpf_attr& a, const Out& o) {
  if (!tail_zero(a, BPFVM_END(core_relo_rec_size))) return -EINVAL;
  const uint32_t known_flags = BPF_F_STRICT_ALIGNMENT | BPF_F_ANY_ALIGNMENT | BPF_F_TEST_STATE_FREQ |
                               BPF_F_SLEEPABLE | BPF_F_TEST_RND_HI32 | BPF_F_XDP_HAS_FRAGS;
  if (a.prog_flags & ~known_flags) return -EINVAL;
  if (a.prog_type >= kKernelProgTypes) return -EINVAL;
  if (a.insn_cnt == 0 || a.insn_cnt > 1'000'000) return -E2BIG;
  // bpf_verifier_log_attr_valid: a small buffer is valid (the log is cut, the load fails with ENOSPC).
  if ((a.log_buf != 0) != (a.log_size != 0) || (a.log_buf && a.log_level == 0) || (a.log_level & ~7u) ||
      a.log_size > (UINT_MAX >> 2))
    return -EINVAL;
  LoadRequest req;
  if (!user_string(a.license, 127, &req.license)) return -EFAULT;
  if (name_copy(a.prog_name, &req.name) != 0) return -EINVAL;
  req.type = static_cast<ProgType>(a.prog_type);
  req.expected_attach_type = a.expected_attach_type;
  req.log_level = a.log_level;
  req.insns.resize(a.insn_cnt);
  if (!user_read(req.insns.data(), a.insns, a.insn_cnt * sizeof(RawInsn))) return -EFAULT;
  if (a.prog_btf_fd != 0 && a.prog_btf_fd != uint32_t(-1)) {
    int err = 0;
    auto b = obj_of_fd(s, int(a.prog_btf_fd), &err);
    if (b && b->kind != Kind::Btf) return -EINVAL;
  }
  // Map references: fds (src 1/2), or fd_array slots (src 5/6), become indexes into req.maps.
  std::string log;
  for (size_t i = 0; i < req.insns.size(); i++) {
    RawInsn& in = req.insns[i];
    if (in.opcode != 0x18) continue;
    if (i + 1 >= req.insns.size()) break;  // the decoder reports it
    int fd = in.imm;
    uint8_t src = in.src;
    if (src == BPF_PSEUDO_MAP_IDX || src == BPF_PSEUDO_MAP_IDX_VALUE) {
      if (a.fd_array == 0) return -EINVAL;
      if (!user_read(&fd, a.fd_array + uint64_t(uint32_t(in.imm)) * 4, 4)) return -EFAULT;
      src = src == BPF_PSEUDO_MAP_IDX ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE;
    }
    if (src == BPF_PSEUDO_MAP_FD || src == BPF_PSEUDO_MAP_VALUE) {
      int err = 0;
      auto m = map_of_fd(s, fd, &err);
      if (!m) {
        log = fmt::format("fd {} is not pointing to valid bpf_map\n", fd);
        write_log(a, log);
        return -err;
      }
      auto it = std::find(req.maps.begin(), req.maps.end(), m);
      size_t idx = size_t(it - req.maps.begin());
      if (it == req.maps.end()) req.maps.push_back(m);
      in.src = src;
      in.imm = int32_t(idx);
    } else if (src == BPF_PSEUDO_BTF_ID) {
      write_log(a, "ksym and kfunc references are not supported by bpfvm\n");
      return -EINVAL;
    }
    i++;  // the second slot
  }
  for (const auto& m : req.maps)
    sync_in(s, *m);
  std::shared_ptr<ProgObj> p;
  int rc = load_program(s, std::move(req), &p, &log);
  int lrc = write_log(a, log);
  if (rc != 0) return rc;
  if (lrc != 0) return lrc;
  if (a.prog_btf_fd != 0) {
    int err = 0;
    if (auto b = obj_of_fd(s, int(a.prog_btf_fd), &err); b && b->kind == Kind::Btf)
      p->btf = std::static_pointer_cast<BtfObj>(b);
  }
  (void)o;
  return new_fd(s, p);
}

// ---- PROG_TEST_RUN ----

bool kernel_has_test_run(ProgType t) {
  switch (t) {
    case ProgType::SocketFilter:
    case ProgType::SchedCls:
    case ProgType::SchedAct:
    case ProgType::Xdp:
    case ProgType::CgroupSkb:
    case ProgType::LwtIn:
    case ProgType::LwtOut:
    case ProgType::LwtXmit:
    case ProgType::LwtSeg6local:
    case ProgType::FlowDissector:
    case ProgType::RawTracepoint:
    case ProgType::Tracing:
    case ProgType::SkLookup:
    case ProgType::Syscall:
    case ProgType::StructOps:
    case ProgType::Netfilter:
      return true;
    default:
      return false;
  }
}

long cmd_prog_test_run(State& s, const bpf_attr& a, const Out& o) {
  if (!tail_zero(a, BPFVM_END(test.batch_size))) return -EINVAL;
  const auto& t = a.test;
  if ((t.ctx_size_in && !t.ctx_in) || (!t.ctx_size_in && t.ctx_in)) return -EINVAL;
  if ((t.ctx_size_out && !t.ctx_out) || (!t.ctx_size_out && t.ctx_out)) return -EINVAL;
  int err = 0;
  auto obj = obj_of_fd(s, int(t.prog_fd), &err);
  if (!obj) return -err;
  if (obj->kind != Kind::Prog) return -EINVAL;
  auto p = std::static_pointer_cast<ProgObj>(obj);
  if (!kernel_has_test_run(p->type)) return -kENOTSUPP;
  auto kind = context_kind(p->type);
  if (!kind || p->type == ProgType::Tracing) return -EOPNOTSUPP;
  ContextInput in;
  if (*kind == ContextKind::Args) {
    // bpf_prog_test_run_raw_tp
    if (t.data_in || t.data_out || t.ctx_out || t.duration || t.repeat || t.batch_size) return -EINVAL;
    if (t.ctx_size_in > 12 * 8) return -EINVAL;
    if ((t.flags & ~uint32_t(BPF_F_TEST_RUN_ON_CPU)) || (!(t.flags & BPF_F_TEST_RUN_ON_CPU) && t.cpu))
      return -EINVAL;
  } else if (*kind == ContextKind::Xdp) {
    if (t.flags & ~uint32_t(BPF_F_TEST_XDP_LIVE_FRAMES)) return -EINVAL;
    if (t.flags & BPF_F_TEST_XDP_LIVE_FRAMES) return -EOPNOTSUPP;
    if (t.cpu) return -EINVAL;
  } else {
    if (t.flags || t.cpu || t.batch_size) return -EINVAL;
  }
  bool ok = true;
  if (t.data_in) in.packet = user_bytes(t.data_in, t.data_size_in, &ok);
  if (ok && t.ctx_in) in.ctx = user_bytes(t.ctx_in, t.ctx_size_in, &ok);
  if (!ok) return -EFAULT;
  in.repeat = t.repeat == 0 ? 1 : t.repeat;
  if (!s.scratch) {
    auto sc = RunScratch::create();
    if (!sc) return -ENOMEM;
    s.scratch = std::move(*sc);
  }
  for (const auto& m : p->maps)
    sync_in(s, *m);

  ContextRunEnv env;
  env.data_regions = p->data_regions;
  env.resolver = &s.maps;
  env.tail_calls = &s;
  env.helpers.maps = &s.maps;
  env.helpers.prog_type = static_cast<uint32_t>(p->type);
  env.helpers.gpl = p->gpl;
  RunOptions ro;  // checked mode: helpers and tail calls may reach memory the verifier did not model
  bool faulted = false;
  auto run_once = [&](const RunInput& ri, RunStats* stats) {
    auto r = p->interp->run(ri, ro, s.env, stats);
    faulted = !r;
    return r;
  };
  auto run = run_in_context(p->type, in, *s.scratch, env, run_once);
  if (!run) {
    if (!faulted) return -EINVAL;  // the context (test_run's checks)
    fmt::print(stderr, "bpfvm: program '{}' faulted: {}\n", p->name, run.error().to_string());
    return -EFAULT;
  }
  for (const auto& m : p->maps)
    sync_out(s, *m);
  p->run_cnt += in.repeat;
  p->run_time_ns += run->total_ns;
  const std::vector<uint8_t>& pkt = run->packet;
  const std::vector<uint8_t>& ctx = run->ctx;
  long rc = 0;
  if (t.data_out && *kind != ContextKind::Args) {
    size_t n = pkt.size();
    if (t.data_size_out && n > t.data_size_out) {
      n = t.data_size_out;
      rc = -ENOSPC;
    }
    if (!user_write(t.data_out, pkt.data(), n)) return -EFAULT;
  }
  if (*kind != ContextKind::Args) o.put(offsetof(bpf_attr, test.data_size_out), uint32_t(pkt.size()));
  if (t.ctx_out && !t.ctx_in) {
    // The kernel copies the context back only when one was given.
  } else if (t.ctx_out) {
    size_t n = ctx.size();
    if (n > t.ctx_size_out) {
      n = t.ctx_size_out;
      rc = -ENOSPC;
    }
    if (!user_write(t.ctx_out, ctx.data(), n)) return -EFAULT;
    o.put(offsetof(bpf_attr, test.ctx_size_out), uint32_t(ctx.size()));
  }
  o.put(offsetof(bpf_attr, test.retval), uint32_t(run->r0));
  o.put(offsetof(bpf_attr, test.duration), uint32_t(run->total_ns / in.repeat));
  return rc;
}

// ---- OBJ_GET_INFO_BY_FD ----

template <class Info>
long info_begin(const bpf_attr& a, Info* info, uint32_t* len) {
  *len = a.info.info_len;
  if (*len > sizeof(Info)) {  // bpf_check_uarg_tail_zero
    if (*len > 4096) return -E2BIG;
    bool ok = true;
    auto tail = user_bytes(a.info.info + sizeof(Info), *len - sizeof(Info), &ok);
    if (!ok) return -EFAULT;
    if (std::any_of(tail.begin(), tail.end(), [](uint8_t b) { return b != 0; })) return -E2BIG;
    *len = sizeof(Info);
  }
  std::memset(info, 0, sizeof(Info));
  if (!user_read(info, a.info.info, *len)) return -EFAULT;
  return 0;
}

template <class Info>
long info_end(const bpf_attr& a, const Out& o, const Info& info, uint32_t len) {
  if (!user_write(a.info.info, &info, len)) return -EFAULT;
  o.put(offsetof(bpf_attr, info.info_len), len);
  return 0;
}

long prog_info(State& s, const bpf_attr& a, const Out& o, ProgObj& p) {
  bpf_prog_info in_info, info;
  uint32_t len;
  if (long e = info_begin(a, &in_info, &len)) return e;
  std::memset(&info, 0, sizeof info);
  info.type = uint32_t(p.type);
  info.id = p.id;
  std::memcpy(info.tag, p.tag, 8);
  info.created_by_uid = p.uid;
  info.load_time = p.load_time;
  info.gpl_compatible = p.gpl;
  std::memcpy(info.name, p.name.data(), std::min<size_t>(p.name.size(), BPF_OBJ_NAME_LEN - 1));
  info.btf_id = p.btf ? p.btf->id : 0;
  info.run_time_ns = p.run_time_ns;
  info.run_cnt = p.run_cnt;
  info.verified_insns = p.verified_insns;
  // Translated instructions: as loaded, map references by map id (as bpf_insn_prepare_dump shows).
  std::vector<RawInsn> x = p.insns;
  for (size_t i = 0; i < x.size(); i++)
    if (x[i].opcode == 0x18 && (x[i].src == BPF_PSEUDO_MAP_FD || x[i].src == BPF_PSEUDO_MAP_VALUE))
      x[i].imm = int32_t(p.maps.at(uint32_t(x[i].imm))->id);
  info.xlated_prog_len = uint32_t(x.size() * sizeof(RawInsn));
  if (in_info.xlated_prog_len && in_info.xlated_prog_insns) {
    if (!user_write(in_info.xlated_prog_insns, x.data(),
                    std::min<size_t>(in_info.xlated_prog_len, info.xlated_prog_len)))
      return -EFAULT;
    info.xlated_prog_insns = in_info.xlated_prog_insns;
  }
  info.nr_map_ids = uint32_t(p.maps.size());
  if (in_info.nr_map_ids && in_info.map_ids) {
    std::vector<uint32_t> ids;
    for (size_t i = 0; i < std::min<size_t>(in_info.nr_map_ids, p.maps.size()); i++)
      ids.push_back(p.maps[i]->id);
    if (!user_write(in_info.map_ids, ids.data(), ids.size() * 4)) return -EFAULT;
    info.map_ids = in_info.map_ids;
  }
  (void)s;
  return info_end(a, o, info, len);
}

long map_info(const bpf_attr& a, const Out& o, MapObj& m) {
  bpf_map_info info;
  uint32_t len;
  if (long e = info_begin(a, &info, &len)) return e;
  std::memset(&info, 0, sizeof info);
  info.type = uint32_t(m.def.type);
  info.id = m.id;
  info.key_size = m.def.key_size;
  info.value_size = m.def.value_size;
  info.max_entries = m.map->def().max_entries;
  info.map_flags = m.def.map_flags;
  std::memcpy(info.name, m.def.name.data(), std::min<size_t>(m.def.name.size(), BPF_OBJ_NAME_LEN - 1));
  info.btf_id = m.btf ? m.btf->id : 0;
  info.btf_key_type_id = m.btf_key_type_id;
  info.btf_value_type_id = m.btf_value_type_id;
  info.map_extra = m.def.map_extra;
  return info_end(a, o, info, len);
}

long btf_info(const bpf_attr& a, const Out& o, BtfObj& b) {
  bpf_btf_info in_info, info;
  uint32_t len;
  if (long e = info_begin(a, &in_info, &len)) return e;
  std::memset(&info, 0, sizeof info);
  info.id = b.id;
  info.btf_size = uint32_t(b.data.size());
  if (in_info.btf) {
    if (!user_write(in_info.btf, b.data.data(), std::min<size_t>(in_info.btf_size, b.data.size())))
      return -EFAULT;
    info.btf = in_info.btf;
  }
  if (in_info.name && in_info.name_len) {
    const char nul = 0;
    if (!user_write(in_info.name, &nul, 1)) return -EFAULT;
    info.name = in_info.name;
  }
  info.name_len = 0;
  return info_end(a, o, info, len);
}

long cmd_info(State& s, const bpf_attr& a, const Out& o) {
  if (!tail_zero(a, BPFVM_END(info.info))) return -EINVAL;
  int err = 0;
  auto obj = obj_of_fd(s, int(a.info.bpf_fd), &err);
  if (!obj) return -err;
  switch (obj->kind) {
    case Kind::Prog:
      return prog_info(s, a, o, static_cast<ProgObj&>(*obj));
    case Kind::Map:
      sync_in(s, static_cast<MapObj&>(*obj));
      return map_info(a, o, static_cast<MapObj&>(*obj));
    case Kind::Btf:
      return btf_info(a, o, static_cast<BtfObj&>(*obj));
  }
  return -EINVAL;
}

// ---- BTF_LOAD ----

long cmd_btf_load(State& s, const bpf_attr& a) {
  if (!tail_zero(a, BPFVM_END(btf_log_level))) return -EINVAL;
  if (a.btf_size > (16u << 20)) return -E2BIG;
  if ((a.btf_log_buf != 0) != (a.btf_log_size != 0) || (a.btf_log_buf && a.btf_log_level == 0) ||
      (a.btf_log_level & ~7u) || a.btf_log_size > (UINT_MAX >> 2))
    return -EINVAL;
  if (a.btf == 0 || a.btf_size == 0) return -EINVAL;
  bool ok = true;
  std::vector<uint8_t> data = user_bytes(a.btf, a.btf_size, &ok);
  if (!ok) return -EFAULT;
  struct btf* parsed = btf__new(data.data(), uint32_t(data.size()));
  if (parsed == nullptr) {
    if (a.btf_log_level && a.btf_log_size) {
      std::string msg = "btf: invalid BTF (libbpf btf__new rejected it)\n";
      size_t n = std::min<size_t>(msg.size(), a.btf_log_size - 1);
      std::string text = msg.substr(0, n);
      user_write(a.btf_log_buf, text.c_str(), n + 1);
    }
    return -EINVAL;
  }
  btf__free(parsed);
  auto b = std::make_shared<BtfObj>();
  b->data = std::move(data);
  register_id(s, b);
  return new_fd(s, b);
}

// ---- ids ----

Kind kind_of_cmd(int cmd) {
  switch (cmd) {
    case BPF_PROG_GET_NEXT_ID:
    case BPF_PROG_GET_FD_BY_ID:
      return Kind::Prog;
    case BPF_MAP_GET_NEXT_ID:
    case BPF_MAP_GET_FD_BY_ID:
      return Kind::Map;
    default:
      return Kind::Btf;
  }
}

long cmd_next_id(State& s, int cmd, const bpf_attr& a, const Out& o) {
  if (!tail_zero(a, BPFVM_END(next_id))) return -EINVAL;
  const Kind k = kind_of_cmd(cmd);
  gc_locked(s);
  uint32_t best = 0;
  for (const auto& [id, w] : s.ids) {
    auto obj = w.lock();
    if (obj && obj->kind == k && id > a.start_id && (best == 0 || id < best)) best = id;
  }
  for (uint32_t id : persisted_ids(s, k))
    if (id > a.start_id && (best == 0 || id < best)) best = id;
  if (best == 0) return -ENOENT;
  o.put(offsetof(bpf_attr, next_id), best);
  return 0;
}

long cmd_fd_by_id(State& s, int cmd, const bpf_attr& a) {
  if (!tail_zero(a, BPFVM_END(open_flags))) return -EINVAL;
  if (a.open_flags & ~uint32_t(BPF_F_RDONLY | BPF_F_WRONLY)) return -EINVAL;
  if (cmd != BPF_MAP_GET_FD_BY_ID && a.open_flags) return -EINVAL;
  auto obj = obj_by_id(s, kind_of_cmd(cmd), a.prog_id);
  if (!obj) return -ENOENT;
  return new_fd(s, obj);
}

// ---- pins ----

long cmd_obj_pin(State& s, const bpf_attr& a) {
  if (!tail_zero(a, BPFVM_END(file_flags))) return -EINVAL;
  if (a.file_flags != 0) return -EINVAL;
  int err = 0;
  auto obj = obj_of_fd(s, int(a.bpf_fd), &err);
  if (!obj) return -err;
  std::string path;
  if (!user_string(a.pathname, 4096, &path)) return -EFAULT;
  return pin_object(s, obj, path);
}

long cmd_obj_get(State& s, const bpf_attr& a) {
  if (!tail_zero(a, BPFVM_END(file_flags))) return -EINVAL;
  if (a.bpf_fd != 0 || (a.file_flags & ~uint32_t(BPF_F_RDONLY | BPF_F_WRONLY))) return -EINVAL;
  int err = 0;
  std::string path;
  if (!user_string(a.pathname, 4096, &path)) return -EFAULT;
  auto obj = get_pinned(s, path, &err);
  if (!obj) return -err;
  return new_fd(s, obj);
}

long dispatch(State& s, int cmd, const bpf_attr& a, const Out& o) {
  switch (cmd) {
    case BPF_MAP_CREATE:
      return cmd_map_create(s, a);
    case BPF_MAP_LOOKUP_ELEM:
      return cmd_map_lookup(s, a, false);
    case BPF_MAP_LOOKUP_AND_DELETE_ELEM:
      return cmd_map_lookup(s, a, true);
    case BPF_MAP_UPDATE_ELEM:
      return cmd_map_update(s, a);
    case BPF_MAP_DELETE_ELEM:
      return cmd_map_delete(s, a);
    case BPF_MAP_GET_NEXT_KEY:
      return cmd_map_next_key(s, a);
    case BPF_MAP_FREEZE:
      return cmd_map_freeze(s, a);
    case BPF_PROG_LOAD:
      return cmd_prog_load(s, a, o);
    case BPF_PROG_TEST_RUN:
      return cmd_prog_test_run(s, a, o);
    case BPF_OBJ_GET_INFO_BY_FD:
      return cmd_info(s, a, o);
    case BPF_BTF_LOAD:
      return cmd_btf_load(s, a);
    case BPF_OBJ_PIN:
      return cmd_obj_pin(s, a);
    case BPF_OBJ_GET:
      return cmd_obj_get(s, a);
    case BPF_PROG_GET_NEXT_ID:
    case BPF_MAP_GET_NEXT_ID:
    case BPF_BTF_GET_NEXT_ID:
      return cmd_next_id(s, cmd, a, o);
    case BPF_PROG_GET_FD_BY_ID:
    case BPF_MAP_GET_FD_BY_ID:
    case BPF_BTF_GET_FD_BY_ID:
      return cmd_fd_by_id(s, cmd, a);
    default:
      break;
  }
  // Commands the kernel knows (up to BPF_TOKEN_CREATE, 36) but bpfvm does not emulate.
  return cmd >= 0 && cmd <= 36 ? -EOPNOTSUPP : -EINVAL;
}

}  // namespace

bool emulates(int cmd) {
  static constexpr int kEmulated[] = {BPF_MAP_CREATE,
                                      BPF_MAP_LOOKUP_ELEM,
                                      BPF_MAP_LOOKUP_AND_DELETE_ELEM,
                                      BPF_MAP_UPDATE_ELEM,
                                      BPF_MAP_DELETE_ELEM,
                                      BPF_MAP_GET_NEXT_KEY,
                                      BPF_MAP_FREEZE,
                                      BPF_PROG_LOAD,
                                      BPF_PROG_TEST_RUN,
                                      BPF_OBJ_GET_INFO_BY_FD,
                                      BPF_BTF_LOAD,
                                      BPF_OBJ_PIN,
                                      BPF_OBJ_GET,
                                      BPF_PROG_GET_NEXT_ID,
                                      BPF_MAP_GET_NEXT_ID,
                                      BPF_BTF_GET_NEXT_ID,
                                      BPF_PROG_GET_FD_BY_ID,
                                      BPF_MAP_GET_FD_BY_ID,
                                      BPF_BTF_GET_FD_BY_ID};
  return std::find(std::begin(kEmulated), std::end(kEmulated), cmd) != std::end(kEmulated);
}

std::optional<std::string> fd_kind(int fd) {
  // Called from close(2) of every process the library is preloaded into: no state, no work.
  if (peek_state() == nullptr) return std::nullopt;
  State& s = state();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  if (s.fds.empty()) return std::nullopt;
  int err = 0;
  auto o = obj_of_fd(s, fd, &err);
  if (!o) return std::nullopt;
  return std::string(kind_name(o->kind));
}

std::optional<std::string> fdinfo_text(int fd) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  int err = 0;
  auto o = obj_of_fd(s, fd, &err);
  if (!o) return std::nullopt;
  std::string t = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1\n";
  if (o->kind == Kind::Map) {
    auto& m = static_cast<MapObj&>(*o);
    t += fmt::format(
        "map_type:\t{}\nkey_size:\t{}\nvalue_size:\t{}\nmax_entries:\t{}\nmap_flags:\t{:#x}\n"
        "map_extra:\t{:#x}\nmemlock:\t{}\nmap_id:\t{}\nfrozen:\t{}\n",
        uint32_t(m.def.type), m.def.key_size, m.def.value_size, m.map->def().max_entries, m.def.map_flags,
        m.def.map_extra, m.map->memory_bytes(), m.id, m.frozen ? 1 : 0);
  } else if (o->kind == Kind::Prog) {
    auto& p = static_cast<ProgObj&>(*o);
    std::string tag;
    for (uint8_t b : p.tag)
      tag += fmt::format("{:02x}", b);
    t += fmt::format(
        "prog_type:\t{}\nprog_jited:\t0\nprog_tag:\t{}\nmemlock:\t4096\nprog_id:\t{}\n"
        "run_time_ns:\t{}\nrun_cnt:\t{}\nrecursion_misses:\t0\nverified_insns:\t{}\n",
        uint32_t(p.type), tag, p.id, p.run_time_ns, p.run_cnt, p.verified_insns);
  } else {
    t += fmt::format("btf_id:\t{}\n", o->id);
  }
  return t;
}

void gc() {
  State& s = state();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  gc_locked(s);
}

}  // namespace bpfvm::sys

namespace bpfvm::sys {
namespace {
// __sys_bpf: the attr checks and copy, then the command.
long sys_bpf(int cmd, bpf_attr* uattr, unsigned size) {
  State& s = state();
  // bpf_check_uarg_tail_zero: bytes past the kernel's union must be zero.
  if (size > 4096) return -E2BIG;
  const uint64_t u = reinterpret_cast<uint64_t>(uattr);
  if (size > sizeof(bpf_attr)) {
    bool ok = true;
    auto tail = user_bytes(u + sizeof(bpf_attr), size - sizeof(bpf_attr), &ok);
    if (!ok) return -EFAULT;
    if (std::any_of(tail.begin(), tail.end(), [](uint8_t b) { return b != 0; })) return -E2BIG;
  }
  bpf_attr a;
  std::memset(&a, 0, sizeof a);
  if (!user_read(&a, u, std::min<size_t>(size, sizeof a))) return -EFAULT;
  std::lock_guard<std::recursive_mutex> g(s.mu);
  ensure_configured(s);
  return dispatch(s, cmd, a, Out{uattr, size});
}
}  // namespace
}  // namespace bpfvm::sys

extern "C" long bpfvm_bpf(int cmd, union bpf_attr* uattr, unsigned int size) {
  long rc = bpfvm::sys::sys_bpf(cmd, uattr, size);
  if (rc < 0) {
    errno = int(-rc);
    return -1;
  }
  return rc;
}
