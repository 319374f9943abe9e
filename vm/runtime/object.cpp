#include "vm/runtime/object.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "helpers/environment.h"
#include "helpers/kernel_helpers.h"
#include "maps/array_maps.h"
#include "maps/hash_maps.h"
#include "maps/perf_event_array.h"
#include "maps/ringbuf.h"
#include "verifier/context.h"
#include "vm/runtime/context_run.h"

namespace bpfvm {

namespace {

Error bad(std::string msg) {
  return Error{ErrorCode::kBadInput, kNoPc, std::move(msg)};
}

// license_is_gpl_compatible() of the kernel (include/linux/license.h).
bool gpl_compatible(std::string_view l) {
  return l == "GPL" || l == "GPL v2" || l == "GPL and additional rights" || l == "Dual BSD/GPL" ||
         l == "Dual MIT/GPL" || l == "Dual MPL/GPL";
}

bool name_matches(std::string_view name, std::string_view wanted) {
  if (name == wanted) return true;
  return wanted.size() > 1 && wanted[0] == '.' && name.size() >= wanted.size() &&
         name.substr(name.size() - wanted.size()) == wanted;
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  s.reserve(n * 2);
  for (size_t i = 0; i < n; i++) {
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  return s;
}
std::string hex(const std::vector<uint8_t>& v) {
  return hex(v.data(), v.size());
}

}  // namespace

struct Object::Impl : public TailCallTargets {
  struct Prog {
    ProgType type = ProgType::SchedCls;
    Status status = Ok{};
    std::unique_ptr<Interpreter> interp;
    Program code;  // linked, kept for the JIT's unchecked build after verification
    std::unique_ptr<jit::JitProgram> jit_checked, jit_unchecked;
    bool verified = false;
    uint32_t verified_raw_size = 0;  // ProgType::Raw: the memory size the verifier assumed
  };

  ObjectOptions opts;
  ObjectFile file;
  std::unique_ptr<MapSet> maps;
  std::vector<Map*> map_ptrs;  // ObjectFile::maps order
  HelperTable helpers;
  std::unique_ptr<DefaultEnvironment> env;
  std::vector<Prog> progs;
  std::deque<std::string> region_names;  // storage of MemRegion::name
  std::vector<MemRegion> data_regions;   // global-data values referenced by programs
  bool gpl = false;
  mutable std::mutex pool_mu;
  mutable std::vector<std::unique_ptr<RunScratch>> pool;  // one block per concurrent run, reused

  // Map lookups without the helper call in unchecked JIT code (vm/map_lookup.h): for the object's
  // own maps, while helper 1 is bpfvm's.
  struct LookupPlanner : MapLookupPlanner {
    const Impl* impl;
    explicit LookupPlanner(const Impl* i) : impl(i) {}
    MapLookupPlan plan(uint64_t addr) const override {
      Map* m = reinterpret_cast<Map*>(addr);
      if (!is_kernel_map_lookup(impl->helpers.find(1)) || !impl->maps->contains(m)) return {};
      return m->lookup_plan();
    }
  };
  LookupPlanner lookup_planner{this};

  const Interpreter* interpreter(uint32_t id) const override {
    if (id == 0 || id > progs.size()) return nullptr;
    return progs[id - 1].interp.get();
  }
  const jit::JitProgram* jit_program(uint32_t id, bool checked) const override {
    if (id == 0 || id > progs.size()) return nullptr;
    return checked ? progs[id - 1].jit_checked.get() : progs[id - 1].jit_unchecked.get();
  }
  // Unchecked code gets the object's map lookup plans.
  jit::JitOptions with_lookup_plans(jit::JitOptions jo) const {
    if (!jo.checked && jo.inline_map_lookups) jo.map_lookups = &lookup_planner;
    return jo;
  }
  jit::JitOptions jit_options(bool checked) const {
    jit::JitOptions jo = opts.jit;
    jo.checked = checked;
    jo.verified = !checked;
    jo.budget = opts.budget;
    return with_lookup_plans(jo);
  }

