// The kernel backend: libbpf opens the object, creates its maps in the kernel (BTF loaded when the
// object has it, relocations pointing at the real map fds), loads the programs through bpf(2) and
// test-runs them with BPF_PROG_TEST_RUN.
//
// Per-program verdicts: libbpf loads an object all or nothing, so the first load tries every program
// at once; when that fails, each program is loaded alone in a fresh copy of the object (autoload off
// for the others) to get its own verdict and log, and the accepted programs are then loaded together
// into the object that runs (prog arrays and tail calls work between them).
//
// Log levels: without BackendOptions::full_log the kernel gets log level 4 (BPF_LOG_STATS): the
// error lines and the statistics, a few hundred bytes; with it, level 1|4 (the whole analysis). A
// log longer than the buffer makes the kernel fail the load with ENOSPC even for a valid program,
// so such a load is retried at level 0 for the verdict (the buffer keeps the log's tail).
// bpfvm's headers first: vm/isa.h's X-macro BPF_OP would otherwise clash with linux/bpf_common.h's.
#include "maps/map.h"
#include "vm/decode.h"
#include "vm/elf/elf_loader.h"
#include "vm/runtime/backend.h"
#include "vm/runtime/context.h"
#include "vm/runtime/kernel_bpf.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstring>
#include <memory>
#include <mutex>

#include <fmt/format.h>

namespace bpfvm {

Result<std::unique_ptr<Backend>> open_kernel_backend(const std::string& path, const BackendOptions& opts);

namespace {

Error bad(ErrorCode code, std::string msg) {
  return Error{code, kNoPc, std::move(msg)};
}

// libbpf reports through one global print callback: collect its warnings for the current call.
std::mutex g_libbpf_mu;
std::string* g_libbpf_log = nullptr;

int collect_print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG || !g_libbpf_log) return 0;
  char buf[2048];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (n > 0 && g_libbpf_log->size() < (1u << 20))
    g_libbpf_log->append(buf, std::min<size_t>(n, sizeof(buf) - 1));
  return 0;
}

// Holds the libbpf lock and collects its messages into `log` while alive.
class LibbpfCall {
 public:
  explicit LibbpfCall(std::string* log) : lock_(g_libbpf_mu) {
    g_libbpf_log = log;
    libbpf_set_print(collect_print);
  }
  ~LibbpfCall() { g_libbpf_log = nullptr; }

 private:
  std::lock_guard<std::mutex> lock_;
};

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};
using ObjectPtr = std::unique_ptr<bpf_object, ObjectCloser>;

std::string trim_right(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r'))
    s.pop_back();
  return s;
}

// The kernel log's statistics and bookkeeping lines, which are not the reason of a rejection.
bool is_stats_line(std::string_view l) {
  return l.empty() || l.starts_with("processed ") || l.starts_with("verification time") ||
         l.starts_with("stack depth") || l.starts_with("-- ") || l.starts_with("Validating ") ||
         l.starts_with("func#");
}

// The reason of a rejection: the last line of the kernel log that is not statistics, else libbpf's
// last warning.
std::string error_line(const std::string& log, const std::string& libbpf_log) {
  for (const std::string* text : {&log, &libbpf_log}) {
    size_t end = text->size();
    while (end > 0) {
      size_t start = text->rfind('\n', end - 1);
      start = start == std::string::npos ? 0 : start + 1;
      std::string line = trim_right(text->substr(start, end - start));
      // libbpf's closing summaries say nothing the line before them does not.
      if (!is_stats_line(line) && line.find("BEGIN PROG LOAD LOG") == std::string::npos &&
          line.find("END PROG LOAD LOG") == std::string::npos &&
          line.find("failed to load object") == std::string::npos &&
          line.find("failed to load program") == std::string::npos)
        return line;
      if (start == 0) break;
      end = start - 1;
    }
  }
  return "";
}

uint64_t processed_insns(const std::string& log) {
  size_t p = log.rfind("processed ");
  if (p == std::string::npos) return 0;
  return std::strtoull(log.c_str() + p + 10, nullptr, 10);
}

std::string errno_hint(int err, const std::string& log) {
  switch (err) {
    case EPERM:
    case EACCES:
      if (log.empty())
        return " (no privilege: loading BPF programs needs root or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN)";
      return "";
    case ENOSYS:
      return " (bpf(2) is not available: the kernel was built without CONFIG_BPF_SYSCALL)";
    case EINVAL:
      if (log.find("unknown opcode") != std::string::npos || log.find("invalid BPF_") != std::string::npos)
        return " (the kernel does not know an instruction of the program: is it older than the -mcpu the "
               "object was built for?)";
      return "";
    default:
      return "";
  }
}

