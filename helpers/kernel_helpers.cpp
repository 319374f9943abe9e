// Kernel helpers: maps, ring buffers, perf output, tail calls, callbacks, time, process identity,
// probe reads and strings. Packet helpers are in packet_helpers.cpp. See kernel_helpers.h.
#include "helpers/kernel_helpers.h"

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "helpers/context.h"
#include "helpers/core_helpers.h"
#include "helpers/internal.h"
#include "helpers/proto.h"
#include "maps/array_maps.h"
#include "maps/map_set.h"
#include "maps/perf_event_array.h"
#include "maps/ringbuf.h"

namespace bpfvm {
namespace helpers_internal {

HelperContext* ctx_of(HelperCall& call) {
  return static_cast<HelperContext*>(call.context());
}

Map* map_arg(HelperCall& call, uint64_t addr) {
  HelperContext* ctx = ctx_of(call);
  if (ctx == nullptr || ctx->maps == nullptr) {
    call.fail("no map set in the helper context");
    return nullptr;
  }
  Map* m = reinterpret_cast<Map*>(addr);
  if (!ctx->maps->contains(m)) {
    call.fail(fmt::format("r1 = {:#x} is not a map of this program", addr));
    return nullptr;
  }
  return m;
}

void* mem_arg(HelperCall& call, uint64_t addr, uint64_t len, bool write, std::string_view what) {
  void* p = call.translate(addr, len, write);
  if (p == nullptr)
    call.fail(fmt::format("{} {:#x} ({} bytes) is not {} memory of the program", what, addr, len,
                          write ? "writable" : "readable"));
  return p;
}

uint32_t run_cpu(HelperCall& call) {
  HelperContext* ctx = ctx_of(call);
  return ctx != nullptr ? ctx->cpu : current_cpu();
}

}  // namespace helpers_internal

namespace {

using namespace helpers_internal;

// ---- Maps ----------------------------------------------------------------------------------------

uint64_t map_lookup_elem(HelperCall& call, uint64_t map, uint64_t key, uint64_t, uint64_t, uint64_t) {
  Map* m = map_arg(call, map);
  if (m == nullptr) return 0;
  const void* k = mem_arg(call, key, m->def().key_size, false, "key");
  if (k == nullptr) return 0;
  ScopedCpu cpu(run_cpu(call));
  return reinterpret_cast<uint64_t>(m->lookup(k));
}

uint64_t map_update_elem(HelperCall& call,
                         uint64_t map,
                         uint64_t key,
                         uint64_t value,
                         uint64_t flags,
                         uint64_t) {
  Map* m = map_arg(call, map);
  if (m == nullptr) return 0;
  const void* k = mem_arg(call, key, m->def().key_size, false, "key");
  if (k == nullptr) return 0;
  const void* v = mem_arg(call, value, m->def().value_size, false, "value");
  if (v == nullptr) return 0;
  ScopedCpu cpu(run_cpu(call));
  return errno_ret(m->update(k, v, flags));
}

uint64_t map_delete_elem(HelperCall& call, uint64_t map, uint64_t key, uint64_t, uint64_t, uint64_t) {
  Map* m = map_arg(call, map);
  if (m == nullptr) return 0;
  const void* k = mem_arg(call, key, m->def().key_size, false, "key");
  if (k == nullptr) return 0;
  ScopedCpu cpu(run_cpu(call));
  return errno_ret(m->remove(k));
}

uint64_t map_push_elem(HelperCall& call, uint64_t map, uint64_t value, uint64_t flags, uint64_t, uint64_t) {
  Map* m = map_arg(call, map);
  if (m == nullptr) return 0;
  const void* v = mem_arg(call, value, m->def().value_size, false, "value");
  if (v == nullptr) return 0;
  return errno_ret(m->push(v, flags));
}

template <bool kPop>
uint64_t map_take_elem(HelperCall& call, uint64_t map, uint64_t value, uint64_t, uint64_t, uint64_t) {
  Map* m = map_arg(call, map);
  if (m == nullptr) return 0;
  void* v = mem_arg(call, value, m->def().value_size, true, "value");
  if (v == nullptr) return 0;
  return errno_ret(kPop ? m->pop(v) : m->peek(v));
}

uint64_t tail_call(HelperCall& call, uint64_t ctx, uint64_t map, uint64_t index, uint64_t, uint64_t) {
  Map* m = map_arg(call, map);
  if (m == nullptr) return 0;
  if (m->type() != MapType::ProgArray) {
    call.fail(fmt::format("tail call through map '{}', which is a {} map, not a prog_array", m->name(),
                          map_type_name(m->type())));
    return 0;
  }
  // As the kernel: an index out of range does not count against the limit, an empty slot does.
  if (static_cast<uint32_t>(index) >= m->def().max_entries) return errno_ret(-ENOENT);
  std::optional<uint32_t> prog = static_cast<ProgArrayMap*>(m)->get_prog(static_cast<uint32_t>(index));
  if (!call.request_tail_call(prog)) return errno_ret(-ENOENT);
  return 0;
}

// ---- Ring buffers and perf output ------------------------------------------------------------------

RingbufMap* ringbuf_arg(HelperCall& call, uint64_t map) {
  Map* m = map_arg(call, map);
  if (m == nullptr) return nullptr;
  if (m->type() != MapType::Ringbuf) {
    call.fail(fmt::format("map '{}' is a {} map, not a ringbuf", m->name(), map_type_name(m->type())));
    return nullptr;
  }
  return static_cast<RingbufMap*>(m);
}

uint64_t ringbuf_output(HelperCall& call,
                        uint64_t map,
                        uint64_t data,
                        uint64_t size,
                        uint64_t flags,
                        uint64_t) {
  RingbufMap* rb = ringbuf_arg(call, map);
  if (rb == nullptr) return 0;
  const void* d = size == 0 ? nullptr : mem_arg(call, data, size, false, "data");
  if (size != 0 && d == nullptr) return 0;
  return errno_ret(rb->output(d, size, flags));
}

uint64_t ringbuf_reserve(HelperCall& call, uint64_t map, uint64_t size, uint64_t flags, uint64_t, uint64_t) {
  RingbufMap* rb = ringbuf_arg(call, map);
  if (rb == nullptr) return 0;
  return reinterpret_cast<uint64_t>(rb->reserve(size, flags));
}

template <bool kDiscard>
uint64_t ringbuf_commit(HelperCall& call, uint64_t sample, uint64_t flags, uint64_t, uint64_t, uint64_t) {
  HelperContext* ctx = ctx_of(call);
  if (ctx == nullptr || ctx->maps == nullptr) {
    call.fail("no map set in the helper context");
    return 0;
  }
  RingbufMap* rb = ctx->maps->find_ringbuf(reinterpret_cast<const void*>(sample));
  if (rb == nullptr) {
    call.fail(fmt::format("{:#x} is not a ringbuf record", sample));
    return 0;
  }
  void* p = reinterpret_cast<void*>(sample);
  if (kDiscard)
    rb->discard(p, flags);
  else
    rb->submit(p, flags);
  return 0;
}

uint64_t ringbuf_query(HelperCall& call, uint64_t map, uint64_t flags, uint64_t, uint64_t, uint64_t) {
  RingbufMap* rb = ringbuf_arg(call, map);
  if (rb == nullptr) return 0;
  return rb->query(flags);
}

uint64_t perf_event_output(HelperCall& call,
                           uint64_t ctx,
                           uint64_t map,
                           uint64_t flags,
                           uint64_t data,
                           uint64_t size) {
  Map* m = map_arg(call, map);
  if (m == nullptr) return 0;
  if (m->type() != MapType::PerfEventArray) {
    call.fail(
        fmt::format("map '{}' is a {} map, not a perf_event_array", m->name(), map_type_name(m->type())));
    return 0;
  }
  const void* d = size == 0 ? nullptr : mem_arg(call, data, size, false, "data");
  if (size != 0 && d == nullptr) return 0;
  ScopedCpu cpu(run_cpu(call));
  return errno_ret(static_cast<PerfEventArrayMap*>(m)->output(flags, d, size));
}

// ---- Callbacks ------------------------------------------------------------------------------------

uint64_t loop(HelperCall& call, uint64_t nr_loops, uint64_t fn, uint64_t cb_ctx, uint64_t flags, uint64_t) {
  if (flags != 0) return errno_ret(-EINVAL);
  if (nr_loops > kBpfMaxLoops) return errno_ret(-E2BIG);
  for (uint64_t i = 0; i < nr_loops; ++i) {
    const uint64_t args[5] = {i, cb_ctx, 0, 0, 0};
    Result<uint64_t> r = call.call_function(fn, args);
    if (!r) return 0;  // the run ends with the callback's fault
    if (*r != 0) return i + 1;
  }
  return nr_loops;
}

uint64_t for_each_map_elem(HelperCall& call,
                           uint64_t map,
                           uint64_t fn,
                           uint64_t cb_ctx,
                           uint64_t flags,
                           uint64_t) {
  Map* m = map_arg(call, map);
  if (m == nullptr) return 0;
  if (flags != 0) return errno_ret(-EINVAL);
  ScopedCpu cpu(run_cpu(call));
  const uint32_t ks = m->def().key_size;
  std::vector<uint8_t> keys;  // the keys to visit, ks bytes each
  switch (m->type()) {
    case MapType::Array:
    case MapType::PercpuArray:
      keys.resize(uint64_t(m->def().max_entries) * 4);
      for (uint32_t i = 0; i < m->def().max_entries; ++i)
        std::memcpy(keys.data() + uint64_t(i) * 4, &i, 4);
      break;
    case MapType::Hash:
    case MapType::PercpuHash:
    case MapType::LruHash:
    case MapType::LruPercpuHash: {
      std::vector<uint8_t> cur(ks), next(ks);
      const void* prev = nullptr;
      for (uint32_t n = 0; n < m->def().max_entries && m->get_next_key(prev, next.data()) == 0; ++n) {
        keys.insert(keys.end(), next.begin(), next.end());
        cur.swap(next);
        prev = cur.data();
      }
      break;
    }
    default:
      return errno_ret(-EINVAL);
  }
  uint64_t count = 0;
  // The callback reads the key through a pointer: a private copy, in a region for this call only.
  std::vector<uint8_t> key(ks == 0 ? 1 : ks);
  const MemRegion key_region{reinterpret_cast<uint64_t>(key.data()), ks, false, "for_each_map_elem key"};
  for (size_t off = 0; off + ks <= keys.size() && ks != 0; off += ks) {
    std::memcpy(key.data(), keys.data() + off, ks);
    void* value = m->lookup(key.data());
    if (value == nullptr) continue;  // deleted meanwhile
    const uint64_t args[5] = {map, reinterpret_cast<uint64_t>(key.data()), reinterpret_cast<uint64_t>(value),
                              cb_ctx, 0};
    ++count;
    Result<uint64_t> r = call.call_function(fn, args, std::span<const MemRegion>(&key_region, 1));
    if (!r) return 0;
    if (*r != 0) break;
  }
  return count;
}

// ---- Spin locks -------------------------------------------------------------------------------------

uint64_t spin_lock(HelperCall& call, uint64_t lock, uint64_t, uint64_t, uint64_t, uint64_t) {
  auto* p = static_cast<uint32_t*>(mem_arg(call, lock, 4, true, "bpf_spin_lock"));
  if (p == nullptr) return 0;
  if ((lock & 3) != 0) {
    call.fail(fmt::format("bpf_spin_lock at {:#x} is not 4-byte aligned", lock));
    return 0;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kSpinLockTimeoutMs);
  for (uint64_t n = 0;; ++n) {
    if (__atomic_load_n(p, __ATOMIC_RELAXED) == 0 && __atomic_exchange_n(p, 1u, __ATOMIC_ACQUIRE) == 0)
      return 0;
    if (n % 64 == 63) {
      if (std::chrono::steady_clock::now() > deadline) {
        call.fail(fmt::format("bpf_spin_lock at {:#x} still held after {} ms (deadlock?)", lock,
                              kSpinLockTimeoutMs));
        return 0;
      }
      std::this_thread::yield();
    }
  }
}

uint64_t spin_unlock(HelperCall& call, uint64_t lock, uint64_t, uint64_t, uint64_t, uint64_t) {
  auto* p = static_cast<uint32_t*>(mem_arg(call, lock, 4, true, "bpf_spin_lock"));
  if (p == nullptr) return 0;
  if ((lock & 3) != 0) {
    call.fail(fmt::format("bpf_spin_lock at {:#x} is not 4-byte aligned", lock));
    return 0;
  }
  __atomic_store_n(p, 0u, __ATOMIC_RELEASE);
  return 0;
}

// ---- Time, CPU, process -----------------------------------------------------------------------------

uint64_t ktime_get_boot_ns(HelperCall& call, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  return call.env().ktime_boot_ns();
}
uint64_t ktime_get_coarse_ns(HelperCall& call, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  return call.env().ktime_coarse_ns();
}
uint64_t jiffies64(HelperCall& call, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  return call.env().ktime_ns() / 4'000'000;
}
uint64_t get_smp_processor_id(HelperCall& call, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  return run_cpu(call);
}
uint64_t get_numa_node_id(HelperCall&, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  return 0;
}

bool deterministic(HelperCall& call) {
  HelperContext* ctx = ctx_of(call);
  return ctx != nullptr && ctx->deterministic;
}

uint64_t get_current_pid_tgid(HelperCall& call, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  if (deterministic(call)) return (uint64_t{kDeterministicTgid} << 32) | kDeterministicPid;
  auto tgid = static_cast<uint32_t>(getpid());
  auto tid = static_cast<uint32_t>(syscall(SYS_gettid));
  return (uint64_t{tgid} << 32) | tid;
}

uint64_t get_current_uid_gid(HelperCall& call, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  if (deterministic(call)) return (uint64_t{kDeterministicGid} << 32) | kDeterministicUid;
  return (uint64_t{static_cast<uint32_t>(getgid())} << 32) | static_cast<uint32_t>(getuid());
}

uint64_t get_current_comm(HelperCall& call, uint64_t buf, uint64_t size, uint64_t, uint64_t, uint64_t) {
  auto* out = static_cast<char*>(mem_arg(call, buf, size, true, "buffer"));
  if (out == nullptr || size == 0) return 0;
  char comm[17] = {};
  if (deterministic(call))
    std::memcpy(comm, kDeterministicComm.data(), kDeterministicComm.size());
  else
    prctl(PR_GET_NAME, comm, 0, 0, 0);
  // strscpy_pad: at most size - 1 characters, NUL, zero padding.
  size_t n = strnlen(comm, 16);
  if (n > size - 1) n = size - 1;
  std::memset(out, 0, size);
  std::memcpy(out, comm, n);
  return 0;
}

// ---- Probe reads -------------------------------------------------------------------------------------

uint64_t probe_read(HelperCall& call, uint64_t dst, uint64_t size, uint64_t src, uint64_t, uint64_t) {
  if (size == 0) return 0;
  void* d = mem_arg(call, dst, size, true, "destination");
  if (d == nullptr) return 0;
  const void* s = call.translate(src, size, false);
  if (s == nullptr || src == 0) {
    std::memset(d, 0, size);
    return errno_ret(-EFAULT);
  }
  std::memmove(d, s, size);
  return 0;
}

// strncpy_from_{user,kernel}_nofault: copies up to size - 1 characters and a NUL; returns the
// length copied including the NUL, or -EFAULT (destination zero-filled) when the string runs into
// memory the VM cannot vouch for.
uint64_t probe_read_str(HelperCall& call, uint64_t dst, uint64_t size, uint64_t src, uint64_t, uint64_t) {
  if (size == 0) return 0;
  auto* d = static_cast<char*>(mem_arg(call, dst, size, true, "destination"));
  if (d == nullptr) return 0;
  uint64_t avail = src == 0 ? 0 : call.span_from(src, false);
  const char* s = avail == 0 ? nullptr : static_cast<const char*>(call.translate(src, avail, false));
  uint64_t limit = std::min<uint64_t>(avail, size - 1);
  uint64_t n = s == nullptr ? 0 : strnlen(s, limit);
  if (s == nullptr || (n == limit && limit < size - 1)) {  // no NUL before the end of readable memory
    std::memset(d, 0, size);
    return errno_ret(-EFAULT);
  }
  std::memmove(d, s, n);
  d[n] = 0;
  return n + 1;
}

// ---- Strings -------------------------------------------------------------------------------------------

// A NUL-terminated string argument; nullptr (and a failure) when no NUL lies in readable memory.
const char* const_str_arg(HelperCall& call, uint64_t addr, std::string_view what, size_t* len) {
  uint64_t avail = addr == 0 ? 0 : call.span_from(addr, false);
  const char* s = avail == 0 ? nullptr : static_cast<const char*>(call.translate(addr, avail, false));
  if (s != nullptr) {
    *len = strnlen(s, avail);
    if (*len < avail) return s;
  }
  call.fail(fmt::format("{} {:#x} is not a NUL-terminated string in readable memory", what, addr));
  return nullptr;
}

uint64_t strncmp_helper(HelperCall& call, uint64_t s1, uint64_t s1_sz, uint64_t s2, uint64_t, uint64_t) {
  const auto* a = static_cast<const unsigned char*>(mem_arg(call, s1, s1_sz, false, "s1"));
  if (a == nullptr) return 0;
  size_t len2 = 0;
  const auto* b = reinterpret_cast<const unsigned char*>(const_str_arg(call, s2, "s2", &len2));
  if (b == nullptr) return 0;
  // The kernel's lib/string.c strncmp: -1 / 0 / 1. s2 is read up to its NUL at most.
  for (uint64_t i = 0; i < s1_sz; ++i) {
    unsigned char c1 = a[i], c2 = i <= len2 ? b[i] : 0;
    if (c1 != c2) return c1 < c2 ? static_cast<uint64_t>(-1) : 1;
    if (c1 == 0) break;
  }
  return 0;
}

constexpr uint64_t kMaxSnprintfArgs = 12;  // MAX_BPRINTF_VARARGS

uint64_t snprintf_helper(HelperCall& call,
                         uint64_t str,
                         uint64_t str_size,
                         uint64_t fmt,
                         uint64_t data,
                         uint64_t data_len) {
  char* out = nullptr;
  if (str_size != 0) {
    out = static_cast<char*>(mem_arg(call, str, str_size, true, "output buffer"));
    if (out == nullptr) return 0;
  }
  if (data_len % 8 != 0 || data_len > kMaxSnprintfArgs * 8 || (data_len != 0 && data == 0))
    return errno_ret(-EINVAL);
  uint64_t args[kMaxSnprintfArgs] = {};
  if (data_len != 0) {
    const void* d = mem_arg(call, data, data_len, false, "data");
    if (d == nullptr) return 0;
    std::memcpy(args, d, data_len);
  }
  size_t len = 0;
  const char* f = const_str_arg(call, fmt, "format", &len);
  if (f == nullptr) return 0;
  std::string text;
  int64_t n = bprintf_format(call, f, len, std::span<const uint64_t>(args, data_len / 8),
                             str_size == 0 ? 0 : str_size - 1, &text);
  if (n < 0) return static_cast<uint64_t>(n);
  if (out != nullptr) {
    std::memcpy(out, text.data(), text.size());
    out[text.size()] = 0;
  }
  return static_cast<uint64_t>(n) + 1;
}

struct Reg {
  const char* name;
  HelperFn fn;
};

constexpr Reg kHelpers[] = {
    {"map_lookup_elem", map_lookup_elem},
    {"map_update_elem", map_update_elem},
    {"map_delete_elem", map_delete_elem},
    {"probe_read", probe_read},
    {"get_smp_processor_id", get_smp_processor_id},
    {"tail_call", tail_call},
    {"get_current_pid_tgid", get_current_pid_tgid},
    {"get_current_uid_gid", get_current_uid_gid},
    {"get_current_comm", get_current_comm},
    {"perf_event_output", perf_event_output},
    {"get_numa_node_id", get_numa_node_id},
    {"probe_read_str", probe_read_str},
    {"map_push_elem", map_push_elem},
    {"map_pop_elem", map_take_elem<true>},
    {"map_peek_elem", map_take_elem<false>},
    {"spin_lock", spin_lock},
    {"spin_unlock", spin_unlock},
    {"probe_read_user", probe_read},
    {"probe_read_kernel", probe_read},
    {"probe_read_user_str", probe_read_str},
    {"probe_read_kernel_str", probe_read_str},
    {"jiffies64", jiffies64},
    {"ktime_get_boot_ns", ktime_get_boot_ns},
    {"ringbuf_output", ringbuf_output},
    {"ringbuf_reserve", ringbuf_reserve},
    {"ringbuf_submit", ringbuf_commit<false>},
    {"ringbuf_discard", ringbuf_commit<true>},
    {"ringbuf_query", ringbuf_query},
    {"ktime_get_coarse_ns", ktime_get_coarse_ns},
    {"for_each_map_elem", for_each_map_elem},
    {"snprintf", snprintf_helper},
    {"loop", loop},
    {"strncmp", strncmp_helper},
};

}  // namespace

Status add_kernel_helper(HelperTable& table,
                         std::string_view name,
                         HelperFn fn,
                         void* user,
                         const HelperProto* proto) {
  uint32_t id = kernel_helper_id(name);
  if (id == 0)
    return make_error(ErrorCode::kBadInput, kNoPc,
                      fmt::format("'{}' is not the name of a kernel helper", name));
  if (proto == nullptr) proto = find_proto(id);
  return table.add(id, std::string(kernel_helper_name(id)), fn, user, proto);
}

bool is_kernel_map_lookup(const HelperEntry* e) {
  return e != nullptr && e->id == 1 && e->fn == map_lookup_elem;
}

void register_kernel_helpers(HelperTable& table) {
  register_core_helpers(table);
  for (uint32_t id : {5u, 6u, 7u}) {  // attach the prototypes to the core helpers
    const HelperEntry* e = table.find(id);
    if (e != nullptr) (void)table.add(id, e->name, e->fn, e->user, find_proto(id));
  }
  for (const Reg& r : kHelpers)
    (void)add_kernel_helper(table, r.name, r.fn);
  detail::register_packet_helpers(table);
  detail::register_kernel_object_helpers(table);
  table.set_namer(kernel_helper_name);
}

}  // namespace bpfvm