  Status create_maps();
  Status fill_refs();
  Status link_program(size_t index, Program* code);
};

Status Object::Impl::create_maps() {
  for (const MapDef& def : file.maps) {
    auto m = maps->create(def);
    if (!m) return m.error();
    map_ptrs.push_back(*m);
    if (!def.initial_value.empty()) {
      const uint32_t key = 0;
      if (def.initial_value.size() != (*m)->copy_value_size())
        return bad(fmt::format("map '{}': initial value has {} bytes, the value size is {}", def.name,
                               def.initial_value.size(), (*m)->copy_value_size()));
      int rc = (*m)->update_copy(&key, def.initial_value.data(), kBpfAny);
      if (rc != 0) return bad(fmt::format("map '{}': setting the initial value failed ({})", def.name, rc));
    }
  }
  return Ok{};
}

Status Object::Impl::fill_refs() {
  for (size_t i = 0; i < file.maps.size(); i++) {
    const MapDef& def = file.maps[i];
    Map* m = map_ptrs[i];
    for (const auto& [slot, ref] : def.init_refs) {
      int rc;
      if (def.type == MapType::ProgArray) {
        int p = file.find_program(ref);
        if (p < 0)
          return bad(fmt::format("map '{}': .values[{}] names program '{}', which the object lacks", def.name,
                                 slot, ref));
        const uint32_t id = static_cast<uint32_t>(p) + 1;
        rc = m->update(&slot, &id, kBpfAny);
      } else {
        int mi = file.find_map(ref);
        if (mi < 0)
          return bad(fmt::format("map '{}': .values[{}] names map '{}', which the object lacks", def.name,
                                 slot, ref));
        Map* inner = map_ptrs[mi];
        if (auto* am = dynamic_cast<ArrayOfMapsMap*>(m))
          rc = am->update_map(&slot, inner, kBpfAny);
        else if (auto* hm = dynamic_cast<HashOfMapsMap*>(m); hm && def.key_size == sizeof slot)
          rc = hm->update_map(&slot, inner, kBpfAny);
        else
          return bad(fmt::format("map '{}' ({}) cannot take declarative .values", def.name,
                                 map_type_name(def.type)));
      }
      if (rc != 0)
        return bad(fmt::format("map '{}': setting .values[{}] = '{}' failed ({})", def.name, slot, ref, rc));
    }
  }
  return Ok{};
}

// Rewrites every map reference of `code` into the host address it designates (see object.h).
Status Object::Impl::link_program(size_t index, Program* code) {
  for (Insn& in : code->insns) {
    const bool value = in.op == Op::LddwMapValue || in.op == Op::LddwMapIdxValue;
    if (!value && in.op != Op::LddwMapFd && in.op != Op::LddwMapIdx) continue;
    const uint32_t idx = static_cast<uint32_t>(in.imm);
    if (idx >= map_ptrs.size())
      return Error{ErrorCode::kBadInput, in.pc,
                   fmt::format("lddw refers to map {}, the object has {} maps", idx, map_ptrs.size())};
    Map* m = map_ptrs[idx];
    uint64_t addr = reinterpret_cast<uint64_t>(m);
    if (value) {
      const uint32_t off = static_cast<uint32_t>(in.imm64 >> 32);
      auto* am = dynamic_cast<ArrayMap*>(m);
      if (!am || m->is_percpu())
        return Error{ErrorCode::kBadInput, in.pc,
                     fmt::format("lddw of a value of map '{}' ({}): only array maps have direct value access",
                                 m->name(), map_type_name(m->type()))};
      if (off >= m->def().value_size)
        return Error{ErrorCode::kBadInput, in.pc,
                     fmt::format("lddw of map '{}' value + {}: the value has {} bytes", m->name(), off,
                                 m->def().value_size)};
      auto* base = static_cast<uint8_t*>(am->value_ptr(0, 0));
      addr = reinterpret_cast<uint64_t>(base + off);
      const uint64_t b = reinterpret_cast<uint64_t>(base);
      if (std::none_of(data_regions.begin(), data_regions.end(),
                       [&](const MemRegion& r) { return r.base == b; })) {
        region_names.push_back(fmt::format("map '{}' value", m->name()));
        data_regions.push_back(MemRegion{b, m->def().value_size, !m->def().read_only, region_names.back()});
      }
    }
    in.op = Op::Lddw;
    in.src = 0;
    in.imm = static_cast<int32_t>(static_cast<uint32_t>(addr));
    in.imm64 = addr;
  }
  (void)index;
  return Ok{};
}

Object::Object(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Object::~Object() = default;

Result<std::unique_ptr<Object>> Object::open(const std::string& path, const ObjectOptions& opts) {
  LoadOptions lo = opts.load;
  if (opts.type_override) lo.type_override = opts.type_override;
  auto file = load_object_file(path, lo);
  if (!file) return file.error();
  return create(std::move(*file), opts);
}

Result<std::unique_ptr<Object>> Object::create(ObjectFile file, const ObjectOptions& opts) {
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  impl->file = std::move(file);
  MapOptions mo;
  mo.memory_cap = opts.memory_cap;
  mo.num_cpus = opts.num_cpus == 0 ? 1 : opts.num_cpus;
  impl->maps = std::make_unique<MapSet>(mo);
  impl->gpl = gpl_compatible(impl->file.license);
  BPFVM_TRY(impl->create_maps());
  BPFVM_TRY(impl->fill_refs());

  register_kernel_helpers(impl->helpers);
  if (opts.add_helpers) opts.add_helpers(impl->helpers);
  EnvironmentOptions eo;
  eo.seed = opts.seed;
  eo.trace_file = opts.trace_out;
  impl->env = std::make_unique<DefaultEnvironment>(eo);

  impl->progs.resize(impl->file.programs.size());
  for (size_t i = 0; i < impl->file.programs.size(); i++) {
    const ElfProgram& ep = impl->file.programs[i];
    Impl::Prog& p = impl->progs[i];
    p.type = opts.type_override ? *opts.type_override : ep.type;
    if (!ep.status) {
      p.status = ep.status;
      continue;
    }
    Program code = ep.code;
    if (auto st = impl->link_program(i, &code); !st) {
      p.status = st;
      continue;
    }
    auto interp = Interpreter::create(code, &impl->helpers);
    if (!interp) {
      p.status = interp.error();
      continue;
    }
    p.interp = std::move(*interp);
    if (opts.engine == Engine::Jit) {
      auto j = jit::JitProgram::compile(code, &impl->helpers, impl->jit_options(true));
      if (!j) {
        p.status = j.error();
        continue;
      }
      p.jit_checked = std::move(*j);
      p.code = std::move(code);
    }
  }
  return std::unique_ptr<Object>(new Object(std::move(impl)));
}

const ObjectFile& Object::file() const {
  return impl_->file;
}
const ObjectOptions& Object::options() const {
  return impl_->opts;
}
size_t Object::num_programs() const {
  return impl_->progs.size();
}
const ElfProgram& Object::program(size_t index) const {
  return impl_->file.programs.at(index);
}
ProgType Object::program_type(size_t index) const {
  return impl_->progs.at(index).type;
}
const Status& Object::program_status(size_t index) const {
  return impl_->progs.at(index).status;
}
int Object::find_program(std::string_view name) const {
  return impl_->file.find_program(name);
}

Result<size_t> Object::select_program(std::string_view name, std::string_view section) const {
  const auto& ps = impl_->file.programs;
  auto listing = [&] {
    std::string s;
    for (const ElfProgram& p : ps)
      s += fmt::format("\n  {} (section {}, {})", p.name, p.section, prog_type_name(p.type));
    return s.empty() ? std::string(" none") : s;
  };
  if (!name.empty()) {
    int i = find_program(name);
    if (i < 0) return bad(fmt::format("no program named '{}'; the object has:{}", name, listing()));
    return static_cast<size_t>(i);
  }
  if (!section.empty()) {
    std::vector<size_t> hits;
    for (size_t i = 0; i < ps.size(); i++)
      if (ps[i].section == section) hits.push_back(i);
    if (hits.size() == 1) return hits[0];
    if (hits.empty())
      return bad(fmt::format("no program in section '{}'; the object has:{}", section, listing()));
    return bad(fmt::format("section '{}' holds {} programs; choose one by name:{}", section, hits.size(),
                           listing()));
  }
  if (ps.size() == 1) return size_t{0};
  if (ps.empty()) return bad("the object has no programs");
  return bad(fmt::format("the object has {} programs; choose one with --program NAME or --section S:{}",
                         ps.size(), listing()));
}

Result<RunOutput> Object::run(size_t index, const ContextInput& input) const {
  if (index >= impl_->progs.size())
    return bad(fmt::format("program index {} out of range (the object has {})", index, impl_->progs.size()));
  const Impl::Prog& prog = impl_->progs[index];
  const ElfProgram& ep = impl_->file.programs[index];
  if (!prog.status) {
    Error e = prog.status.error();
    e.msg = fmt::format("program '{}' cannot run: {}", ep.name, e.msg);
    return e;
  }
  if (input.cpu >= impl_->maps->options().num_cpus)
    return bad(fmt::format("cpu {} out of range: the object simulates {} CPUs", input.cpu,
                           impl_->maps->options().num_cpus));

  std::unique_ptr<RunScratch> scratch;
  {
    std::lock_guard<std::mutex> lock(impl_->pool_mu);
    if (!impl_->pool.empty()) {
      scratch = std::move(impl_->pool.back());
      impl_->pool.pop_back();
    }
  }
  if (!scratch) {
    auto s = RunScratch::create();
    if (!s) return s.error();
    scratch = std::move(*s);
  }
  struct Return {
    const Impl* impl;
    std::unique_ptr<RunScratch>* s;
    ~Return() {
      std::lock_guard<std::mutex> lock(impl->pool_mu);
      impl->pool.push_back(std::move(*s));
    }
  } give_back{impl_.get(), &scratch};

  ContextRunEnv env;
  env.data_regions = impl_->data_regions;
  env.resolver = impl_->maps.get();  // map values and ringbuf records
  env.tail_calls = impl_.get();
  env.helpers.maps = impl_->maps.get();
  env.helpers.prog_type = static_cast<uint32_t>(prog.type);
  env.helpers.deterministic = impl_->opts.seed.has_value();
  env.helpers.gpl = impl_->gpl;
  RunOptions ro;
  ro.checked = runs_checked(index, input);
  ro.budget = impl_->opts.budget;

  const jit::JitProgram* jit_code = nullptr;
  if (impl_->opts.engine == Engine::Jit) {
    jit_code = ro.checked ? prog.jit_checked.get() : prog.jit_unchecked.get();
    if (jit_code == nullptr) return Error{ErrorCode::kInternal, kNoPc, "no JIT code for the program"};
  }
  auto run_once = [&](const RunInput& ri, RunStats* stats) -> Result<uint64_t> {
    return jit_code != nullptr ? jit_code->run(ri, *impl_->env, stats)
                               : prog.interp->run(ri, ro, *impl_->env, stats);
  };
  auto run = run_in_context(prog.type, input, *scratch, env, run_once);
  if (!run) return run.error();
  RunOutput out;
  out.r0 = run->r0;
  out.packet = std::move(run->packet);
  out.ctx = std::move(run->ctx);
  out.duration_ns = run->total_ns / input.repeat;
  out.stats = run->stats;
  out.checked = ro.checked;
  return out;
}

Result<verifier::VerifyResult> verify_program(const ObjectFile& file,
                                              size_t index,
                                              ProgType type,
                                              const verifier::VerifyOptions& opts) {
  if (index >= file.programs.size())
    return bad(fmt::format("program index {} out of range (the object has {})", index, file.programs.size()));
  const ElfProgram& ep = file.programs[index];
  if (!ep.status) {
    Error e = ep.status.error();
    e.msg = fmt::format("program '{}' cannot be verified: {}", ep.name, e.msg);
    return e;
  }
  verifier::VerifyOptions vo = opts;
  vo.type = type;
  vo.maps = file.maps;
  if (vo.section.empty()) vo.section = ep.section;  // the attach point, for the context rules
  // The verifier sees the program as the object file holds it (map references by index).
  return verifier::verify(ep.code, vo);
}

Result<verifier::VerifyResult> Object::verify(size_t index, const verifier::VerifyOptions& opts) {
  if (index >= impl_->progs.size())
    return bad(fmt::format("program index {} out of range (the object has {})", index, impl_->progs.size()));
  Impl::Prog& prog = impl_->progs[index];
  prog.verified = false;
  if (!prog.status) {
    Error e = prog.status.error();
    e.msg = fmt::format("program '{}' cannot be verified: {}", impl_->file.programs[index].name, e.msg);
    return e;
  }
  auto r = verify_program(impl_->file, index, prog.type, opts);
  if (!r) return r.error();
  prog.verified = r->accepted;
  prog.verified_raw_size = opts.raw_ctx_size;
  prog.jit_unchecked.reset();
  if (prog.verified && impl_->opts.engine == Engine::Jit) {
    auto j = jit::JitProgram::compile(prog.code, &impl_->helpers, impl_->jit_options(false));
    if (!j) return j.error();
    prog.jit_unchecked = std::move(*j);
  }
  return r;
}

Result<std::unique_ptr<jit::JitProgram>> Object::compile_jit(size_t index, const jit::JitOptions& jo) const {
  if (index >= impl_->progs.size())
    return bad(fmt::format("program index {} out of range (the object has {})", index, impl_->progs.size()));
  const Impl::Prog& prog = impl_->progs[index];
  if (!prog.status) return prog.status.error();
  if (impl_->opts.engine != Engine::Jit) return bad("compile_jit needs an object opened with Engine::Jit");
  return jit::JitProgram::compile(prog.code, &impl_->helpers, impl_->with_lookup_plans(jo));
}

bool Object::verified(size_t index) const {
  return index < impl_->progs.size() && impl_->progs[index].verified;
}

bool Object::runs_checked(size_t index, const ContextInput& input) const {
  if (index >= impl_->progs.size()) return true;
  const Impl::Prog& prog = impl_->progs[index];
  // JIT: unchecked code exists for verified programs only.
  if (!prog.verified || !impl_->opts.unchecked_when_verified)
    return impl_->opts.engine == Engine::Jit || impl_->opts.checked;
  // A tail call continues in the caller's mode: with a prog array in the object, every program that
  // can be reached (every linked one) must be verified too.
  const bool has_prog_array = std::any_of(impl_->file.maps.begin(), impl_->file.maps.end(),
                                          [](const MapDef& d) { return d.type == MapType::ProgArray; });
  if (has_prog_array)
    for (const Impl::Prog& p : impl_->progs)
      if (p.status && !p.verified) return true;
  auto kind = context_kind(prog.type);
  if (!kind) return true;
  switch (*kind) {
    case ContextKind::Xdp:
    case ContextKind::Skb:
      return false;
    case ContextKind::Raw:
      // r2 = the size: the verifier's bounds hold for exactly that size (and read-only input is not
      // modelled: the verifier lets raw programs write their memory).
      return input.ctx.size() != prog.verified_raw_size || !input.ctx_writable;
    case ContextKind::Args:
      return input.ctx.size() < verifier::context_for(prog.type, 0).size;
  }
  return true;
}

MapSet& Object::map_set() {
  return *impl_->maps;
}
size_t Object::num_maps() const {
  return impl_->map_ptrs.size();
}
Map* Object::map(size_t index) const {
  return index < impl_->map_ptrs.size() ? impl_->map_ptrs[index] : nullptr;
}

Map* Object::find_map(std::string_view name) const {
  for (Map* m : impl_->map_ptrs)
    if (m->name() == name) return m;
  for (Map* m : impl_->map_ptrs)
    if (name_matches(m->name(), name)) return m;
  return nullptr;
}

Result<std::vector<uint8_t>> Object::lookup(Map& map, std::span<const uint8_t> key) const {
  if (key.size() != map.def().key_size)
    return bad(fmt::format("map '{}': key has {} bytes, the key size is {}", map.name(), key.size(),
                           map.def().key_size));
  std::vector<uint8_t> out(map.copy_value_size());
  int rc = map.lookup_copy(key.data(), out.data());
  if (rc != 0)
    return bad(
        fmt::format("map '{}': lookup of key {} failed ({})", map.name(), hex(key.data(), key.size()), rc));
  return out;
}

Status Object::update(Map& map,
                      std::span<const uint8_t> key,
                      std::span<const uint8_t> value,
                      uint64_t flags) const {
  const bool queue =
      map.type() == MapType::Queue || map.type() == MapType::Stack || map.type() == MapType::BloomFilter;
  if (!queue && key.size() != map.def().key_size)
    return bad(fmt::format("map '{}': key has {} bytes, the key size is {}", map.name(), key.size(),
                           map.def().key_size));
  if (value.size() != map.copy_value_size())
    return bad(fmt::format("map '{}': value has {} bytes, expected {}", map.name(), value.size(),
                           map.copy_value_size()));
  int rc = queue ? map.push(value.data(), flags) : map.update_copy(key.data(), value.data(), flags);
  if (rc != 0) return bad(fmt::format("map '{}': update failed ({})", map.name(), rc));
  return Ok{};
}

Result<std::vector<MapEntryData>> read_map_entries(Map& map) {
  std::vector<MapEntryData> out;
  const MapDef& d = map.def();
  const bool percpu = map.is_percpu();
  const uint32_t vsize = map.copy_value_size();
  const uint32_t stride = round_up8(d.value_size);
  auto split = [&](const std::vector<uint8_t>& buf, MapEntryData& e) {
    if (!percpu) {
      e.values.push_back(buf);
      return;
    }
    for (uint32_t c = 0; c < map.num_cpus(); c++)
      e.values.emplace_back(buf.begin() + c * stride, buf.begin() + c * stride + d.value_size);
  };
  switch (map.type()) {
    case MapType::Ringbuf:
    case MapType::PerfEventArray:
    case MapType::BloomFilter:
      return out;
    case MapType::Queue:
    case MapType::Stack:
      for (uint64_t i = 0; i <= d.max_entries; i++) {
        std::vector<uint8_t> v(d.value_size);
        if (map.pop(v.data()) != 0) break;
        out.push_back(MapEntryData{{}, {std::move(v)}});
      }
      return out;
    default:
      break;
  }
  std::vector<uint8_t> key(d.key_size), next(d.key_size), buf(vsize);
  bool first = true;
  for (uint64_t i = 0; i <= d.max_entries; i++) {
    int rc = map.get_next_key(first ? nullptr : key.data(), next.data());
    if (rc == -ENOENT) break;
    if (rc != 0)
      return Error{ErrorCode::kBadInput, kNoPc,
                   fmt::format("map '{}': get_next_key failed ({})", map.name(), rc)};
    first = false;
    key = next;
    std::fill(buf.begin(), buf.end(), 0);
    if (map.lookup_copy(key.data(), buf.data()) != 0) continue;  // empty prog_array/map-in-map slot
    MapEntryData e;
    e.key = key;
    split(buf, e);
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(),
            [](const MapEntryData& a, const MapEntryData& b) { return a.key < b.key; });
  return out;
}

std::vector<std::vector<uint8_t>> drain_records(Map& map) {
  std::vector<std::vector<uint8_t>> out;
  if (auto* rb = dynamic_cast<RingbufMap*>(&map)) {
    rb->consume([&](const void* data, uint32_t len) {
      auto* p = static_cast<const uint8_t*>(data);
      out.emplace_back(p, p + len);
      return 0;
    });
  } else if (auto* pe = dynamic_cast<PerfEventArrayMap*>(&map)) {
    pe->consume([&](uint32_t, const void* data, uint32_t size) {
      auto* p = static_cast<const uint8_t*>(data);
      out.emplace_back(p, p + size);
    });
  }
  return out;
}

namespace {

bool has_records(const Map& m) {
  return m.type() == MapType::Ringbuf || m.type() == MapType::PerfEventArray;
}

}  // namespace

std::string dump_maps_text(const Object& obj) {
  std::string s;
  for (size_t i = 0; i < obj.num_maps(); i++) {
    Map& m = *obj.map(i);
    const MapDef& d = m.def();
    s +=
        fmt::format("map '{}': {}, key {} B, value {} B, max_entries {}{}\n", m.name(), map_type_name(d.type),
                    d.key_size, d.value_size, d.max_entries, d.read_only ? ", read-only" : "");
    if (has_records(m)) {
      auto recs = drain_records(m);
      s += fmt::format("  {} record(s)\n", recs.size());
      for (const auto& r : recs)
        s += fmt::format("  record {}\n", hex(r));
      continue;
    }
    auto entries = read_map_entries(m);
    if (!entries) {
      s += fmt::format("  error: {}\n", entries.error().msg);
      continue;
    }
    size_t shown = 0;
    for (const MapEntryData& e : *entries) {
      std::string key = e.key.empty() ? std::string("-") : hex(e.key);
      if (e.values.size() == 1) {
        s += fmt::format("  {} => {}\n", key, hex(e.values[0]));
      } else {
        s += fmt::format("  {} =>\n", key);
        for (size_t c = 0; c < e.values.size(); c++)
          s += fmt::format("    cpu{}: {}\n", c, hex(e.values[c]));
      }
      shown++;
    }
    if (shown == 0) s += "  (empty)\n";
  }
  return s;
}

std::string dump_maps_json(const Object& obj) {
  nlohmann::json maps = nlohmann::json::array();
  for (size_t i = 0; i < obj.num_maps(); i++) {
    Map& m = *obj.map(i);
    const MapDef& d = m.def();
    nlohmann::json j = {
        {"name", m.name()},           {"type", map_type_name(d.type)}, {"key_size", d.key_size},
        {"value_size", d.value_size}, {"max_entries", d.max_entries},  {"read_only", d.read_only}};
    if (has_records(m)) {
      nlohmann::json recs = nlohmann::json::array();
      for (const auto& r : drain_records(m))
        recs.push_back(hex(r));
      j["records"] = recs;
    } else {
      nlohmann::json entries = nlohmann::json::array();
      auto es = read_map_entries(m);
      if (!es) {
        j["error"] = es.error().msg;
      } else {
        for (const MapEntryData& e : *es) {
          nlohmann::json je = {{"key", hex(e.key)}};
          if (e.values.size() == 1) {
            je["value"] = hex(e.values[0]);
          } else {
            nlohmann::json vs = nlohmann::json::array();
            for (const auto& v : e.values)
              vs.push_back(hex(v));
            je["values"] = vs;
          }
          entries.push_back(je);
        }
      }
      j["entries"] = entries;
    }
    maps.push_back(j);
  }
  return nlohmann::json{{"maps", maps}}.dump(2) + "\n";
}

}  // namespace bpfvm