// ---- bpf(2) calls shared by both kernel backends ----

constexpr int kKernelEnotsupp = 524;  // the kernel's internal ENOTSUPP, as test_run returns it

Error map_sys_error(const std::string& map, const char* what) {
  return bad(ErrorCode::kBadInput, fmt::format("map '{}': {} failed: {}", map, what, strerror(errno)));
}

Result<TestRunOutput> kernel_test_run(int fd,
                                      const std::string& name,
                                      ProgType type,
                                      const TestRunInput& in) {
  const bool raw_tp = type == ProgType::RawTracepoint || type == ProgType::RawTracepointWritable;
  TestRunOutput out;
  // Output buffers large enough for any packet growth and any context: the kernel fails a run with
  // ENOSPC when they are smaller than what it copies back.
  out.data_out.assign(in.data_in.empty() ? 0 : in.data_in.size() + kFrameSize, 0);
  out.ctx_out.assign(in.ctx_in.empty() || raw_tp ? 0 : std::max<size_t>(in.ctx_in.size(), kCtxAreaSize), 0);
  LIBBPF_OPTS(bpf_test_run_opts, o);
  if (!in.data_in.empty()) {
    o.data_in = in.data_in.data();
    o.data_size_in = static_cast<uint32_t>(in.data_in.size());
    o.data_out = out.data_out.data();
    o.data_size_out = static_cast<uint32_t>(out.data_out.size());
  }
  if (!in.ctx_in.empty()) {
    o.ctx_in = in.ctx_in.data();
    o.ctx_size_in = static_cast<uint32_t>(in.ctx_in.size());
    if (!raw_tp) {
      o.ctx_out = out.ctx_out.data();
      o.ctx_size_out = static_cast<uint32_t>(out.ctx_out.size());
    }
  }
  // Raw tracepoints reject repeat (even 1); 0 and 1 both mean once elsewhere.
  if (raw_tp && in.repeat > 1)
    return bad(ErrorCode::kUnsupported, "the kernel does not repeat raw tracepoint test runs");
  o.repeat = in.repeat > 1 ? in.repeat : 0;
  {
    CpuPin pin(in.cpu);
    if (!pin.ok())
      return bad(ErrorCode::kBadInput, fmt::format("cannot run on cpu {}: {}", in.cpu, strerror(errno)));
    if (bpf_prog_test_run_opts(fd, &o) != 0) {
      const int e = errno;
      std::string hint;
      if (e == kKernelEnotsupp || e == EOPNOTSUPP)
        hint = fmt::format(" (the kernel does not test-run {} programs)", prog_type_name(type));
      return bad(ErrorCode::kUnsupported, fmt::format("BPF_PROG_TEST_RUN of '{}' failed: {}{}", name,
                                                      e == kKernelEnotsupp ? "ENOTSUPP" : strerror(e), hint));
    }
  }
  out.retval = o.retval;
  out.duration_ns = o.duration;
  if (!in.data_in.empty()) out.data_out.resize(std::min<size_t>(o.data_size_out, out.data_out.size()));
  if (!out.ctx_out.empty()) out.ctx_out.resize(std::min<size_t>(o.ctx_size_out, out.ctx_out.size()));
  return out;
}

Result<std::optional<std::vector<uint8_t>>> kernel_map_lookup(int fd,
                                                              const std::string& name,
                                                              const void* key,
                                                              uint32_t value_size) {
  std::vector<uint8_t> out(value_size);
  if (bpf_map_lookup_elem(fd, key, out.data()) != 0) {
    if (errno == ENOENT) return std::optional<std::vector<uint8_t>>{};
    return map_sys_error(name, "lookup");
  }
  return std::optional<std::vector<uint8_t>>(std::move(out));
}

Status kernel_map_update(int fd,
                         const std::string& name,
                         const void* key,
                         std::span<const uint8_t> value,
                         uint32_t value_size,
                         uint64_t flags) {
  if (value.size() != value_size)
    return bad(ErrorCode::kBadInput,
               fmt::format("map '{}': value has {} bytes, {} expected", name, value.size(), value_size));
  if (bpf_map_update_elem(fd, key, value.data(), flags) != 0) return map_sys_error(name, "update");
  return Ok{};
}

