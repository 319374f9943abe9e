#include "maps/map_set.h"

#include <fmt/format.h>

#include <cstdio>
#include <new>

#include "maps/array_maps.h"
#include "maps/cgroup_stack_maps.h"
#include "maps/hash_maps.h"
#include "maps/lpm_trie.h"
#include "maps/map_internal.h"
#include "maps/perf_event_array.h"
#include "maps/queue_stack.h"
#include "maps/redirect_maps.h"
#include "maps/ringbuf.h"

namespace bpfvm {

namespace {

constexpr uint64_t kKmallocMax = 1ULL << 22;  // KMALLOC_MAX_SIZE on x86-64 (4 MiB)
constexpr uint32_t kPcpuMinUnit = 32768;      // PCPU_MIN_UNIT_SIZE: per-CPU values
constexpr uint32_t kMaxBpfStack = 512;        // hash keys live on the BPF stack
constexpr uint64_t kMapOverhead = 256;        // per-map bookkeeping charged to the cap
constexpr uint32_t kLpmDataMax = 256;
constexpr uint32_t kPerfMaxStack = 127;     // sysctl_perf_event_max_stack's default
constexpr uint32_t kStackBuildIdSize = 32;  // sizeof(struct bpf_stack_build_id)
constexpr uint32_t kBpfFStackBuildId = 1u << 5;

uint64_t sat_mul(uint64_t a, uint64_t b) {
  unsigned __int128 p = (unsigned __int128)a * b;
  return p > UINT64_MAX ? UINT64_MAX : uint64_t(p);
}
uint64_t sat_add(uint64_t a, uint64_t b) {
  return a + b < a ? UINT64_MAX : a + b;
}

std::string map_label(const MapDef& d) {
  return fmt::format("map '{}' ({})", d.name, map_type_name(d.type));
}

Error invalid(const MapDef& d, std::string why) {
  return make_error(ErrorCode::kBadInput, kNoPc, fmt::format("{}: {}", map_label(d), why));
}

bool is_map_in_map(MapType t) {
  return t == MapType::ArrayOfMaps || t == MapType::HashOfMaps;
}

Status check_flags(const MapDef& d, uint32_t allowed) {
  if (d.map_flags & ~allowed) {
    return invalid(d, fmt::format("map_flags {:#x} has bits this map type does not accept ({:#x})",
                                  d.map_flags, d.map_flags & ~allowed));
  }
  return Ok{};
}

Status check_nonzero(const MapDef& d, bool key, bool value) {
  if (key && d.key_size == 0) return invalid(d, "key_size is 0");
  if (value && d.value_size == 0) return invalid(d, "value_size is 0");
  if (d.max_entries == 0) return invalid(d, "max_entries is 0");
  return Ok{};
}

Status check_no_key_value(const MapDef& d, bool value_allowed) {
  if (d.key_size != 0) return invalid(d, fmt::format("key_size is {}, must be 0", d.key_size));
  if (!value_allowed && d.value_size != 0) {
    return invalid(d, fmt::format("value_size is {}, must be 0", d.value_size));
  }
  return Ok{};
}

// map_alloc_check of each type; returns the bytes charged.
Result<uint64_t> validate(const MapDef& d, const MapOptions& opts, bool as_inner) {
  const uint32_t ncpus = opts.num_cpus == 0 ? 1 : opts.num_cpus;
  if (!d.inner.empty() && !is_map_in_map(d.type)) {
    return invalid(d, "has an inner map definition but is not a map of maps");
  }
  if (d.map_extra != 0 && d.type != MapType::BloomFilter) {
    return invalid(d, fmt::format("map_extra {:#x} is only meaningful for bloom_filter", d.map_extra));
  }
  const uint32_t access = kBpfFAccessMask;
  switch (d.type) {
    case MapType::Array:
    case MapType::PercpuArray: {
      BPFVM_TRY(check_nonzero(d, true, true));
      if (d.key_size != 4) return invalid(d, fmt::format("key_size is {}, must be 4", d.key_size));
      uint32_t allowed = kBpfFNumaNode | access;
      if (d.type == MapType::Array) allowed |= kBpfFMmapable | kBpfFInnerMap;  // array only
      BPFVM_TRY(check_flags(d, allowed));
      bool percpu = d.type == MapType::PercpuArray;
      if (percpu && d.value_size > kPcpuMinUnit) {
        return invalid(d,
                       fmt::format("value_size {} above the per-CPU limit {}", d.value_size, kPcpuMinUnit));
      }
      if (d.value_size > kKmallocMax) {
        return invalid(d, fmt::format("value_size {} above the limit {}", d.value_size, kKmallocMax));
      }
      if (!d.initial_value.empty() && d.initial_value.size() != d.value_size) {
        return invalid(d, fmt::format("initial value has {} bytes, value_size is {}", d.initial_value.size(),
                                      d.value_size));
      }
      return sat_mul(sat_mul(round_up8(d.value_size), d.max_entries), percpu ? ncpus : 1);
    }
    case MapType::ProgArray:
    case MapType::PerfEventArray:
    case MapType::CgroupArray:
    case MapType::ArrayOfMaps: {
      if (d.key_size != 4) return invalid(d, fmt::format("key_size is {}, must be 4", d.key_size));
      if (d.value_size != 4) {
        return invalid(d, fmt::format("value_size is {}, must be 4 (a program or map handle)", d.value_size));
      }
      // libbpf gives a perf_event_array without max_entries one slot per CPU; create() does too.
      if (d.max_entries == 0 && d.type != MapType::PerfEventArray) return invalid(d, "max_entries is 0");
      uint32_t allowed = kBpfFNumaNode | access;
      if (d.type == MapType::PerfEventArray) allowed |= kBpfFPreserveElems;
      BPFVM_TRY(check_flags(d, allowed));
      if (d.type == MapType::PerfEventArray) {
        return sat_add(sat_mul(ncpus, opts.perf_buffer_bytes), sat_mul(d.max_entries, 8));
      }
      break;
    }
    case MapType::Hash:
    case MapType::PercpuHash:
    case MapType::LruHash:
    case MapType::LruPercpuHash:
    case MapType::HashOfMaps: {
      BPFVM_TRY(check_nonzero(d, true, true));
      bool lru = d.type == MapType::LruHash || d.type == MapType::LruPercpuHash;
      bool percpu = d.type == MapType::PercpuHash || d.type == MapType::LruPercpuHash;
      BPFVM_TRY(check_flags(d, kBpfFNoPrealloc | kBpfFNoCommonLru | kBpfFNumaNode | kBpfFZeroSeed | access));
      if (!lru && (d.map_flags & kBpfFNoCommonLru)) {
        return invalid(d, "BPF_F_NO_COMMON_LRU is only for LRU hash maps");
      }
      if (lru && (d.map_flags & kBpfFNoPrealloc)) {
        return make_error(ErrorCode::kUnsupported, kNoPc,
                          fmt::format("{}: LRU maps cannot use BPF_F_NO_PREALLOC", map_label(d)));
      }
      if (d.key_size > kMaxBpfStack) {
        return invalid(d, fmt::format("key_size {} above the BPF stack size {}", d.key_size, kMaxBpfStack));
      }
      if (d.type == MapType::HashOfMaps && d.value_size != 4) {
        return invalid(d, fmt::format("value_size is {}, must be 4 (a map handle)", d.value_size));
      }
      if (percpu && d.value_size > kPcpuMinUnit) {
        return invalid(d,
                       fmt::format("value_size {} above the per-CPU limit {}", d.value_size, kPcpuMinUnit));
      }
      if (uint64_t(d.key_size) + d.value_size >= kKmallocMax) {
        return invalid(d, fmt::format("key_size + value_size {} above the limit {}",
                                      uint64_t(d.key_size) + d.value_size, kKmallocMax));
      }
      uint64_t storage = d.type == MapType::HashOfMaps ? 8
                         : percpu                      ? uint64_t(round_up8(d.value_size)) * ncpus
                                                       : d.value_size;
      uint64_t slot = 24 + round_up8(d.key_size) + ((storage + 7) & ~7ULL);
      uint64_t buckets = 1;
      while (buckets < d.max_entries)
        buckets <<= 1;
      return sat_add(sat_mul(slot, d.max_entries), buckets * 4);
    }
    case MapType::Ringbuf: {
      BPFVM_TRY(check_no_key_value(d, false));
      BPFVM_TRY(check_flags(d, kBpfFNumaNode));
      uint32_t n = d.max_entries;
      if (n == 0 || (n & (n - 1)) != 0 || n % 4096 != 0) {
        return invalid(d, fmt::format("max_entries {} must be a power of 2 and a multiple of 4096 bytes", n));
      }
      return uint64_t(n) * 2;
    }
    case MapType::Queue:
    case MapType::Stack: {
      BPFVM_TRY(check_no_key_value(d, true));
      BPFVM_TRY(check_nonzero(d, false, true));
      BPFVM_TRY(check_flags(d, kBpfFNumaNode | access));
      if (d.value_size > kKmallocMax) {
        return invalid(d, fmt::format("value_size {} above the limit {}", d.value_size, kKmallocMax));
      }
      return sat_mul(uint64_t(d.max_entries) + 1, d.value_size);
    }
    case MapType::LpmTrie: {
      if (d.key_size < 5 || d.key_size > 4 + kLpmDataMax) {
        return invalid(
            d, fmt::format("key_size {} must be 4 (prefixlen) + 1..{} data bytes", d.key_size, kLpmDataMax));
      }
      BPFVM_TRY(check_nonzero(d, true, true));
      if (d.value_size > kKmallocMax - kLpmDataMax - 64) {
        return invalid(d, fmt::format("value_size {} too large", d.value_size));
      }
      if (!(d.map_flags & kBpfFNoPrealloc)) return invalid(d, "lpm_trie requires BPF_F_NO_PREALLOC");
      BPFVM_TRY(check_flags(d, kBpfFNoPrealloc | kBpfFNumaNode | access));
      // Each element may come with an intermediate node.
      return sat_mul(d.max_entries, 2 * (64 + d.key_size) + round_up8(d.value_size));
    }
    case MapType::BloomFilter: {
      BPFVM_TRY(check_no_key_value(d, true));
      BPFVM_TRY(check_nonzero(d, false, true));
      BPFVM_TRY(check_flags(d, kBpfFNumaNode | kBpfFZeroSeed | access));
      if (d.map_extra & ~0xfULL) {
        return invalid(d, fmt::format("map_extra {:#x}: only the low 4 bits (number of hashes) may be set",
                                      d.map_extra));
      }
      return BloomFilterMap::bits_of(d) / 8;
    }
    case MapType::Devmap:
    case MapType::DevmapHash:
    case MapType::Cpumap:
    case MapType::Xskmap: {
      // dev_map_alloc_check, cpu_map_alloc, xsk_map_alloc: a u32 key, a u32 value or (devmap,
      // cpumap) the struct with the program fd.
      BPFVM_TRY(check_nonzero(d, true, true));
      if (d.key_size != 4) return invalid(d, fmt::format("key_size is {}, must be 4", d.key_size));
      const bool with_prog = d.type != MapType::Xskmap;
      if (d.value_size != 4 && !(with_prog && d.value_size == 8)) {
        return invalid(d,
                       fmt::format("value_size is {}, must be 4{}", d.value_size, with_prog ? " or 8" : ""));
      }
      // devmaps may carry BPF_F_RDONLY_PROG: creating one adds it (the kernel refuses it from users).
      const uint32_t devmap_flags = d.type == MapType::Xskmap ? 0 : kBpfFRdonlyProg;
      BPFVM_TRY(check_flags(d, d.type == MapType::Cpumap
                                   ? kBpfFNumaNode
                                   : kBpfFNumaNode | kBpfFRdonly | kBpfFWronly | devmap_flags));
      if (d.type == MapType::Cpumap && d.max_entries > host_nr_cpus()) {
        return invalid(d, fmt::format("max_entries {} above NR_CPUS {}", d.max_entries, host_nr_cpus()));
      }
      if (d.type == MapType::DevmapHash && d.max_entries > (1u << 31)) {
        return invalid(d, fmt::format("max_entries {}: too many hash buckets", d.max_entries));
      }
      return sat_mul(d.max_entries, d.type == MapType::DevmapHash ? 40 : 8);
    }
    case MapType::StackTrace: {
      // stack_map_alloc
      BPFVM_TRY(check_nonzero(d, true, true));
      BPFVM_TRY(check_flags(d, kBpfFNumaNode | kBpfFRdonly | kBpfFWronly | kBpfFStackBuildId));
      if (d.key_size != 4) return invalid(d, fmt::format("key_size is {}, must be 4", d.key_size));
      const uint32_t entry = d.map_flags & kBpfFStackBuildId ? kStackBuildIdSize : 8;
      if (d.value_size % entry != 0 || d.value_size / entry > kPerfMaxStack) {
        return invalid(d, fmt::format("value_size {} must be a multiple of {} and hold at most {} frames",
                                      d.value_size, entry, kPerfMaxStack));
      }
      if (d.max_entries > (1u << 31)) {
        return invalid(d, fmt::format("max_entries {}: too many hash buckets", d.max_entries));
      }
      return sat_mul(d.max_entries, 8);  // the bucket pointers (bpfvm never stores a stack)
    }
    default:
      return make_error(ErrorCode::kUnsupported, kNoPc,
                        fmt::format("{}: map type {} is not supported by bpfvm", map_label(d),
                                    static_cast<uint32_t>(d.type)));
  }
  // prog_array and array_of_maps: one 8-byte slot per entry; cgroup_array: a device and an inode.
  return sat_mul(d.max_entries, d.type == MapType::CgroupArray ? 16 : 8);
}

Result<uint64_t> validate_with_inner(const MapDef& d, const MapOptions& opts) {
  auto bytes = validate(d, opts, false);
  if (!bytes) return bytes.error();
  if (!is_map_in_map(d.type)) return sat_add(*bytes, kMapOverhead);
  if (d.inner.size() != 1) {
    return invalid(
        d, fmt::format("a map of maps needs exactly one inner map definition, has {}", d.inner.size()));
  }
  const MapDef& in = d.inner[0];
  if (is_map_in_map(in.type)) return invalid(d, "an inner map cannot itself be a map of maps");
  auto ib = validate(in, opts, true);
  if (!ib) {
    return make_error(ib.error().code, kNoPc, fmt::format("{}: inner map: {}", map_label(d), ib.error().msg));
  }
  return sat_add(*bytes, kMapOverhead);
}

}  // namespace

uint32_t host_nr_cpus() {
  static const uint32_t n = [] {
    uint32_t max = 8191;
    if (FILE* f = std::fopen("/sys/devices/system/cpu/kernel_max", "r")) {
      if (std::fscanf(f, "%u", &max) != 1) max = 8191;
      std::fclose(f);
    }
    return max + 1;
  }();
  return n;
}

struct MapFactory {
  static Result<std::unique_ptr<Map>> make(const MapDef& def_in, const MapOptions& opts, uint64_t bytes) {
    MapDef def = def_in;
    if (def.type == MapType::PerfEventArray && def.max_entries == 0) {
      def.max_entries = opts.num_cpus == 0 ? 1 : opts.num_cpus;
    }
    std::unique_ptr<Map> m;
    try {
      switch (def.type) {
        case MapType::Array:
        case MapType::PercpuArray:
          m.reset(new ArrayMap(def, opts));
          break;
        case MapType::ProgArray:
          m.reset(new ProgArrayMap(def, opts));
          break;
        case MapType::ArrayOfMaps:
          m.reset(new ArrayOfMapsMap(def, opts));
          break;
        case MapType::PerfEventArray:
          m.reset(new PerfEventArrayMap(def, opts));
          break;
        case MapType::Hash:
        case MapType::PercpuHash:
        case MapType::LruHash:
        case MapType::LruPercpuHash:
          m.reset(new HashMap(def, opts));
          break;
        case MapType::HashOfMaps:
          m.reset(new HashOfMapsMap(def, opts));
          break;
        case MapType::Ringbuf:
          m.reset(new RingbufMap(def, opts));
          break;
        case MapType::Queue:
        case MapType::Stack:
          m.reset(new QueueStackMap(def, opts));
          break;
        case MapType::LpmTrie:
          m.reset(new LpmTrieMap(def, opts));
          break;
        case MapType::BloomFilter:
          m.reset(new BloomFilterMap(def, opts));
          break;
        case MapType::Devmap:
        case MapType::DevmapHash:
          // Lookups return the entry itself: the kernel makes it read-only to programs.
          def.map_flags |= kBpfFRdonlyProg;
          def.read_only = true;
          if (def.type == MapType::Devmap)
            m.reset(new RedirectArrayMap(def, opts));
          else
            m.reset(new DevmapHashMap(def, opts));
          break;
        case MapType::Cpumap:
        case MapType::Xskmap:
          m.reset(new RedirectArrayMap(def, opts));
          break;
        case MapType::CgroupArray:
          m.reset(new CgroupArrayMap(def, opts));
          break;
        case MapType::StackTrace:
          m.reset(new StackTraceMap(def, opts));
          break;
        default:
          return make_error(ErrorCode::kInternal, kNoPc, fmt::format("{}: no constructor", map_label(def)));
      }
    } catch (const std::bad_alloc&) {
      return make_error(ErrorCode::kBadInput, kNoPc,
                        fmt::format("{}: out of memory allocating {} bytes", map_label(def), bytes));
    }
    m->memory_bytes_ = bytes;
    return m;
  }
};

Result<uint64_t> map_memory_bytes(const MapDef& def, const MapOptions& opts) {
  return validate_with_inner(def, opts);
}

static Error over_cap(const MapDef& def, uint64_t bytes, uint64_t used, uint64_t cap) {
  return make_error(ErrorCode::kBadInput, kNoPc,
                    fmt::format("{}: needs {} bytes, but only {} of the memory cap of {} bytes remain",
                                map_label(def), bytes, cap > used ? cap - used : 0, cap));
}

Result<std::unique_ptr<Map>> create_map(const MapDef& def, const MapOptions& opts) {
  auto bytes = validate_with_inner(def, opts);
  if (!bytes) return bytes.error();
  if (*bytes > opts.memory_cap) return over_cap(def, *bytes, 0, opts.memory_cap);
  return MapFactory::make(def, opts, *bytes);
}

Result<Map*> MapSet::create(const MapDef& def) {
  auto bytes = validate_with_inner(def, opts_);
  if (!bytes) return bytes.error();
  {
    std::lock_guard<std::mutex> g(mu_);
    if (*bytes > opts_.memory_cap || used_ > opts_.memory_cap - *bytes) {
      return over_cap(def, *bytes, used_, opts_.memory_cap);
    }
    used_ += *bytes;  // reserved before the (possibly large) allocation
  }
  auto m = MapFactory::make(def, opts_, *bytes);
  std::lock_guard<std::mutex> g(mu_);
  if (!m) {
    used_ -= *bytes;
    return m.error();
  }
  maps_.push_back(std::move(m.value()));
  Map* p = maps_.back().get();
  labels_.push_back(std::make_unique<std::string>(
      fmt::format("{} '{}' {}", p->type() == MapType::Ringbuf ? "ringbuf" : "map", p->name(),
                  p->type() == MapType::Ringbuf ? "record" : "value")));
  p->id_ = uint32_t(maps_.size());
  return p;
}

bool MapSet::destroy(const Map* m) {
  std::unique_ptr<Map> gone;  // freed outside the lock
  std::lock_guard<std::mutex> g(mu_);
  for (auto& p : maps_) {
    if (p && p.get() == m) {
      used_ -= p->memory_bytes();
      gone = std::move(p);
      return true;
    }
  }
  return false;
}

Map* MapSet::find(std::string_view name) const {
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& m : maps_) {
    if (m && m->name() == name) return m.get();
  }
  return nullptr;
}

