#include "tests/kernel/kernel_runner.h"

// bpfvm's headers before linux/bpf.h (vm/isa.h's BPF_OP clashes with linux/bpf_common.h's).
#include "vm/runtime/backend.h"
#include "vm/runtime/kernel_bpf.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include <fmt/format.h>

namespace bpfvm::kernel {
namespace {

// libbpf prints warnings and the verifier log through one global callback; collect them so a
// failed load can report why.
std::mutex g_log_mu;
std::string g_log;

int collect_log(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[4096];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (n > 0) {
    g_log.append(buf, std::min<size_t>(n, sizeof(buf) - 1));
    if (g_log.size() > (1u << 20)) g_log.erase(0, g_log.size() - (1u << 19));
  }
  return 0;
}

std::string log_tail(size_t max_chars = 3000) {
  if (g_log.size() <= max_chars) return g_log;
  return "..." + g_log.substr(g_log.size() - max_chars);
}

Error err(ErrorCode code, std::string msg) {
  return Error{code, kNoPc, std::move(msg)};
}

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};
using ObjectPtr = std::unique_ptr<bpf_object, ObjectCloser>;

bool is_queue_like(uint32_t type) {
  return type == BPF_MAP_TYPE_QUEUE || type == BPF_MAP_TYPE_STACK;
}

// Maps whose user-space view is not data: fds/ids (prog arrays, maps of maps), ring buffers
// (drained separately), perf event arrays.
bool is_dumpable(uint32_t type) {
  switch (type) {
    case BPF_MAP_TYPE_PROG_ARRAY:
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
    case BPF_MAP_TYPE_RINGBUF:
    case BPF_MAP_TYPE_USER_RINGBUF:
    case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
    case BPF_MAP_TYPE_STRUCT_OPS:
      return false;
    default:
      return true;
  }
}

bool name_matches(const std::string& actual, const std::string& wanted) {
  if (actual == wanted) return true;
  return !wanted.empty() && wanted[0] == '.' && actual.size() >= wanted.size() &&
         actual.compare(actual.size() - wanted.size(), wanted.size(), wanted) == 0;
}

bpf_map* find_map(bpf_object* obj, const std::string& wanted) {
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    if (name_matches(bpf_map__name(m), wanted)) return m;
  }
  return nullptr;
}

std::string map_names(bpf_object* obj) {
  std::string out;
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    if (!out.empty()) out += ", ";
    out += bpf_map__name(m);
  }
  return out;
}

Result<Ok> apply_init(bpf_map* map, const MapInit& init, int cpu, int ncpus) {
  const std::string name = bpf_map__name(map);
  const uint32_t type = bpf_map__type(map);
  const uint32_t ks = bpf_map__key_size(map), vs = bpf_map__value_size(map);
  if (init.values.empty())
    return err(ErrorCode::kBadInput, fmt::format("map '{}': init entry without a value", name));
  for (const Bytes& v : init.values) {
    if (v.size() != vs)
      return err(ErrorCode::kBadInput,
                 fmt::format("map '{}': value has {} bytes, the map's value_size is {}", name, v.size(), vs));
  }
  const void* key = nullptr;
  if (is_queue_like(type)) {
    if (!init.key.empty())
      return err(ErrorCode::kBadInput, fmt::format("map '{}': queue/stack values take no key", name));
  } else {
    if (init.key.size() != ks)
      return err(ErrorCode::kBadInput, fmt::format("map '{}': key has {} bytes, the map's key_size is {}",
                                                   name, init.key.size(), ks));
    key = init.key.data();
  }
  Bytes buf;
  if (is_per_cpu_map_type(type)) {
    const size_t stride = (vs + 7) / 8 * 8;
    buf.assign(stride * ncpus, 0);
    if (init.values.size() == 1) {
      std::memcpy(buf.data() + stride * cpu, init.values[0].data(), vs);
    } else if (init.values.size() == static_cast<size_t>(ncpus)) {
      for (int c = 0; c < ncpus; c++)
        std::memcpy(buf.data() + stride * c, init.values[c].data(), vs);
    } else {
      return err(ErrorCode::kBadInput,
                 fmt::format("map '{}': {} per-CPU values given, the kernel has {} possible CPUs", name,
                             init.values.size(), ncpus));
    }
  } else {
    if (init.values.size() != 1)
      return err(ErrorCode::kBadInput, fmt::format("map '{}' is not per-CPU: give one value", name));
    buf = init.values[0];
  }
  if (bpf_map_update_elem(bpf_map__fd(map), key, buf.data(), BPF_ANY) != 0)
    return err(ErrorCode::kInternal, fmt::format("map '{}': update failed: {}", name, strerror(errno)));
  return Ok{};
}