Result<std::optional<std::vector<uint8_t>>> kernel_map_next_key(int fd,
                                                                const std::string& name,
                                                                const void* key,
                                                                uint32_t key_size) {
  std::vector<uint8_t> next(key_size);
  if (bpf_map_get_next_key(fd, key, next.data()) != 0) {
    if (errno == ENOENT) return std::optional<std::vector<uint8_t>>{};
    return map_sys_error(name, "get_next_key");
  }
  return std::optional<std::vector<uint8_t>>(std::move(next));
}

Result<std::optional<std::vector<uint8_t>>> kernel_map_pop(int fd,
                                                           const std::string& name,
                                                           uint32_t value_size) {
  std::vector<uint8_t> out(value_size);
  if (bpf_map_lookup_and_delete_elem(fd, nullptr, out.data()) != 0) {
    if (errno == ENOENT) return std::optional<std::vector<uint8_t>>{};
    return map_sys_error(name, "pop");
  }
  return std::optional<std::vector<uint8_t>>(std::move(out));
}

// What both kernel backends share: the program and map lists, the verdicts, and map access through
// the fd of a created map.
class KernelBackendBase : public Backend {
 public:
  KernelBackendBase() {
    int n = libbpf_num_possible_cpus();
    ncpus_ = n > 0 ? static_cast<uint32_t>(n) : 1;
  }
  BackendKind kind() const override { return BackendKind::Kernel; }
  size_t num_programs() const override { return progs_.size(); }
  const BackendProgram& program(size_t i) const override { return progs_.at(i); }
  size_t num_maps() const override { return maps_.size(); }
  const BackendMap& map(size_t i) const override { return maps_.at(i); }
  uint32_t num_cpus() const override { return ncpus_; }
  const ProgramVerdict& verdict(size_t i) const override { return verdicts_.at(i); }
  std::string object_error() const override { return object_error_; }

  Result<std::optional<std::vector<uint8_t>>> map_lookup(size_t m, std::span<const uint8_t> key) override {
    auto fd = map_fd(m, key.size());
    if (!fd) return fd.error();
    return kernel_map_lookup(*fd, maps_[m].name, key.data(), value_buffer_size(m));
  }

  Status map_update(size_t m,
                    std::span<const uint8_t> key,
                    std::span<const uint8_t> value,
                    uint64_t flags) override {
    const bool queue =
        m < maps_.size() && (maps_[m].type == MapType::Queue || maps_[m].type == MapType::Stack);
    auto fd = map_fd(m, queue ? 0 : key.size());
    if (!fd) return fd.error();
    return kernel_map_update(*fd, maps_[m].name, queue ? nullptr : key.data(), value, value_buffer_size(m),
                             flags);
  }

  Result<std::optional<std::vector<uint8_t>>> map_next_key(size_t m,
                                                           const std::vector<uint8_t>* key) override {
    auto fd = map_fd(m, key ? key->size() : maps_.at(m).key_size);
    if (!fd) return fd.error();
    return kernel_map_next_key(*fd, maps_[m].name, key ? key->data() : nullptr, maps_[m].key_size);
  }

  Result<std::optional<std::vector<uint8_t>>> map_pop(size_t m) override {
    auto fd = map_fd(m, 0);
    if (!fd) return fd.error();
    return kernel_map_pop(*fd, maps_[m].name, maps_[m].value_size);
  }

  Result<std::vector<std::vector<uint8_t>>> drain_ringbuf(size_t m) override {
    if (m >= maps_.size() || maps_[m].type != MapType::Ringbuf) return std::vector<std::vector<uint8_t>>{};
    auto fd = map_fd(m, 0);
    if (!fd) return fd.error();
    return kernel_drain_ringbuf(*fd, maps_[m].name);
  }

 protected:
  // The fd of map `m` once created, else -1.
  virtual int created_map_fd(size_t m) const = 0;

  // The fd of map `m`, after checking the key size (none for queues, stacks and ring buffers).
  Result<int> map_fd(size_t m, size_t key_size) const {
    if (!loaded_ || m >= maps_.size())
      return bad(ErrorCode::kBadInput, "no such map, or load() not called yet");
    const MapType t = maps_[m].type;
    if (key_size != maps_[m].key_size && t != MapType::Queue && t != MapType::Stack && t != MapType::Ringbuf)
      return bad(ErrorCode::kBadInput, fmt::format("map '{}': key has {} bytes, the map's key_size is {}",
                                                   maps_[m].name, key_size, maps_[m].key_size));
    int fd = created_map_fd(m);
    if (fd < 0) return bad(ErrorCode::kInternal, fmt::format("map '{}' was not created", maps_[m].name));
    return fd;
  }