Map* MapSet::by_id(uint32_t id) const {
  std::lock_guard<std::mutex> g(mu_);
  return id >= 1 && id <= maps_.size() ? maps_[id - 1].get() : nullptr;
}

RingbufMap* MapSet::find_ringbuf(const void* sample) const {
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& m : maps_) {
    if (!m || m->type() != MapType::Ringbuf) continue;
    auto* rb = static_cast<RingbufMap*>(m.get());
    if (rb->owns(sample)) return rb;
  }
  return nullptr;
}

bool MapSet::contains(const Map* m) const {
  if (m == nullptr) return false;
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& p : maps_)
    if (p.get() == m) return true;
  return false;
}

const Map* MapSet::value_at(uint64_t addr, uint64_t* avail, size_t* index) const {
  for (size_t i = 0; i < maps_.size(); ++i) {
    if (!maps_[i]) continue;
    uint64_t n = maps_[i]->value_bytes_from(reinterpret_cast<const void*>(addr));
    if (n != 0) {
      *avail = n;
      *index = i;
      return maps_[i].get();
    }
  }
  return nullptr;
}

bool MapSet::contains(uint64_t addr, uint64_t len, bool write, std::string_view* name) const {
  std::lock_guard<std::mutex> g(mu_);
  uint64_t avail = 0;
  size_t i = 0;
  const Map* m = value_at(addr, &avail, &i);
  if (m == nullptr || len > avail || (write && !m->prog_writable())) return false;
  if (name != nullptr) *name = *labels_[i];
  return true;
}

uint64_t MapSet::span_from(uint64_t addr, bool write) const {
  std::lock_guard<std::mutex> g(mu_);
  uint64_t avail = 0;
  size_t i = 0;
  const Map* m = value_at(addr, &avail, &i);
  if (m == nullptr || (write && !m->prog_writable())) return 0;
  return avail;
}

uint64_t MapSet::used_bytes() const {
  std::lock_guard<std::mutex> g(mu_);
  return used_;
}

size_t MapSet::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return maps_.size();
}

}  // namespace bpfvm