Result<MapContents> dump_map(bpf_map* map, int ncpus) {
  MapContents mc;
  mc.name = bpf_map__name(map);
  mc.type = bpf_map__type(map);
  mc.key_size = bpf_map__key_size(map);
  mc.value_size = bpf_map__value_size(map);
  mc.max_entries = bpf_map__max_entries(map);
  mc.per_cpu = is_per_cpu_map_type(mc.type);
  const int fd = bpf_map__fd(map);
  const size_t stride = (mc.value_size + 7) / 8 * 8;
  const int nvals = mc.per_cpu ? ncpus : 1;
  Bytes buf(mc.per_cpu ? stride * ncpus : mc.value_size);
  auto split = [&](MapEntry& e) {
    for (int c = 0; c < nvals; c++) {
      const uint8_t* p = buf.data() + (mc.per_cpu ? stride * c : 0);
      e.values.emplace_back(p, p + mc.value_size);
    }
  };
  if (is_queue_like(mc.type)) {
    for (uint32_t i = 0; i <= mc.max_entries; i++) {
      std::fill(buf.begin(), buf.end(), 0);
      if (bpf_map_lookup_and_delete_elem(fd, nullptr, buf.data()) != 0) break;
      MapEntry e;
      split(e);
      mc.entries.push_back(std::move(e));
    }
    return mc;
  }
  Bytes key(mc.key_size), next(mc.key_size);
  bool first = true;
  // Bounded: a hash map iterated while nothing else changes it yields at most max_entries keys.
  for (uint32_t i = 0; i <= mc.max_entries; i++) {
    if (bpf_map_get_next_key(fd, first ? nullptr : key.data(), next.data()) != 0) {
      if (errno == ENOENT) break;
      return err(ErrorCode::kInternal,
                 fmt::format("map '{}': get_next_key failed: {}", mc.name, strerror(errno)));
    }
    first = false;
    key = next;
    std::fill(buf.begin(), buf.end(), 0);
    if (bpf_map_lookup_elem(fd, key.data(), buf.data()) != 0) {
      if (errno == ENOENT) continue;  // deleted between the two calls (LRU)
      return err(ErrorCode::kInternal, fmt::format("map '{}': lookup failed: {}", mc.name, strerror(errno)));
    }
    MapEntry e;
    e.key = key;
    split(e);
    mc.entries.push_back(std::move(e));
  }
  std::sort(mc.entries.begin(), mc.entries.end(),
            [](const MapEntry& a, const MapEntry& b) { return a.key < b.key; });
  return mc;
}

}  // namespace

const MapContents* RunResult::find_map(const std::string& name_or_suffix) const {
  for (const MapContents& m : maps) {
    if (name_matches(m.name, name_or_suffix)) return &m;
  }
  return nullptr;
}

std::string to_hex(const Bytes& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s += kDigits[b >> 4];
    s += kDigits[b & 15];
  }
  return s;
}

bool kernel_bpf_available(std::string* why) {
  auto fail = [&](std::string msg) {
    if (why) *why = std::move(msg);
    return false;
  };
  if (geteuid() != 0) return fail("not running as root: loading and test-running BPF programs needs root");
  if (Status st = kernel_available(); !st) return fail(st.error().msg);
  return true;
}

Result<std::vector<std::string>> kernel_list_programs(const std::string& object_path) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  g_log.clear();
  libbpf_set_print(collect_log);
  ObjectPtr obj(bpf_object__open_file(object_path.c_str(), nullptr));
  if (!obj)
    return err(ErrorCode::kElf,
               fmt::format("{}: cannot open: {} {}", object_path, strerror(errno), log_tail()));
  std::vector<std::string> names;
  bpf_program* p;
  bpf_object__for_each_program(p, obj.get()) names.push_back(bpf_program__name(p));
  return names;
}