  std::vector<BackendProgram> progs_;
  std::vector<BackendMap> maps_;
  std::vector<ProgramVerdict> verdicts_;
  std::string object_error_;
  uint32_t ncpus_ = 1;
  bool loaded_ = false;
};

class KernelBackend final : public KernelBackendBase {
 public:
  KernelBackend(std::string path, const BackendOptions& opts) : path_(std::move(path)), opts_(opts) {}

  Status open() {
    std::string msgs;
    auto obj = open_fresh(&msgs);
    if (!obj) return obj.error();
    obj_ = std::move(*obj);
    bpf_program* p;
    bpf_object__for_each_program(p, obj_.get()) {
      BackendProgram bp;
      bp.name = bpf_program__name(p);
      bp.section = bpf_program__section_name(p);
      bp.insns = bpf_program__insn_cnt(p);
      uint32_t t = bpf_program__type(p);
      if (opts_.object.type_override)
        t = static_cast<uint32_t>(*opts_.object.type_override);
      else if (t == BPF_PROG_TYPE_UNSPEC)
        t = static_cast<uint32_t>(prog_type_from_section(bp.section).type);  // bpfvm's looser convention
      bp.type = static_cast<ProgType>(t);
      progs_.push_back(std::move(bp));
    }
    bpf_map* m;
    bpf_object__for_each_map(m, obj_.get()) {
      BackendMap bm;
      bm.name = bpf_map__name(m);
      bm.type = static_cast<MapType>(bpf_map__type(m));
      bm.key_size = bpf_map__key_size(m);
      bm.value_size = bpf_map__value_size(m);
      bm.max_entries = bpf_map__max_entries(m);
      bm.map_flags = bpf_map__map_flags(m);
      bm.per_cpu = is_per_cpu_map_type(bpf_map__type(m));
      maps_.push_back(std::move(bm));
    }
    return Ok{};
  }

  Status set_initial_value(size_t m, std::span<const uint8_t> value) override {
    if (m >= maps_.size()) return bad(ErrorCode::kBadInput, "map index out of range");
    if (loaded_) return bad(ErrorCode::kBadInput, fmt::format("map '{}': already loaded", maps_[m].name));
    initial_values_.emplace_back(m, std::vector<uint8_t>(value.begin(), value.end()));
    std::string msgs;
    LibbpfCall call(&msgs);
    return apply_initial_values(obj_.get());
  }

  Status load() override {
    if (loaded_) return Ok{};
    const size_t n = progs_.size();
    verdicts_.assign(n, ProgramVerdict{});
    std::vector<bool> all(n, true);
    // Fast path: every program at once.
    std::string msgs;
    int err = try_load(obj_.get(), all, &msgs, verdicts_);
    if (err == 0) {
      loaded_ = true;
      return Ok{};
    }
    // One program at a time, each in its own copy of the object.
    std::vector<bool> accepted(n, false);
    std::string first_error;
    for (size_t i = 0; i < n; i++) {
      std::vector<bool> only(n, false);
      only[i] = true;
      std::string pmsgs;
      auto o = open_fresh(&pmsgs);
      if (!o) return o.error();
      std::vector<ProgramVerdict> v(n);
      try_load(o->get(), only, &pmsgs, v);
      verdicts_[i] = std::move(v[i]);
      accepted[i] = verdicts_[i].accepted;
    }
    // The object that runs: the accepted programs together (or only the maps).
    std::string fmsgs;
    auto o = open_fresh(&fmsgs);
    if (!o) return o.error();
    obj_ = std::move(*o);
    std::vector<ProgramVerdict> v(n);
    err = try_load(obj_.get(), accepted, &fmsgs, v);
    if (err != 0) {
      std::string why = error_line("", fmsgs);
      for (ProgramVerdict& pv : verdicts_)
        if (pv.accepted) {
          pv.accepted = false;
          pv.err_no = err;
          pv.error = "the object does not load with the other programs: " + why;
        }
      object_error_ = fmt::format("the kernel did not load the object: {}{}", strerror(err),
                                  why.empty() ? "" : ": " + why);
      return bad(ErrorCode::kVerifier, fmt::format("{}: {}", path_, object_error_));
    }
    loaded_ = true;
    return Ok{};
  }

  Result<TestRunOutput> test_run(size_t prog, const TestRunInput& in) override {
    if (!loaded_ || prog >= progs_.size()) return bad(ErrorCode::kBadInput, "test_run: program not loaded");
    if (!verdicts_[prog].accepted)
      return bad(ErrorCode::kVerifier,
                 fmt::format("program '{}' was rejected: {}", progs_[prog].name, verdicts_[prog].error));
    bpf_program* p = bpf_object__find_program_by_name(obj_.get(), progs_[prog].name.c_str());
    if (!p) return bad(ErrorCode::kInternal, "program vanished from the loaded object");
    return kernel_test_run(bpf_program__fd(p), progs_[prog].name, progs_[prog].type, in);
  }

