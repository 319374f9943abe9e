// The backend interface's shared parts and the user-space backend (vm/runtime/object.h + bpfvm's
// verifier). The kernel backend is in kernel_backend.cpp.
#include "vm/runtime/backend.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "maps/map.h"

namespace bpfvm {

namespace {

Error bad(ErrorCode code, std::string msg) {
  return Error{code, kNoPc, std::move(msg)};
}

bool is_queue_like(MapType t) {
  return t == MapType::Queue || t == MapType::Stack;
}

}  // namespace

const char* backend_name(BackendKind k) {
  return k == BackendKind::Kernel ? "kernel" : "user";
}

Result<BackendKind> parse_backend(std::string_view name) {
  if (name == "user") return BackendKind::User;
  if (name == "kernel") return BackendKind::Kernel;
  return bad(ErrorCode::kBadInput, fmt::format("unknown backend '{}' (backends: user, kernel)", name));
}

bool map_has_data(MapType t) {
  switch (t) {
    case MapType::ProgArray:
    case MapType::ArrayOfMaps:
    case MapType::HashOfMaps:
    case MapType::Ringbuf:
    case MapType::UserRingbuf:
    case MapType::PerfEventArray:
    case MapType::StructOps:
    case MapType::CgroupArray:  // cgroups and AF_XDP sockets cannot be read back
    case MapType::Xskmap:
      return false;
    default:
      return true;
  }
}

int Backend::find_program(std::string_view name) const {
  for (size_t i = 0; i < num_programs(); i++)
    if (program(i).name == name) return static_cast<int>(i);
  return -1;
}

Result<size_t> Backend::select_program(std::string_view name, std::string_view section) const {
  std::string names;
  for (size_t i = 0; i < num_programs(); i++)
    names += fmt::format("{}{} ({})", names.empty() ? "" : ", ", program(i).name, program(i).section);
  if (!name.empty()) {
    int i = find_program(name);
    if (i >= 0) return static_cast<size_t>(i);
    return bad(ErrorCode::kBadInput, fmt::format("no program named '{}' (programs: {})", name, names));
  }
  if (!section.empty()) {
    for (size_t i = 0; i < num_programs(); i++)
      if (program(i).section == section) return i;
    return bad(ErrorCode::kBadInput,
               fmt::format("no program in section '{}' (programs: {})", section, names));
  }
  if (num_programs() == 1) return size_t{0};
  if (num_programs() == 0) return bad(ErrorCode::kBadInput, "the object has no program");
  return bad(ErrorCode::kBadInput,
             fmt::format("the object has {} programs: choose one with --program (programs: {})",
                         num_programs(), names));
}

int Backend::find_map(std::string_view name) const {
  for (size_t i = 0; i < num_maps(); i++)
    if (map(i).name == name) return static_cast<int>(i);
  if (!name.empty() && name[0] == '.')
    for (size_t i = 0; i < num_maps(); i++)
      if (map(i).name.ends_with(name)) return static_cast<int>(i);
  return -1;
}

uint32_t Backend::value_buffer_size(size_t m) const {
  const BackendMap& d = map(m);
  return d.per_cpu ? round_up8(d.value_size) * num_cpus() : d.value_size;
}

Result<std::vector<MapEntryData>> Backend::read_map(size_t m) {
  const BackendMap& d = map(m);
  std::vector<MapEntryData> out;
  if (!map_has_data(d.type)) return out;
  const uint32_t nvals = d.per_cpu ? num_cpus() : 1;
  auto split = [&](const std::vector<uint8_t>& buf) {
    std::vector<std::vector<uint8_t>> vals;
    const size_t stride = d.per_cpu ? round_up8(d.value_size) : d.value_size;
    for (uint32_t c = 0; c < nvals; c++) {
      const size_t off = stride * c;
      if (off + d.value_size > buf.size()) break;
      vals.emplace_back(buf.begin() + off, buf.begin() + off + d.value_size);
    }
    return vals;
  };
  if (is_queue_like(d.type)) {
    for (uint32_t i = 0; i <= d.max_entries; i++) {
      auto v = map_pop(m);
      if (!v) return v.error();
      if (!*v) break;
      out.push_back(MapEntryData{{}, split(**v)});
    }
    return out;
  }
  std::optional<std::vector<uint8_t>> key;
  // Bounded: iterating a map nothing else changes yields at most max_entries keys.
  for (uint64_t i = 0; i <= d.max_entries; i++) {
    auto next = map_next_key(m, key ? &*key : nullptr);
    if (!next) return next.error();
    if (!*next) break;
    key = std::move(**next);
    auto v = map_lookup(m, *key);
    if (!v) return v.error();
    if (!*v) continue;  // deleted meanwhile (LRU)
    out.push_back(MapEntryData{*key, split(**v)});
  }
  std::sort(out.begin(), out.end(),
            [](const MapEntryData& a, const MapEntryData& b) { return a.key < b.key; });
  return out;
}

std::string kernel_style_log(const verifier::VerifyResult& r, const verifier::VerifyOptions& opts) {
  std::string s;
  if (!opts.collect_log || r.log.empty()) {
    // The kernel prints, at the failing instruction, "pc: (opcode) insn", the registers involved,
    // then the message.
    for (const verifier::Diagnostic& d : r.errors) {
      s += fmt::format("{}: ({})\n", d.pc, d.insn);
      if (!d.regs.empty()) s += d.regs + "\n";
      s += d.message + "\n";
    }
  } else {
    s = r.log;
    if (!s.empty() && s.back() != '\n') s += '\n';
    for (const verifier::Diagnostic& d : r.errors)
      s += fmt::format("{}: ({})\n{}{}\n", d.pc, d.insn, d.regs.empty() ? "" : d.regs + "\n", d.message);
  }
  s += fmt::format(
      "processed {} insns (limit {}) max_states_per_insn {} total_states {} peak_states {} mark_read 0\n",
      r.stats.insns_analysed, opts.max_steps, r.stats.max_loop_iterations, r.stats.peak_states,
      r.stats.peak_states);
  return s;
}

// ---------------------------------------------------------------------------------------------------
// User space.

namespace {

// Without `obj_` (bpfvm could not create the object's maps), the programs are still verified from
// the file's map definitions, as `bpfvm verify` does; runs and map access fail with the reason.
class UserBackend final : public Backend {
 public:
  UserBackend(std::unique_ptr<Object> obj, const BackendOptions& opts) : obj_(std::move(obj)), opts_(opts) {
    for (size_t i = 0; i < obj_->num_programs(); i++) {
      const ElfProgram& p = obj_->program(i);
      progs_.push_back(BackendProgram{p.name, p.section, obj_->program_type(i), p.code.insns.size()});
    }
    for (size_t i = 0; i < obj_->num_maps(); i++) {
      const Map& m = *obj_->map(i);
      const MapDef& d = m.def();
      maps_.push_back(
          BackendMap{m.name(), d.type, d.key_size, d.value_size, d.max_entries, d.map_flags, m.is_percpu()});
    }
  }
  UserBackend(ObjectFile file, Error why, const BackendOptions& opts)
      : file_(std::move(file)), create_error_(std::move(why)), opts_(opts) {
    for (const ElfProgram& p : file_.programs)
      progs_.push_back(BackendProgram{p.name, p.section, p.type, p.code.insns.size()});
    for (const MapDef& d : file_.maps)
      maps_.push_back(
          BackendMap{d.name, d.type, d.key_size, d.value_size, d.max_entries, d.map_flags, false});
  }

