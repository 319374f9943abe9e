#include "maps/redirect_maps.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "maps/map_internal.h"

namespace bpfvm {

namespace {

constexpr uint32_t kCpumapMaxQsize = 16384;  // cpu_map_update_elem's sanity limit
constexpr int kAfXdp = 44;                   // AF_XDP

// {u32 ifindex/qsize; u32 prog} from a value of value_size 4 or 8 (the missing half is 0).
uint64_t value_word(const void* value, uint32_t value_size) {
  uint64_t w = 0;
  std::memcpy(&w, value, value_size < 8 ? value_size : 8);
  return w;
}
uint32_t low(uint64_t w) {
  return static_cast<uint32_t>(w);
}
int32_t prog_fd(uint64_t w) {
  return static_cast<int32_t>(w >> 32);
}

bool host_ifindex_exists(uint32_t ifindex) {
  char name[IF_NAMESIZE];
  return if_indextoname(ifindex, name) != nullptr;
}

// __dev_map_alloc_node's checks of a new entry: a device of the host, no program.
int check_dev_entry(uint64_t w) {
  if (!host_ifindex_exists(low(w))) return -EINVAL;
  if (prog_fd(w) > 0) return -EINVAL;  // bpfvm runs no devmap program
  return 0;
}

// The xskmap value: an AF_XDP socket (sockfd_lookup, then the family check of xsk_map_update_elem).
int check_xsk_fd(int fd, struct stat* st) {
  if (fd < 0 || fstat(fd, st) != 0) return -EBADF;
  if (!S_ISSOCK(st->st_mode)) return -ENOTSOCK;
  int domain = 0;
  socklen_t len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != kAfXdp) return -EOPNOTSUPP;
  return 0;
}

}  // namespace

// ---- devmap, cpumap, xskmap (array-indexed) ----

RedirectArrayMap::RedirectArrayMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts), slots_(new uint64_t[def.max_entries]()) {}

RedirectArrayMap::~RedirectArrayMap() {
  if (type() != MapType::Xskmap) return;
  for (uint32_t i = 0; i < def().max_entries; ++i)
    if (slots_[i] != 0) close(static_cast<int>(slots_[i] - 1));
}

void* RedirectArrayMap::lookup(const void* key) {
  uint32_t i = load_u32(key);
  if (i >= def().max_entries || __atomic_load_n(&slots_[i], __ATOMIC_ACQUIRE) == 0) return nullptr;
  return &slots_[i];
}

bool RedirectArrayMap::has_target(uint32_t index) const {
  return index < def().max_entries && __atomic_load_n(&slots_[index], __ATOMIC_ACQUIRE) != 0;
}

uint64_t RedirectArrayMap::value_bytes_from(const void* p) const {
  // Programs read devmap entries only (the verifier refuses lookups of the others).
  if (type() != MapType::Devmap) return 0;
  return slot_value_bytes_from(reinterpret_cast<const uint8_t*>(slots_.get()), p, 8, def().max_entries,
                               def().value_size);
}

int RedirectArrayMap::update(const void* key, const void* value, uint64_t flags) {
  if (flags > kBpfExist) return -EINVAL;
  uint32_t i = load_u32(key);
  if (i >= def().max_entries) return -E2BIG;
  if (type() == MapType::Xskmap) {
    struct stat st;
    int fd = static_cast<int>(load_u32(value));
    if (int err = check_xsk_fd(fd, &st)) return err;
    std::lock_guard<std::mutex> g(mu_);
    uint64_t old = slots_[i];
    if (old != 0) {
      struct stat cur;
      if (fstat(static_cast<int>(old - 1), &cur) == 0 && cur.st_dev == st.st_dev && cur.st_ino == st.st_ino)
        return 0;  // the same socket
      if (flags == kBpfNoExist) return -EEXIST;
    } else if (flags == kBpfExist) {
      return -ENOENT;
    }
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return -ENOMEM;
    __atomic_store_n(&slots_[i], static_cast<uint64_t>(dup_fd) + 1, __ATOMIC_RELEASE);
    if (old != 0) close(static_cast<int>(old - 1));
    return 0;
  }
  if (flags == kBpfNoExist) return -EEXIST;  // every slot exists
  uint64_t w = value_word(value, def().value_size);
  if (type() == MapType::Cpumap) {
    if (low(w) > kCpumapMaxQsize) return -EOVERFLOW;
    if (i >= num_cpus()) return -ENODEV;                // not a possible CPU
    if (low(w) != 0 && prog_fd(w) > 0) return -ENOMEM;  // bpfvm runs no cpumap program
  } else if (low(w) == 0) {
    if (prog_fd(w) > 0) return -EINVAL;  // no program without a device
  } else if (int err = check_dev_entry(w)) {
    return err;
  }
  // Stored as looked up: the size, device and a program id of 0 (qsize 0 / ifindex 0 clears).
  __atomic_store_n(&slots_[i], uint64_t{low(w)}, __ATOMIC_RELEASE);
  return 0;
}