 private:
  Result<ObjectPtr> open_fresh(std::string* msgs) {
    LibbpfCall call(msgs);
    ObjectPtr o(bpf_object__open_file(path_.c_str(), nullptr));
    if (!o) {
      const int e = errno;
      std::string why = error_line("", *msgs);
      return bad(ErrorCode::kElf, fmt::format("{}: libbpf cannot open the object: {}{}", path_, strerror(e),
                                              why.empty() ? "" : " (" + why + ")"));
    }
    return o;
  }

  // Before bpf_object__load: maps declared with `pinning` are not pinned (a test run must not
  // leave objects on bpffs, nor reuse a pinned map of an earlier run, and needs no mounted bpffs),
  // and global data gets its initial values.
  Status prepare(bpf_object* o) {
    bpf_map* pm;
    bpf_object__for_each_map(pm, o) {
      if (bpf_map__set_pin_path(pm, nullptr) != 0)
        return bad(ErrorCode::kInternal, fmt::format("map '{}': cannot unset its pin path", bpf_map__name(pm)));
    }
    return apply_initial_values(o);
  }

  Status apply_initial_values(bpf_object* o) {
    for (const auto& [m, value] : initial_values_) {
      bpf_map* map = nth_map(o, m);
      size_t size = 0;
      if (!map || !bpf_map__initial_value(map, &size))
        return bad(ErrorCode::kBadInput,
                   fmt::format("map '{}' has no initial value (not global data)", maps_[m].name));
      if (size != value.size())
        return bad(ErrorCode::kBadInput, fmt::format("map '{}': initial value has {} bytes, {} given",
                                                     maps_[m].name, size, value.size()));
      if (bpf_map__set_initial_value(map, value.data(), size) != 0)
        return bad(ErrorCode::kInternal,
                   fmt::format("map '{}': cannot set the initial value", maps_[m].name));
    }
    return Ok{};
  }

  static bpf_map* nth_map(bpf_object* o, size_t n) {
    bpf_map* m;
    size_t i = 0;
    bpf_object__for_each_map(m, o) {
      if (i++ == n) return m;
    }
    return nullptr;
  }

  // Loads `o` with the programs in `load` (autoload off for the others); fills their verdicts.
  // Returns 0 or the errno of the load.
  int try_load(bpf_object* o,
               const std::vector<bool>& load,
               std::string* msgs,
               std::vector<ProgramVerdict>& out) {
    const uint32_t level = opts_.full_log ? 1 | 4 : 4;
    std::vector<std::unique_ptr<char[]>> bufs(progs_.size());
    LibbpfCall call(msgs);
    if (!prepare(o)) return EINVAL;
    size_t i = 0;
    bpf_program* p;
    bpf_object__for_each_program(p, o) {
      bpf_program__set_autoload(p, load[i]);
      if (bpf_program__type(p) != static_cast<uint32_t>(progs_[i].type))
        bpf_program__set_type(p, static_cast<bpf_prog_type>(progs_[i].type));
      if (load[i]) {
        bufs[i].reset(new char[opts_.log_size]);
        bufs[i][0] = '\0';
        bpf_program__set_log_buf(p, bufs[i].get(), opts_.log_size);
        bpf_program__set_log_level(p, level);
      }
      i++;
    }
    auto start = std::chrono::steady_clock::now();
    int rc = bpf_object__load(o);
    const int err = rc == 0 ? 0 : (rc < 0 ? -rc : errno);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (size_t k = 0; k < progs_.size(); k++) {
      if (!load[k]) continue;
      ProgramVerdict& v = out[k];
      v.accepted = rc == 0;
      v.err_no = err;
      v.load_seconds = secs;
      bufs[k][opts_.log_size - 1] = '\0';
      v.log = bufs[k].get();
      v.insns_processed = processed_insns(v.log);
      if (rc != 0) v.error = error_line(v.log, *msgs) + errno_hint(err, v.log);
      if (!v.error.empty() || rc == 0) continue;
      v.error = strerror(err);
    }
    // A log that overflowed the buffer fails even a valid program with ENOSPC: ask for the verdict
    // alone (the buffer kept the log's tail).
    if (rc != 0 && err == ENOSPC && std::count(load.begin(), load.end(), true) == 1) {
      const size_t k = static_cast<size_t>(std::find(load.begin(), load.end(), true) - load.begin());
      std::string log = out[k].log;
      std::string m2;
      g_libbpf_log = &m2;
      auto o2 = ObjectPtr(bpf_object__open_file(path_.c_str(), nullptr));
      if (o2 && prepare(o2.get())) {
        size_t j = 0;
        bpf_object__for_each_program(p, o2.get()) {
          bpf_program__set_autoload(p, j == k);
          if (bpf_program__type(p) != static_cast<uint32_t>(progs_[j].type))
            bpf_program__set_type(p, static_cast<bpf_prog_type>(progs_[j].type));
          j++;
        }
        int rc2 = bpf_object__load(o2.get());
        out[k].accepted = rc2 == 0;
        out[k].err_no = rc2 == 0 ? 0 : -rc2;
        out[k].error = rc2 == 0 ? "" : error_line(log, m2);
        out[k].log = "... (log truncated to its tail)\n" + log;
      }
      g_libbpf_log = msgs;
      return out[k].accepted ? 0 : out[k].err_no;
    }
    return err;
  }

