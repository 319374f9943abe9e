// Orchestration: maps, global data, program discovery and linking. docs/ELF.md has the rules.
#include "vm/elf/elf_loader.h"

#include <bpf/btf.h>
#include <elf.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "vm/elf/elf_internal.h"

namespace bpfvm {
using namespace elf_internal;

namespace {

Error elf_error(std::string msg) { return Error{ErrorCode::kElf, kNoPc, std::move(msg)}; }

constexpr uint32_t kRdonlyProg = 0x80;  // BPF_F_RDONLY_PROG
constexpr const char* kSystemBtf = "/sys/kernel/btf/vmlinux";

bool is_exec(const Section& s) { return s.type == SHT_PROGBITS && (s.flags & SHF_EXECINSTR) && s.size > 0; }
bool is_legacy_maps(const Section& s) { return s.name == "maps" || s.name.starts_with("maps/"); }
bool is_data(const Section& s) {
  if (!(s.type == SHT_PROGBITS || s.type == SHT_NOBITS) || !(s.flags & SHF_ALLOC) || (s.flags & SHF_EXECINSTR))
    return false;
  const std::string& n = s.name;
  return n == ".data" || n == ".rodata" || n == ".bss" || n.starts_with(".data.") || n.starts_with(".rodata.") ||
         n.starts_with(".bss.");
}

Result<std::vector<uint8_t>> read_file(const std::string& path, size_t cap) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Error{ErrorCode::kIo, kNoPc, fmt::format("cannot open '{}'", path)};
  std::vector<uint8_t> out;
  char buf[65536];
  while (f) {
    f.read(buf, sizeof buf);
    out.insert(out.end(), buf, buf + f.gcount());
    if (out.size() > cap) return Error{ErrorCode::kIo, kNoPc, fmt::format("'{}' is larger than {} bytes", path, cap)};
  }
  if (f.bad()) return Error{ErrorCode::kIo, kNoPc, fmt::format("cannot read '{}'", path)};
  return out;
}

Result<BtfPtr> load_target_btf(const std::string& path) {
  Result<std::vector<uint8_t>> bytes = read_file(path, 1u << 30);
  if (!bytes) return bytes.error();
  std::string what = fmt::format("target BTF '{}'", path);
  if (bytes->size() >= 4 && std::memcmp(bytes->data(), ELFMAG, SELFMAG) == 0) {
    Result<ElfImage> img = parse_elf(*bytes);
    if (!img) return Error{ErrorCode::kElf, kNoPc, fmt::format("{}: {}", what, img.error().msg)};
    for (const Section& s : img->sections)
      if (s.name == ".BTF") return parse_btf(s.data, what);
    return elf_error(fmt::format("{}: the ELF file has no .BTF section", what));
  }
  return parse_btf(*bytes, what);
}

// A function: a range of slots of one executable section.
struct Func {
  uint32_t sec = 0;
  uint32_t start = 0, end = 0;  // slots
  std::string name;
};

struct CoreFailure {
  uint32_t sec, slot;
  Error error;
};

struct Loader {
  const LoadOptions& opts;
  const ElfImage& img;
  ObjectFile& obj;
  BtfPtr btf;
  // (section, offset) of a map definition -> map index
  std::map<std::pair<uint32_t, uint64_t>, uint32_t> map_at;
  std::vector<int> data_map;  // per section: map index or -1
  std::vector<int> map_section;  // per section: 1 if legacy maps or .maps
  std::vector<std::vector<RawInsn>> code;  // per executable section: its slots (CO-RE applied)
  std::vector<std::vector<Func>> funcs;    // per section, sorted by start
  std::vector<std::map<uint32_t, LineInfo>> lines;  // per section: slot -> line
  std::vector<CoreFailure> core_failures;

  std::string sec_name(uint32_t i) const { return i < img.sections.size() ? img.sections[i].name : "?"; }

