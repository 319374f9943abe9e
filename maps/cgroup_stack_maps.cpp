#include "maps/cgroup_stack_maps.h"

#include <sys/stat.h>
#include <sys/vfs.h>

#include <fstream>
#include <sstream>
#include <string>

#include "maps/map_internal.h"

namespace bpfvm {

namespace {

constexpr long kCgroup2SuperMagic = 0x63677270;  // CGROUP2_SUPER_MAGIC

// Where cgroup v2 is mounted (/proc/self/mountinfo), or "" when it is not.
std::string cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream f(line.substr(0, dash));
    std::string id, parent, devno, root, mount;
    f >> id >> parent >> devno >> root >> mount;
    return mount;
  }
  return "";
}

// The calling thread's cgroup v2 directory ("0::/path" of /proc/thread-self/cgroup under the
// cgroup2 mount), or "" when there is none.
std::string own_cgroup_dir(const std::string& mount) {
  std::ifstream in("/proc/thread-self/cgroup");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) return mount + (line.size() > 3 && line[3] == '/' ? line.substr(3) : "/");
  return "";
}

}  // namespace

// ---- cgroup_array ----

CgroupArrayMap::CgroupArrayMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts), slots_(new Cgroup[def.max_entries]) {}

int CgroupArrayMap::update(const void* key, const void* value, uint64_t flags) {
  if (flags != kBpfAny) return -EINVAL;
  uint32_t i = load_u32(key);
  if (i >= def().max_entries) return -E2BIG;
  int fd = static_cast<int>(load_u32(value));
  struct stat st;
  struct statfs sf;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || fstatfs(fd, &sf) != 0 ||
      sf.f_type != kCgroup2SuperMagic)
    return -EBADF;  // not a cgroup v2 directory
  std::lock_guard<std::mutex> g(mu_);
  slots_[i] = Cgroup{st.st_dev, st.st_ino};
  return 0;
}

int CgroupArrayMap::remove(const void* key) {
  uint32_t i = load_u32(key);
  if (i >= def().max_entries) return -E2BIG;
  std::lock_guard<std::mutex> g(mu_);
  if (slots_[i].ino == 0) return -ENOENT;
  slots_[i] = Cgroup{};
  return 0;
}

int CgroupArrayMap::get_next_key(const void* key, void* next) {
  return array_get_next_key(def().max_entries, key, next);
}

int64_t CgroupArrayMap::current_task_under(uint32_t index) const {
  if (index >= def().max_entries) return -E2BIG;
  Cgroup c;
  {
    std::lock_guard<std::mutex> g(mu_);
    c = slots_[index];
  }
  if (c.ino == 0) return -EAGAIN;
  const std::string mount = cgroup2_mount();
  if (mount.empty()) return 0;
  std::string dir = own_cgroup_dir(mount);
  // task_under_cgroup_hierarchy: the slot's cgroup is the task's or one of its ancestors.
  while (!dir.empty()) {
    struct stat st;
    if (stat(dir.c_str(), &st) == 0 && st.st_dev == c.dev && st.st_ino == c.ino) return 1;
    if (dir.size() <= mount.size()) break;
    size_t slash = dir.find_last_of('/');
    if (slash == std::string::npos || slash < mount.size()) break;
    dir.resize(slash);
  }
  return 0;
}

// ---- stack_trace ----

StackTraceMap::StackTraceMap(const MapDef& def, const MapOptions& opts) : Map(def, opts) {
  n_buckets_ = 1;
  while (n_buckets_ < def.max_entries)
    n_buckets_ <<= 1;
}

int StackTraceMap::remove(const void* key) {
  return load_u32(key) >= n_buckets_ ? -E2BIG : -ENOENT;
}

int64_t StackTraceMap::get_stackid(uint64_t flags) {
  // BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP | BPF_F_REUSE_STACKID
  constexpr uint64_t kKnown = 0xffULL | 1ULL << 8 | 1ULL << 9 | 1ULL << 10;
  if (flags & ~kKnown) return -EINVAL;
  return -EFAULT;  // get_perf_callchain found no stack
}

}  // namespace bpfvm