  int created_map_fd(size_t m) const override {
    bpf_map* map = nth_map(obj_.get(), m);
    return map ? bpf_map__fd(map) : -1;
  }

  std::string path_;
  BackendOptions opts_;
  ObjectPtr obj_;
  std::vector<std::pair<size_t, std::vector<uint8_t>>> initial_values_;
};

// Objects libbpf 1.x refuses (legacy SEC("maps") definitions) or where it lists fewer programs than
// there are (sections without function symbols):
// bpfvm's ELF loader reads them, and the maps and programs go to the kernel through plain bpf(2)
// calls: maps created from the definitions (global data filled, .rodata frozen), map references of
// the linked code patched to BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE with the real fds, every
// program loaded on its own (verdict + log), prog arrays and maps of maps filled from `.values`.
// No BTF is loaded on this path (these objects predate BTF-defined maps).
class RawKernelBackend final : public KernelBackendBase {
 public:
  RawKernelBackend(std::string path, ObjectFile file, const BackendOptions& opts, std::string why)
      : path_(std::move(path)), file_(std::move(file)), opts_(opts), libbpf_error_(std::move(why)) {
    for (const ElfProgram& p : file_.programs)
      progs_.push_back(BackendProgram{p.name, p.section, p.type, p.code.insns.size()});
    for (const MapDef& d : file_.maps)
      maps_.push_back(BackendMap{d.name, d.type, d.key_size, d.value_size, d.max_entries, d.map_flags,
                                 is_per_cpu_map_type(static_cast<uint32_t>(d.type))});
  }
  ~RawKernelBackend() override {
    for (int fd : prog_fds_)
      if (fd >= 0) close(fd);
    for (int fd : map_fds_)
      if (fd >= 0) close(fd);
  }

  Status set_initial_value(size_t m, std::span<const uint8_t> value) override {
    if (m >= maps_.size() || loaded_)
      return bad(ErrorCode::kBadInput, "set_initial_value: bad map or already loaded");
    if (value.size() != file_.maps[m].initial_value.size())
      return bad(ErrorCode::kBadInput,
                 fmt::format("map '{}': initial value has {} bytes, {} given", maps_[m].name,
                             file_.maps[m].initial_value.size(), value.size()));
    file_.maps[m].initial_value.assign(value.begin(), value.end());
    return Ok{};
  }

  Status load() override {
    if (loaded_) return Ok{};
    loaded_ = true;
    verdicts_.assign(progs_.size(), ProgramVerdict{});
    map_fds_.assign(maps_.size(), -1);
    prog_fds_.assign(progs_.size(), -1);
    for (size_t m = 0; m < maps_.size(); m++) {
      auto fd = create_map(file_.maps[m]);
      if (!fd) {
        object_error_ = fd.error().msg;
        for (ProgramVerdict& v : verdicts_) {
          v.err_no = EINVAL;
          v.error = object_error_;
        }
        return bad(ErrorCode::kVerifier, fmt::format("{}: {}", path_, object_error_));
      }
      map_fds_[m] = *fd;
    }
    for (size_t i = 0; i < progs_.size(); i++)
      load_program(i);
    // Declarative slots (.values) of prog arrays and maps of maps.
    for (size_t m = 0; m < maps_.size(); m++)
      for (const auto& [slot, ref] : file_.maps[m].init_refs) {
        int fd = -1;
        if (maps_[m].type == MapType::ProgArray) {
          int p = file_.find_program(ref);
          fd = p >= 0 ? prog_fds_[p] : -1;
        } else {
          int mi = file_.find_map(ref);
          fd = mi >= 0 ? map_fds_[mi] : -1;
        }
        if (fd >= 0) bpf_map_update_elem(map_fds_[m], &slot, &fd, BPF_ANY);
      }
    return Ok{};
  }