  Status load_maps();
  Status load_btf_ext();
  Status load_functions();
  const Func* func_at(uint32_t sec, uint32_t slot) const {
    const std::vector<Func>& v = funcs[sec];
    auto it = std::upper_bound(v.begin(), v.end(), slot, [](uint32_t s, const Func& f) { return s < f.start; });
    if (it == v.begin()) return nullptr;
    --it;
    return slot < it->end ? &*it : nullptr;
  }
  const Reloc* reloc_at(uint32_t sec, uint64_t off) const {
    const std::vector<Reloc>& v = img.relocs[sec];
    auto it = std::lower_bound(v.begin(), v.end(), off, [](const Reloc& r, uint64_t o) { return r.offset < o; });
    return it != v.end() && it->offset == off ? &*it : nullptr;
  }
  void link(const Func& entry, ElfProgram* p);
  Status link_into(const Func& entry, ElfProgram* p);
};

Status Loader::load_maps() {
  size_t n = img.sections.size();
  data_map.assign(n, -1);
  map_section.assign(n, 0);
  // Legacy maps.
  for (uint32_t i = 1; i < n; ++i) {
    const Section& s = img.sections[i];
    if (!is_legacy_maps(s)) continue;
    if (s.type != SHT_PROGBITS) return elf_error(fmt::format("legacy map section '{}' has no contents", s.name));
    map_section[i] = 1;
    std::vector<std::pair<std::string, uint64_t>> syms;
    for (const Symbol& y : img.symbols)
      if (y.shndx == i && y.type != STT_SECTION && y.type != STT_FILE && !y.name.empty()) syms.emplace_back(y.name, y.value);
    if (syms.size() > opts.max_maps) return elf_error(fmt::format("section '{}' has more than {} maps", s.name, opts.max_maps));
    std::vector<uint64_t> offs;
    Result<std::vector<MapDef>> defs = parse_legacy_maps(s.data, s.name, std::move(syms), &offs);
    if (!defs) return defs.error();
    for (size_t k = 0; k < defs->size(); ++k) {
      map_at[{i, offs[k]}] = static_cast<uint32_t>(obj.maps.size());
      obj.maps.push_back(std::move((*defs)[k]));
    }
  }
  // Legacy inner maps: inner_map_idx indexes the legacy maps.
  size_t legacy = obj.maps.size();
  for (MapDef& m : obj.maps) {
    if (m.inner.empty()) continue;
    unsigned long idx = std::stoul(m.inner[0].name.substr(1));
    if (idx >= legacy || !obj.maps[idx].inner.empty())
      return elf_error(fmt::format("legacy map '{}': inner_map_idx {} is not a map of the object", m.name, idx));
    m.inner[0] = obj.maps[idx];
  }
  // BTF-defined maps.
  for (uint32_t i = 1; i < n; ++i) {
    const Section& s = img.sections[i];
    if (s.name != ".maps") continue;
    if (!btf) return elf_error("the object has a .maps section but no .BTF");
    map_section[i] = 1;
    std::vector<SymPos> syms;
    for (const Symbol& y : img.symbols)
      if (y.shndx == i && y.type != STT_SECTION && !y.name.empty()) syms.push_back({y.name, y.value, y.size});
    Result<std::vector<BtfMap>> maps = parse_btf_maps(btf.get(), s.size, syms);
    if (!maps) return maps.error();
    size_t first = obj.maps.size();
    for (BtfMap& m : *maps) {
      map_at[{i, m.offset}] = static_cast<uint32_t>(obj.maps.size());
      obj.maps.push_back(m.def);
    }
    // `.values` initial contents: relocations inside a map variable's `values` array.
    for (const Reloc& r : img.relocs[i]) {
      const Symbol& y = img.symbols[r.sym];
      auto it = std::find_if(maps->begin(), maps->end(),
                             [&](const BtfMap& m) { return r.offset >= m.offset && r.offset < m.offset + m.size; });
      if (it == maps->end())
        return elf_error(fmt::format(".maps relocation at offset {} (symbol '{}') is outside every map", r.offset, y.name));
      MapDef& def = obj.maps[first + (it - maps->begin())];
      uint64_t rel = r.offset - it->offset;
      if (it->values_offset == UINT64_MAX || rel < it->values_offset || (rel - it->values_offset) % 8 != 0)
        return elf_error(fmt::format(".maps relocation at offset {} (symbol '{}') is not an element of map '{}' .values",
                                     r.offset, y.name, def.name));
      uint64_t slot = (rel - it->values_offset) / 8;
      if (slot >= def.max_entries)
        return elf_error(fmt::format("map '{}': .values[{}] is beyond max_entries {}", def.name, slot, def.max_entries));
      bool is_prog = y.shndx > 0 && y.shndx < n && is_exec(img.sections[y.shndx]) && y.type == STT_FUNC;
      bool is_map = y.shndx == i;
      if (def.type == MapType::ProgArray ? !is_prog : !is_map)
        return elf_error(fmt::format("map '{}': .values[{}] refers to '{}', which is not a {}", def.name, slot, y.name,
                                     def.type == MapType::ProgArray ? "program" : "map"));
      def.init_refs.emplace_back(static_cast<uint32_t>(slot), y.name);
    }
  }
  // Global data.
  for (uint32_t i = 1; i < n; ++i) {
    const Section& s = img.sections[i];
    if (!is_data(s) || s.size == 0) continue;
    if (s.size > opts.max_data_section_size)
      return elf_error(fmt::format("data section '{}' of {} bytes is larger than the limit of {}", s.name, s.size,
                                   opts.max_data_section_size));
    MapDef d;
    d.name = s.name;
    d.type = MapType::Array;
    d.key_size = 4;
    d.value_size = static_cast<uint32_t>(s.size);
    d.max_entries = 1;
    d.read_only = s.name.starts_with(".rodata");
    if (d.read_only) d.map_flags = kRdonlyProg;
    if (s.type == SHT_NOBITS) d.initial_value.assign(s.size, 0);
    else d.initial_value.assign(s.data.begin(), s.data.end());
    data_map[i] = static_cast<int>(obj.maps.size());
    obj.maps.push_back(std::move(d));
  }
  if (obj.maps.size() > opts.max_maps) return elf_error(fmt::format("more than {} maps", opts.max_maps));
  return Ok{};
}

Status Loader::load_functions() {
  size_t n = img.sections.size();
  code.resize(n);
  funcs.resize(n);
  lines.resize(n);
  for (uint32_t i = 1; i < n; ++i) {
    const Section& s = img.sections[i];
    if (!is_exec(s)) continue;
    if (s.size % 8 != 0)
      return elf_error(fmt::format("code section '{}' size {} is not a multiple of 8", s.name, s.size));
    code[i].resize(s.size / 8);
    std::memcpy(code[i].data(), s.data.data(), s.size);
    for (const Symbol& y : img.symbols) {
      if (y.shndx != i || y.type != STT_FUNC || y.size == 0) continue;
      if (y.value % 8 != 0 || y.size % 8 != 0 || y.value > s.size || y.size > s.size - y.value)
        return elf_error(fmt::format("function '{}' (offset {}, size {}) is not a whole range of instructions of "
                                     "section '{}' ({} bytes)", y.name, y.value, y.size, s.name, s.size));
      funcs[i].push_back({i, static_cast<uint32_t>(y.value / 8), static_cast<uint32_t>((y.value + y.size) / 8), y.name});
    }
    if (funcs[i].empty()) funcs[i].push_back({i, 0, static_cast<uint32_t>(s.size / 8), s.name});
    std::stable_sort(funcs[i].begin(), funcs[i].end(), [](const Func& a, const Func& b) { return a.start < b.start; });
    for (const Reloc& r : img.relocs[i])
      if (r.offset % 8 != 0)
        return elf_error(fmt::format("relocation at offset {} of code section '{}' is not on an instruction boundary",
                                     r.offset, s.name));
  }
  return Ok{};
}

Status Loader::load_btf_ext() {
  const Section* ext = nullptr;
  for (const Section& s : img.sections)
    if (s.name == ".BTF.ext") ext = &s;
  if (!ext) return Ok{};
  if (!btf) return elf_error("the object has .BTF.ext but no .BTF");
  obj.btf_ext.assign(ext->data.begin(), ext->data.end());
  Result<BtfExt> e = parse_btf_ext(ext->data, btf.get());
  if (!e) return e.error();
  auto section_index = [&](const std::string& name) -> int {
    for (uint32_t i = 1; i < img.sections.size(); ++i)
      if (img.sections[i].name == name && is_exec(img.sections[i])) return static_cast<int>(i);
    return -1;
  };
  for (auto& [name, v] : e->lines) {
    int sec = section_index(name);
    if (sec < 0) continue;  // line info of an empty or unknown section: nothing to attach it to
    for (ExtLine& l : v) {
      if (l.insn_off % 8 != 0 || l.insn_off / 8 >= code[sec].size())
        return elf_error(fmt::format(".BTF.ext line info offset {} is outside section '{}'", l.insn_off, name));
      lines[sec][l.insn_off / 8] = LineInfo{std::move(l.file), l.line, l.column, std::move(l.source)};
    }
  }
  BtfPtr target;
  bool target_tried = false;
  Error target_error{ErrorCode::kElf, kNoPc, ""};
  for (auto& [name, v] : e->core) {
    int sec = section_index(name);
    if (sec < 0) return elf_error(fmt::format(".BTF.ext CO-RE relocations for '{}', which is not a code section", name));
    for (const ExtCoreRelo& r : v) {
      if (r.insn_off % 8 != 0 || r.insn_off / 8 >= code[sec].size())
        return elf_error(fmt::format(".BTF.ext CO-RE relocation offset {} is outside section '{}'", r.insn_off, name));
      if (!target_tried) {
        target_tried = true;
        std::string path = opts.target_btf_path;
        if (path.empty() && opts.system_btf && std::filesystem::exists(kSystemBtf)) path = kSystemBtf;
        if (!path.empty()) {
          Result<BtfPtr> t = load_target_btf(path);
          if (t) target = std::move(*t);
          else target_error = t.error();
        } else {
          target_error.msg = "no target BTF (set LoadOptions::target_btf_path)";
        }
      }
      uint32_t slot = r.insn_off / 8;
      Status st = target || r.kind == 6 ? apply_core_relo(btf.get(), target.get(), r, code[sec], slot)
                                        : Status(Error{target_error.code, kNoPc,
                                                       fmt::format("CO-RE relocation {} (type {}, access '{}'): {}",
                                                                   core_kind_name(r.kind), r.type_id, r.access,
                                                                   target_error.msg)});
      if (!st) core_failures.push_back({static_cast<uint32_t>(sec), slot, st.error()});
    }
  }
  return Ok{};
}

void Loader::link(const Func& entry, ElfProgram* p) {
  Status st = link_into(entry, p);
  if (!st) {
    p->status = st;
    p->code = Program{};
    p->map_relocs.clear();
    p->line_info.clear();
  }
}

Status Loader::link_into(const Func& entry, ElfProgram* p) {
  struct Placed {
    const Func* f;
    uint32_t base;
  };
  std::vector<RawInsn> out;
  std::vector<Placed> placed;
  struct SlotReloc {
    uint32_t slot, map;
    LddwSrc src;
    uint32_t offset;
  };
  std::vector<SlotReloc> relocs;
  auto prog_error = [&](uint32_t slot, std::string msg) {
    return Error{ErrorCode::kElf, slot, fmt::format("program '{}': {}", p->name, msg)};
  };
  auto place = [&](const Func* f) -> Result<uint32_t> {
    for (const Placed& q : placed)
      if (q.f == f) return q.base;
    if (out.size() + (f->end - f->start) > opts.decode.max_insns)
      return prog_error(kNoPc, fmt::format("linked program exceeds {} instructions", opts.decode.max_insns));
    uint32_t base = static_cast<uint32_t>(out.size());
    out.insert(out.end(), code[f->sec].begin() + f->start, code[f->sec].begin() + f->end);
    placed.push_back({f, base});
    for (const CoreFailure& c : core_failures)
      if (c.sec == f->sec && c.slot >= f->start && c.slot < f->end)
        return prog_error(base + c.slot - f->start, fmt::format("instruction {}: {}", base + c.slot - f->start, c.error.msg));
    return base;
  };
  // Resolves a code target (section, slot) to its linked slot, placing its function if needed.
  auto resolve = [&](uint32_t sec, int64_t t, uint32_t at, const char* what) -> Result<uint32_t> {
    if (t < 0 || t >= static_cast<int64_t>(code[sec].size()))
      return prog_error(at, fmt::format("{} target {} is outside section '{}'", what, t, sec_name(sec)));
    const Func* f = func_at(sec, static_cast<uint32_t>(t));
    if (!f) return prog_error(at, fmt::format("{} target {} of section '{}' is not inside a function", what, t, sec_name(sec)));
    Result<uint32_t> b = place(f);
    if (!b) return b.error();
    return *b + static_cast<uint32_t>(t) - f->start;
  };
  {
    Result<uint32_t> b = place(&entry);
    if (!b) return b.error();
  }
  for (size_t pi = 0; pi < placed.size(); ++pi) {
    const Func f = *placed[pi].f;
    const uint32_t base = placed[pi].base;
    for (uint32_t s = f.start; s < f.end; ++s) {
      uint32_t at = base + s - f.start;
      const Reloc* r = reloc_at(f.sec, uint64_t{s} * 8);
      const Symbol* y = r ? &img.symbols[r->sym] : nullptr;
      std::string where = r ? fmt::format("relocation at offset {} of section '{}' (symbol '{}')", uint64_t{s} * 8,
                                          sec_name(f.sec), y->name)
                            : std::string();
      RawInsn in = out[at];
      if (in.opcode == 0x18) {  // lddw
        if (s + 1 >= f.end) return prog_error(at, "lddw without its second slot at the end of a function");
        ++s;
        if (!r) {
          if (in.src != 0 && in.src != static_cast<uint8_t>(LddwSrc::BtfId))
            return prog_error(at, fmt::format("lddw with pseudo source {} has no relocation", int{in.src}));
          continue;
        }
        if (y->shndx == SHN_UNDEF)
          return prog_error(at, fmt::format("{}: extern variable '{}' (kconfig/ksym) is not supported", where, y->name));
        if (y->shndx >= img.sections.size())
          return prog_error(at, fmt::format("{}: symbol in special section {:#x}", where, y->shndx));
        uint32_t ysec = y->shndx;
        if (r->has_addend) {
          if (r->addend < INT32_MIN || r->addend > INT32_MAX) return prog_error(at, fmt::format("{}: addend {} out of range", where, r->addend));
          in.imm = static_cast<int32_t>(r->addend);
        }
        if (map_section[ysec]) {
          RawInsn& lo = out[at];
          RawInsn& hi = out[at + 1];
          uint64_t off = y->value + (y->type == STT_SECTION ? static_cast<int64_t>(in.imm) : 0);
          auto it = map_at.find({ysec, off});
          if (it == map_at.end())
            return prog_error(at, fmt::format("{}: no map definition at offset {} of '{}'", where, off, sec_name(ysec)));
          lo.src = static_cast<uint8_t>(LddwSrc::MapIdx);
          lo.imm = static_cast<int32_t>(it->second);
          hi.imm = 0;
          relocs.push_back({at, it->second, LddwSrc::MapIdx, 0});
        } else if (data_map[ysec] >= 0) {
          RawInsn& lo = out[at];
          RawInsn& hi = out[at + 1];
          int64_t off = static_cast<int64_t>(y->value) + in.imm;
          const MapDef& m = obj.maps[data_map[ysec]];
          if (off < 0 || off > static_cast<int64_t>(m.value_size))
            return prog_error(at, fmt::format("{}: offset {} is outside '{}' ({} bytes)", where, off, m.name, m.value_size));
          lo.src = static_cast<uint8_t>(LddwSrc::MapIdxValue);
          lo.imm = data_map[ysec];
          hi.imm = static_cast<int32_t>(off);
          relocs.push_back({at, static_cast<uint32_t>(data_map[ysec]), LddwSrc::MapIdxValue, static_cast<uint32_t>(off)});
        } else if (!code[ysec].empty()) {
          int64_t byte = static_cast<int64_t>(y->value) + in.imm;
          if (byte % 8 != 0) return prog_error(at, fmt::format("{}: function address {} is not 8-aligned", where, byte));
          Result<uint32_t> t = resolve(ysec, byte / 8, at, "function reference");
          if (!t) return t.error();
          // resolve() may have grown `out`: index it again rather than keep references.
          out[at].src = static_cast<uint8_t>(LddwSrc::Func);
          out[at].imm = static_cast<int32_t>(static_cast<int64_t>(*t) - (static_cast<int64_t>(at) + 1));
          out[at + 1].imm = 0;
        } else {
          return prog_error(at, fmt::format("{}: section '{}' is neither maps, global data nor code", where, sec_name(ysec)));
        }
        continue;
      }
      if (in.opcode == 0x85) {  // call
        if (in.src == 1) {
          int64_t t;
          uint32_t tsec;
          if (r) {
            if (y->shndx == SHN_UNDEF || y->shndx >= img.sections.size() || code[y->shndx].empty())
              return prog_error(at, fmt::format("{}: call to extern function '{}' is not supported", where, y->name));
            if (y->value % 8 != 0) return prog_error(at, fmt::format("{}: call target is not 8-aligned", where));
            tsec = y->shndx;
            t = static_cast<int64_t>(y->value / 8) + in.imm + 1;
          } else {
            tsec = f.sec;
            t = static_cast<int64_t>(s) + in.imm + 1;
          }
          Result<uint32_t> lt = resolve(tsec, t, at, "call");
          if (!lt) return lt.error();
          out[at].imm = static_cast<int32_t>(static_cast<int64_t>(*lt) - (static_cast<int64_t>(at) + 1));
        } else if (r) {
          return prog_error(at, fmt::format("{}: relocation on a helper call (extern function '{}'?) is not supported",
                                            where, y->name));
        }
        continue;
      }
      if (r) return prog_error(at, fmt::format("{}: applies to opcode 0x{:02x}, which is neither lddw nor call", where,
                                               in.opcode));
    }
  }
  // Decode the linked bytes.
  std::vector<uint8_t> bytes(out.size() * 8);
  std::memcpy(bytes.data(), out.data(), bytes.size());
  Result<Program> prog = decode(bytes, opts.decode);
  if (!prog) {
    Error e = prog.error();
    e.msg = fmt::format("program '{}': {}", p->name, e.to_string());
    return e;
  }
  p->code = std::move(*prog);
  for (const SlotReloc& r : relocs)
    p->map_relocs.push_back({static_cast<uint32_t>(p->code.index_of_slot(r.slot)), r.map, r.src, r.offset});
  bool any_line = false;
  for (const Placed& q : placed)
    if (!lines[q.f->sec].empty()) any_line = true;
  if (any_line) {
    p->line_info.resize(p->code.insns.size());
    for (const Placed& q : placed) {
      const auto& lm = lines[q.f->sec];
      for (auto it = lm.lower_bound(q.f->start); it != lm.end() && it->first < q.f->end; ++it) {
        int32_t idx = p->code.index_of_slot(q.base + it->first - q.f->start);
        if (idx >= 0) p->line_info[idx] = it->second;
      }
    }
  }
  return Ok{};
}

}  // namespace