Result<RunResult> kernel_run(const RunRequest& req) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  g_log.clear();
  libbpf_set_print(collect_log);
  const std::string where = fmt::format("{} ({})", req.object_path, req.program);

  ObjectPtr obj(bpf_object__open_file(req.object_path.c_str(), nullptr));
  if (!obj)
    return err(ErrorCode::kElf, fmt::format("{}: cannot open: {}\n{}", where, strerror(errno), log_tail()));
  bpf_program* prog = bpf_object__find_program_by_name(obj.get(), req.program.c_str());
  if (!prog) return err(ErrorCode::kBadInput, fmt::format("{}: no program named '{}'", where, req.program));

  const int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return err(ErrorCode::kInternal, "libbpf_num_possible_cpus failed");
  if (req.cpu < 0 || req.cpu >= ncpus || req.cpu >= CPU_SETSIZE)
    return err(ErrorCode::kBadInput,
               fmt::format("{}: cpu {} out of range (0..{})", where, req.cpu, ncpus - 1));

  // Read-only global data (.rodata) is frozen at load: its initial value is set before.
  std::vector<const MapInit*> after_load;
  for (const MapInit& init : req.maps_before) {
    bpf_map* m = find_map(obj.get(), init.map);
    if (!m)
      return err(ErrorCode::kBadInput,
                 fmt::format("{}: no map '{}' (maps: {})", where, init.map, map_names(obj.get())));
    const std::string name = bpf_map__name(m);
    if (name.size() >= 7 && name.compare(name.size() - 7, 7, ".rodata") == 0) {
      size_t size = 0;
      const void* data = bpf_map__initial_value(m, &size);
      if (!data || init.values.size() != 1 || init.values[0].size() != size || init.key != Bytes(4, 0))
        return err(
            ErrorCode::kBadInput,
            fmt::format("{}: map '{}' takes key 00000000 and one value of {} bytes", where, name, size));
      if (bpf_map__set_initial_value(m, init.values[0].data(), size) != 0)
        return err(ErrorCode::kInternal,
                   fmt::format("{}: cannot set the initial value of '{}'", where, name));
    } else {
      after_load.push_back(&init);
    }
  }

  if (bpf_object__load(obj.get()) != 0)
    return err(ErrorCode::kVerifier,
               fmt::format("{}: load failed: {}\n{}", where, strerror(errno), log_tail()));

  for (const MapInit* init : after_load) {
    auto r = apply_init(find_map(obj.get(), init->map), *init, req.cpu, ncpus);
    if (!r) return err(r.error().code, fmt::format("{}: {}", where, r.error().msg));
  }

  RunResult res;
  res.prog_type = bpf_program__type(prog);
  res.cpu = req.cpu;
  res.num_cpus = ncpus;
  res.data_out.assign(
      req.data_in.empty() ? 0 : (req.data_size_out ? req.data_size_out : req.data_in.size() + 512), 0);
  res.ctx_out.assign(req.ctx_in.empty() ? 0 : (req.ctx_size_out ? req.ctx_size_out : req.ctx_in.size()), 0);

  LIBBPF_OPTS(bpf_test_run_opts, opts);
  if (!req.data_in.empty()) {
    opts.data_in = req.data_in.data();
    opts.data_size_in = req.data_in.size();
    opts.data_out = res.data_out.data();
    opts.data_size_out = res.data_out.size();
  }
  // Raw tracepoint test runs take a context but reject ctx_out, data and repeat (even 1).
  const bool raw_tp = res.prog_type == BPF_PROG_TYPE_RAW_TRACEPOINT;
  if (!req.ctx_in.empty()) {
    opts.ctx_in = req.ctx_in.data();
    opts.ctx_size_in = req.ctx_in.size();
    if (!raw_tp) {
      opts.ctx_out = res.ctx_out.data();
      opts.ctx_size_out = res.ctx_out.size();
    } else {
      res.ctx_out.clear();
    }
  }
  if (raw_tp && req.repeat > 1)
    return err(ErrorCode::kBadInput,
               fmt::format("{}: raw tracepoint test runs do not support repeat", where));
  opts.repeat = req.repeat > 1 ? req.repeat : 0;  // 0 and 1 both mean once
  {
    CpuPin pin(static_cast<uint32_t>(req.cpu));
    if (!pin.ok())
      return err(ErrorCode::kInternal,
                 fmt::format("{}: cannot pin to cpu {}: {}", where, req.cpu, strerror(errno)));
    if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts) != 0)
      return err(ErrorCode::kInternal,
                 fmt::format("{}: BPF_PROG_TEST_RUN failed: {}", where, strerror(errno)));
  }
  res.retval = opts.retval;
  res.duration_ns = opts.duration;
  if (!req.data_in.empty()) res.data_out.resize(std::min<size_t>(opts.data_size_out, res.data_out.size()));
  if (!req.ctx_in.empty() && !raw_tp)
    res.ctx_out.resize(std::min<size_t>(opts.ctx_size_out, res.ctx_out.size()));

  bpf_map* m;
  bpf_object__for_each_map(m, obj.get()) {
    const uint32_t type = bpf_map__type(m);
    if (type == BPF_MAP_TYPE_RINGBUF) {
      auto records = kernel_drain_ringbuf(bpf_map__fd(m), bpf_map__name(m));
      if (!records) return err(records.error().code, fmt::format("{}: {}", where, records.error().msg));
      res.ringbufs.emplace_back(bpf_map__name(m), std::move(*records));
      continue;
    }
    if (!is_dumpable(type)) continue;
    auto mc = dump_map(m, ncpus);
    if (!mc) return err(mc.error().code, fmt::format("{}: {}", where, mc.error().msg));
    res.maps.push_back(std::move(*mc));
  }
  return res;
}

}  // namespace bpfvm::kernel