int RedirectArrayMap::remove(const void* key) {
  uint32_t i = load_u32(key);
  if (i >= def().max_entries) return -EINVAL;
  if (type() == MapType::Xskmap) {  // the descriptor is closed once, under the lock of update()
    std::lock_guard<std::mutex> g(mu_);
    uint64_t old = __atomic_exchange_n(&slots_[i], uint64_t{0}, __ATOMIC_ACQ_REL);
    if (old != 0) close(static_cast<int>(old - 1));
    return 0;
  }
  __atomic_store_n(&slots_[i], uint64_t{0}, __ATOMIC_RELEASE);
  return 0;  // deleting an empty slot is not an error for these maps
}

int RedirectArrayMap::get_next_key(const void* key, void* next) {
  return array_get_next_key(def().max_entries, key, next);
}

int RedirectArrayMap::lookup_copy(const void* key, void* out) {
  if (type() == MapType::Xskmap) return -EOPNOTSUPP;  // xsk_map_lookup_elem_sys_only
  void* v = lookup(key);
  if (v == nullptr) return -ENOENT;
  std::memcpy(out, v, def().value_size);
  return 0;
}

// ---- devmap_hash ----

DevmapHashMap::DevmapHashMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts), slots_(new Slot[def.max_entries]) {
  uint64_t n = 1;
  while (n < def.max_entries)
    n <<= 1;
  mask_ = static_cast<uint32_t>(n - 1);
  buckets_.resize(n);
  free_.reserve(def.max_entries);
  for (uint32_t i = def.max_entries; i-- > 0;)
    free_.push_back(i);
}

int DevmapHashMap::find(uint32_t key) const {
  for (uint32_t s : buckets_[key & mask_])
    if (slots_[s].key == key) return static_cast<int>(s);
  return -1;
}

void* DevmapHashMap::lookup(const void* key) {
  std::lock_guard<std::mutex> g(mu_);
  int s = find(load_u32(key));
  return s < 0 ? nullptr : &slots_[s].value;
}

bool DevmapHashMap::has_target(uint32_t key) const {
  std::lock_guard<std::mutex> g(mu_);
  return find(key) >= 0;
}

uint64_t DevmapHashMap::value_bytes_from(const void* p) const {
  uint64_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(slots_.get());
  if (off >= uint64_t(sizeof(Slot)) * def().max_entries) return 0;
  uint64_t within = off % sizeof(Slot);
  constexpr uint64_t kValue = offsetof(Slot, value);
  return within >= kValue && within < kValue + def().value_size ? kValue + def().value_size - within : 0;
}

int DevmapHashMap::update(const void* key, const void* value, uint64_t flags) {
  uint64_t w = value_word(value, def().value_size);
  if (flags > kBpfExist || low(w) == 0) return -EINVAL;
  uint32_t k = load_u32(key);
  std::lock_guard<std::mutex> g(mu_);
  int s = find(k);
  if (s >= 0 && (flags & kBpfNoExist)) return -EEXIST;
  if (int err = check_dev_entry(w)) return err;
  // The kernel replaces an entry by a new one at the head of its bucket.
  std::vector<uint32_t>& b = buckets_[k & mask_];
  if (s >= 0) {
    b.erase(std::find(b.begin(), b.end(), static_cast<uint32_t>(s)));
  } else {
    if (free_.empty()) return -E2BIG;
    s = static_cast<int>(free_.back());
    free_.pop_back();
  }
  slots_[s].key = k;
  slots_[s].value = low(w);
  b.insert(b.begin(), static_cast<uint32_t>(s));
  return 0;
}

int DevmapHashMap::remove(const void* key) {
  uint32_t k = load_u32(key);
  std::lock_guard<std::mutex> g(mu_);
  int s = find(k);
  if (s < 0) return -ENOENT;
  std::vector<uint32_t>& b = buckets_[k & mask_];
  b.erase(std::find(b.begin(), b.end(), static_cast<uint32_t>(s)));
  free_.push_back(static_cast<uint32_t>(s));
  return 0;
}

int DevmapHashMap::get_next_key(const void* key, void* next) {
  std::lock_guard<std::mutex> g(mu_);
  size_t bucket = 0;
  if (key != nullptr) {
    uint32_t k = load_u32(key);
    int s = find(k);
    if (s >= 0) {  // the next entry of its bucket, else the first of the next buckets
      const std::vector<uint32_t>& b = buckets_[k & mask_];
      auto it = std::find(b.begin(), b.end(), static_cast<uint32_t>(s)) + 1;
      if (it != b.end()) {
        std::memcpy(next, &slots_[*it].key, 4);
        return 0;
      }
      bucket = (k & mask_) + 1;
    }  // a missing key starts over from the first bucket
  }
  for (; bucket < buckets_.size(); ++bucket) {
    if (!buckets_[bucket].empty()) {
      std::memcpy(next, &slots_[buckets_[bucket].front()].key, 4);
      return 0;
    }
  }
  return -ENOENT;
}

bool redirect_target_exists(const Map& m, uint32_t key) {
  switch (m.type()) {
    case MapType::Devmap:
    case MapType::Cpumap:
    case MapType::Xskmap:
      return static_cast<const RedirectArrayMap&>(m).has_target(key);
    case MapType::DevmapHash:
      return static_cast<const DevmapHashMap&>(m).has_target(key);
    default:
      return false;
  }
}

}  // namespace bpfvm