  Result<TestRunOutput> test_run(size_t prog, const TestRunInput& in) override {
    if (prog >= progs_.size() || prog_fds_.size() <= prog || prog_fds_[prog] < 0)
      return bad(ErrorCode::kVerifier, fmt::format("program '{}' is not loaded", progs_.at(prog).name));
    return kernel_test_run(prog_fds_[prog], progs_[prog].name, progs_[prog].type, in);
  }

 private:
  int created_map_fd(size_t m) const override { return m < map_fds_.size() ? map_fds_[m] : -1; }

  static std::string kernel_name(const std::string& name) {
    std::string s;
    for (char c : name)
      if (s.size() < BPF_OBJ_NAME_LEN - 1 && (isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'))
        s += c;
    return s;
  }

  Result<int> create_map(const MapDef& d) {
    LIBBPF_OPTS(bpf_map_create_opts, o);
    o.map_flags = d.map_flags | (d.read_only && !d.initial_value.empty() ? BPF_F_RDONLY_PROG : 0);
    o.map_extra = d.map_extra;
    int inner = -1;
    if (!d.inner.empty()) {
      const MapDef& in = d.inner[0];
      inner = bpf_map_create(static_cast<bpf_map_type>(in.type), nullptr, in.key_size, in.value_size,
                             in.max_entries, nullptr);
      if (inner < 0)
        return bad(ErrorCode::kVerifier, fmt::format("map '{}': creating the inner map template failed: {}",
                                                     d.name, strerror(errno)));
      o.inner_map_fd = inner;
    }
    int fd = bpf_map_create(static_cast<bpf_map_type>(d.type), kernel_name(d.name).c_str(), d.key_size,
                            d.value_size, d.max_entries, &o);
    const int e = errno;
    if (inner >= 0) close(inner);
    if (fd < 0)
      return bad(ErrorCode::kVerifier, fmt::format("map '{}': failed to create: {}", d.name, strerror(e)));
    if (!d.initial_value.empty()) {
      const uint32_t zero = 0;
      if (bpf_map_update_elem(fd, &zero, d.initial_value.data(), BPF_ANY) != 0 ||
          (d.read_only && bpf_map_freeze(fd) != 0)) {
        const int e2 = errno;
        close(fd);
        return bad(ErrorCode::kVerifier,
                   fmt::format("map '{}': setting its data failed: {}", d.name, strerror(e2)));
      }
    }
    return fd;
  }

  void load_program(size_t i) {
    const ElfProgram& p = file_.programs[i];
    ProgramVerdict& v = verdicts_[i];
    if (!p.status) {
      v.err_no = EINVAL;
      v.error = "not linked: " + p.status.error().to_string();
      return;
    }
    std::vector<uint8_t> code = encode(p.code.insns);
    for (const MapReloc& r : p.map_relocs) {
      if (r.insn >= p.code.insns.size() || r.map >= map_fds_.size()) continue;
      const size_t at = static_cast<size_t>(p.code.insns[r.insn].pc) * 8;
      if (at + 16 > code.size()) continue;
      const uint8_t src = r.src == LddwSrc::MapIdxValue ? BPF_PSEUDO_MAP_VALUE : BPF_PSEUDO_MAP_FD;
      code[at + 1] = static_cast<uint8_t>((code[at + 1] & 0x0f) | (src << 4));
      const int32_t fd = map_fds_[r.map];
      const uint32_t off = r.src == LddwSrc::MapIdxValue ? r.offset : 0;
      std::memcpy(&code[at + 4], &fd, 4);
      std::memcpy(&code[at + 12], &off, 4);
    }
    std::unique_ptr<char[]> buf(new char[opts_.log_size]);
    buf[0] = '\0';
    LIBBPF_OPTS(bpf_prog_load_opts, o);
    o.log_buf = buf.get();
    o.log_size = static_cast<uint32_t>(opts_.log_size);
    o.log_level = opts_.full_log ? 1 | 4 : 4;
    o.kern_version = file_.kernel_version.value_or(0);
    const std::string license = file_.license.empty() ? "GPL" : file_.license;
    auto start = std::chrono::steady_clock::now();
    ProgType t = opts_.object.type_override.value_or(p.type);
    int fd = bpf_prog_load(static_cast<bpf_prog_type>(t), kernel_name(p.name).c_str(), license.c_str(),
                           reinterpret_cast<const bpf_insn*>(code.data()), code.size() / 8, &o);
    int e = fd < 0 ? errno : 0;
    buf[opts_.log_size - 1] = '\0';
    std::string log = buf.get();
    if (fd < 0 && e == ENOSPC) {  // the log overflowed: the verdict alone
      LIBBPF_OPTS(bpf_prog_load_opts, o2);
      o2.kern_version = o.kern_version;
      fd = bpf_prog_load(static_cast<bpf_prog_type>(t), kernel_name(p.name).c_str(), license.c_str(),
                         reinterpret_cast<const bpf_insn*>(code.data()), code.size() / 8, &o2);
      e = fd < 0 ? errno : 0;
      log = "... (log truncated to its tail)\n" + log;
    }
    v.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    v.log = log;
    v.insns_processed = processed_insns(log);
    v.accepted = fd >= 0;
    v.err_no = e;
    prog_fds_[i] = fd;
    if (fd < 0) {
      v.error = error_line(log, "") + errno_hint(e, log);
      if (v.error.empty()) v.error = strerror(e);
    }
  }

  std::string path_;
  ObjectFile file_;
  BackendOptions opts_;
  std::string libbpf_error_;
  std::vector<int> map_fds_, prog_fds_;
};

}  // namespace

Status kernel_available() {
  static const Status probe = []() -> Status {
    auto fail = [](const char* step, int e) -> Status {
      std::string why;
      if (e == EPERM || e == EACCES)
        why =
            "no privilege: loading and test-running BPF programs needs root (or CAP_BPF + CAP_PERFMON + "
            "CAP_NET_ADMIN); /proc/sys/kernel/unprivileged_bpf_disabled may also forbid it";
      else if (e == ENOSYS)
        why = "bpf(2) is not available: the kernel has no BPF syscall (CONFIG_BPF_SYSCALL) or it is filtered";
      else
        why = fmt::format("{} failed: {}", step, strerror(e));
      return bad(ErrorCode::kUnsupported, "the kernel backend is not reachable: " + why);
    };
    std::string msgs;
    LibbpfCall call(&msgs);
    int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bpfvm_probe", 4, 4, 1, nullptr);
    if (fd < 0) return fail("BPF_MAP_CREATE", errno);
    close(fd);
    const bpf_insn insns[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 7},  // r0 = 7
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    int pfd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "bpfvm_probe", "GPL", insns, 2, nullptr);
    if (pfd < 0) return fail("BPF_PROG_LOAD", errno);
    uint8_t pkt[64] = {};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt));
    int rc = bpf_prog_test_run_opts(pfd, &opts);
    int e = errno;
    close(pfd);
    if (rc != 0) return fail("BPF_PROG_TEST_RUN", e);
    if (opts.retval != 7)
      return bad(ErrorCode::kUnsupported,
                 fmt::format("BPF_PROG_TEST_RUN returned {}, expected 7", opts.retval));
    return Ok{};
  }();
  return probe;
}