  BackendKind kind() const override { return BackendKind::User; }
  size_t num_programs() const override { return progs_.size(); }
  const BackendProgram& program(size_t i) const override { return progs_.at(i); }
  size_t num_maps() const override { return maps_.size(); }
  const BackendMap& map(size_t i) const override { return maps_.at(i); }
  uint32_t num_cpus() const override { return opts_.object.num_cpus; }

  Status set_initial_value(size_t m, std::span<const uint8_t> value) override {
    if (m >= maps_.size()) return bad(ErrorCode::kBadInput, "map index out of range");
    if (loaded_) return bad(ErrorCode::kBadInput, fmt::format("map '{}': already loaded", maps_[m].name));
    if (!obj_) return no_object();
    const uint8_t zero[4] = {};
    return obj_->update(*obj_->map(m), std::span<const uint8_t>(zero, 4), value, 0);
  }

  Status load() override {
    verdicts_.assign(progs_.size(), ProgramVerdict{});
    for (size_t i = 0; i < progs_.size(); i++) {
      ProgramVerdict& v = verdicts_[i];
      const Status& st = obj_ ? obj_->program_status(i) : file_.programs[i].status;
      if (!st) {
        // The kernel backend's counterpart is libbpf failing to relocate the program.
        v.error = "not linked: " + st.error().to_string();
        v.err_no = 0;
        v.log = v.error + "\n";
        continue;
      }
      verifier::VerifyOptions vo;
      vo.collect_log = opts_.full_log;
      auto start = std::chrono::steady_clock::now();
      auto r = obj_ ? obj_->verify(i, vo) : verify_program(file_, i, progs_[i].type, vo);
      v.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!r) {
        v.error = r.error().to_string();
        v.log = v.error + "\n";
        continue;
      }
      v.accepted = r->accepted;
      v.insns_processed = r->stats.insns_analysed;
      v.log = kernel_style_log(*r, vo);
      if (!r->accepted && !r->errors.empty()) {
        const verifier::Diagnostic& d = r->errors.front();
        v.error = fmt::format("{} at pc {}: {}", verifier::error_kind_name(d.kind), d.pc, d.message);
      } else if (!r->accepted) {
        v.error = "rejected";
      }
    }
    loaded_ = true;
    return Ok{};
  }