int ObjectFile::find_program(std::string_view name) const {
  for (size_t i = 0; i < programs.size(); ++i)
    if (programs[i].name == name) return static_cast<int>(i);
  return -1;
}
int ObjectFile::find_map(std::string_view name) const {
  for (size_t i = 0; i < maps.size(); ++i)
    if (maps[i].name == name) return static_cast<int>(i);
  return -1;
}

Result<ObjectFile> load_object(std::span<const uint8_t> bytes, const LoadOptions& opts) {
  if (bytes.size() > opts.max_object_size)
    return elf_error(fmt::format("object of {} bytes is larger than the limit of {}", bytes.size(), opts.max_object_size));
  Result<ElfImage> img = parse_elf(bytes);
  if (!img) return img.error();
  ObjectFile obj;
  Loader L{opts, *img, obj, {}, {}, {}, {}, {}, {}, {}, {}};
  for (const Section& s : img->sections) {
    if (s.name == "license" && !s.data.empty()) {
      const char* c = reinterpret_cast<const char*>(s.data.data());
      obj.license.assign(c, strnlen(c, std::min<size_t>(s.data.size(), 128)));
    } else if (s.name == "version") {
      if (s.data.size() != 4) return elf_error(fmt::format("'version' section is {} bytes, expected 4", s.data.size()));
      uint32_t v;
      std::memcpy(&v, s.data.data(), 4);
      obj.kernel_version = v;
    } else if (s.name == ".BTF") {
      obj.btf.assign(s.data.begin(), s.data.end());
      Result<BtfPtr> b = parse_btf(s.data, ".BTF");
      if (!b) return b.error();
      L.btf = std::move(*b);
    }
  }
  BPFVM_TRY(L.load_maps());
  BPFVM_TRY(L.load_functions());
  BPFVM_TRY(L.load_btf_ext());
  for (uint32_t i = 1; i < img->sections.size(); ++i) {
    for (const Func& f : L.funcs[i]) {
      ElfProgram p;
      p.name = f.name;
      p.section = img->sections[i].name;
      if (opts.type_override) {
        p.type = *opts.type_override;
        p.type_known = true;
      } else {
        SectionType st = prog_type_from_section(p.section, opts.default_type);
        p.type = st.type;
        p.type_known = st.known;
      }
      L.link(f, &p);
      obj.programs.push_back(std::move(p));
    }
  }
  return obj;
}

Result<ObjectFile> load_object_file(const std::string& path, const LoadOptions& opts) {
  Result<std::vector<uint8_t>> bytes = read_file(path, opts.max_object_size);
  if (!bytes) return bytes.error();
  return load_object(*bytes, opts);
}

}  // namespace bpfvm