uint32_t kernel_num_possible_cpus() {
  int n = libbpf_num_possible_cpus();
  return n > 0 ? static_cast<uint32_t>(n) : 0;
}

Result<std::unique_ptr<Backend>> open_kernel_backend(const std::string& path, const BackendOptions& opts) {
  if (Status st = kernel_available(); !st) return st.error();
  auto b = std::make_unique<KernelBackend>(path, opts);
  Status st = b->open();
  if (!st && st.error().code != ErrorCode::kElf) return st.error();
  LoadOptions lo = opts.object.load;
  lo.type_override = opts.object.type_override;
  auto file = load_object_file(path, lo);
  if (st) {
    // libbpf lists one program per function symbol outside .text; older objects have sections
    // without one, which only the plain bpf(2) path loads.
    bool all_listed = true;
    if (file)
      for (const ElfProgram& p : file->programs)
        all_listed &= p.section == ".text" || b->find_program(p.name) >= 0;
    if (all_listed) return std::unique_ptr<Backend>(std::move(b));
    return std::unique_ptr<Backend>(std::make_unique<RawKernelBackend>(
        path, std::move(*file), opts, "libbpf does not list every program of the object"));
  }
  // libbpf refused the object: bpfvm's ELF loader and plain bpf(2) calls (RawKernelBackend).
  if (!file) return st.error();  // neither can read it: libbpf's reason
  return std::unique_ptr<Backend>(
      std::make_unique<RawKernelBackend>(path, std::move(*file), opts, st.error().msg));
}

}  // namespace bpfvm