  const ProgramVerdict& verdict(size_t i) const override { return verdicts_.at(i); }
  std::string object_error() const override { return obj_ ? "" : no_object().msg; }

  Result<TestRunOutput> test_run(size_t prog, const TestRunInput& in) override {
    if (!loaded_ || prog >= progs_.size()) return bad(ErrorCode::kBadInput, "test_run: program not loaded");
    if (!verdicts_[prog].accepted)
      return bad(ErrorCode::kVerifier,
                 fmt::format("program '{}' was rejected: {}", progs_[prog].name, verdicts_[prog].error));
    if (!obj_) return no_object();
    ContextInput ci;
    ci.packet = in.data_in;
    ci.ctx = in.ctx_in;
    ci.cpu = in.cpu;
    ci.repeat = in.repeat == 0 ? 1 : in.repeat;
    auto out = obj_->run(prog, ci);
    if (!out) return out.error();
    TestRunOutput r;
    r.retval = out->r0;
    r.duration_ns = out->duration_ns;
    if (!in.data_in.empty()) r.data_out = std::move(out->packet);
    // As test_run: raw tracepoints take a context but give none back.
    const ProgType t = progs_[prog].type;
    if (!in.ctx_in.empty() && t != ProgType::RawTracepoint && t != ProgType::RawTracepointWritable)
      r.ctx_out = std::move(out->ctx);
    return r;
  }

  Result<std::optional<std::vector<uint8_t>>> map_lookup(size_t m, std::span<const uint8_t> key) override {
    Map* map = checked_map(m, key.size());
    if (!map) return key_error(m, key.size());
    std::vector<uint8_t> out(map->copy_value_size());
    int rc = map->lookup_copy(key.data(), out.data());
    if (rc == -ENOENT) return std::optional<std::vector<uint8_t>>{};
    if (rc != 0)
      return bad(ErrorCode::kBadInput, fmt::format("map '{}': lookup failed ({})", maps_[m].name, rc));
    return std::optional<std::vector<uint8_t>>(std::move(out));
  }

  Status map_update(size_t m,
                    std::span<const uint8_t> key,
                    std::span<const uint8_t> value,
                    uint64_t flags) override {
    if (m >= maps_.size()) return bad(ErrorCode::kBadInput, "map index out of range");
    if (!obj_) return no_object();
    return obj_->update(*obj_->map(m), key, value, flags);
  }

  Result<std::optional<std::vector<uint8_t>>> map_next_key(size_t m,
                                                           const std::vector<uint8_t>* key) override {
    Map* map = checked_map(m, key ? key->size() : maps_.at(m).key_size);
    if (!map) return key_error(m, key ? key->size() : 0);
    std::vector<uint8_t> next(maps_[m].key_size);
    int rc = map->get_next_key(key ? key->data() : nullptr, next.data());
    if (rc == -ENOENT) return std::optional<std::vector<uint8_t>>{};
    if (rc != 0)
      return bad(ErrorCode::kBadInput, fmt::format("map '{}': get_next_key failed ({})", maps_[m].name, rc));
    return std::optional<std::vector<uint8_t>>(std::move(next));
  }

  Result<std::optional<std::vector<uint8_t>>> map_pop(size_t m) override {
    if (m >= maps_.size()) return bad(ErrorCode::kBadInput, "map index out of range");
    if (!obj_) return no_object();
    Map* map = obj_->map(m);
    std::vector<uint8_t> out(maps_[m].value_size);
    int rc = map->pop(out.data());
    if (rc == -ENOENT) return std::optional<std::vector<uint8_t>>{};
    if (rc != 0)
      return bad(ErrorCode::kBadInput, fmt::format("map '{}': pop failed ({})", maps_[m].name, rc));
    return std::optional<std::vector<uint8_t>>(std::move(out));
  }

  Result<std::vector<std::vector<uint8_t>>> drain_ringbuf(size_t m) override {
    if (m >= maps_.size()) return bad(ErrorCode::kBadInput, "map index out of range");
    if (!obj_) return no_object();
    return drain_records(*obj_->map(m));
  }

 private:
  Error no_object() const {
    return bad(create_error_->code, "bpfvm cannot create the object's maps: " + create_error_->to_string());
  }
  Map* checked_map(size_t m, size_t key_size) {
    if (!obj_ || m >= maps_.size() || key_size != maps_[m].key_size) return nullptr;
    return obj_->map(m);
  }
  Error key_error(size_t m, size_t key_size) const {
    if (!obj_) return no_object();
    if (m >= maps_.size()) return bad(ErrorCode::kBadInput, "map index out of range");
    return bad(ErrorCode::kBadInput, fmt::format("map '{}': key has {} bytes, the map's key_size is {}",
                                                 maps_[m].name, key_size, maps_[m].key_size));
  }

  std::unique_ptr<Object> obj_;
  ObjectFile file_;  // when obj_ is null
  std::optional<Error> create_error_;
  BackendOptions opts_;
  std::vector<BackendProgram> progs_;
  std::vector<BackendMap> maps_;
  std::vector<ProgramVerdict> verdicts_;
  bool loaded_ = false;
};

}  // namespace

Result<std::unique_ptr<Backend>> open_kernel_backend(const std::string& path, const BackendOptions& opts);

Result<std::unique_ptr<Backend>> open_backend(BackendKind kind,
                                              const std::string& path,
                                              const BackendOptions& opts) {
  if (kind == BackendKind::Kernel) return open_kernel_backend(path, opts);
  if (opts.engine != Engine::Interp)
    return bad(ErrorCode::kUnsupported,
               fmt::format("the user-space backend runs ELF objects on the interpreter (engine '{}' asked)",
                           engine_name(opts.engine)));
  LoadOptions lo = opts.object.load;
  if (opts.object.type_override) lo.type_override = opts.object.type_override;
  auto file = load_object_file(path, lo);
  if (!file) return file.error();
  ObjectFile copy = *file;
  auto obj = Object::create(std::move(*file), opts.object);
  if (!obj)
    return std::unique_ptr<Backend>(std::make_unique<UserBackend>(std::move(copy), obj.error(), opts));
  return std::unique_ptr<Backend>(std::make_unique<UserBackend>(std::move(*obj), opts));
}

}  // namespace bpfvm
