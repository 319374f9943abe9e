#include "tools/object_cli.h"

#include <cstdio>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "tools/cli_util.h"
#include "tools/jit_cli.h"
#include "tools/verify_cli.h"
#include "vm/disasm.h"
#include "vm/runtime/input.h"
#include "vm/runtime/object.h"

namespace po = boost::program_options;

namespace bpfvm::cli {

namespace {

std::string hex_preview(const std::vector<uint8_t>& v, size_t max = 32) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < max; i++)
    s += fmt::format("{:02x}", v[i]);
  if (v.size() > max) s += "...";
  return s;
}

bool write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

Result<std::optional<std::vector<uint8_t>>> mem_option(const po::variables_map& vm) {
  using Mem = std::optional<std::vector<uint8_t>>;
  if (vm.count("mem") && vm.count("mem-file"))
    return Error{ErrorCode::kBadInput, kNoPc, "--mem and --mem-file are mutually exclusive"};
  if (!vm.count("mem") && !vm.count("mem-file")) return Mem{};
  auto m = vm.count("mem") ? parse_hex_bytes(vm["mem"].as<std::string>())
                           : read_file(vm["mem-file"].as<std::string>());
  if (!m) return m.error();
  return Mem(std::move(*m));
}

Result<RunInputs> run_inputs(const po::variables_map& vm) {
  RunInputs r;
  if (vm.count("packet")) {
    auto pkt = read_file(vm["packet"].as<std::string>(), 1u << 20);
    if (!pkt) return pkt.error();
    r.packet = std::move(*pkt);
  }
  auto mem = mem_option(vm);
  if (!mem) return mem.error();
  r.mem = std::move(*mem);
  r.cpu = vm["cpu"].as<uint32_t>();
  const uint64_t repeat = vm["repeat"].as<uint64_t>();
  if (repeat == 0 || repeat > UINT32_MAX)
    return Error{ErrorCode::kBadInput, kNoPc, "--repeat must be between 1 and 4294967295"};
  r.repeat = static_cast<uint32_t>(repeat);
  return r;
}

bool write_packet_out(const std::string& cmd,
                      const po::variables_map& vm,
                      const std::vector<uint8_t>& packet) {
  if (!vm.count("packet-out") || write_bytes(vm["packet-out"].as<std::string>(), packet)) return true;
  fmt::print(stderr, "{}: cannot write {}\n", cmd, vm["packet-out"].as<std::string>());
  return false;
}

Result<std::optional<ProgType>> type_option(const po::variables_map& vm) {
  if (!vm.count("type")) return std::optional<ProgType>{};
  const std::string name = vm["type"].as<std::string>();
  auto t = prog_type_from_name(name);
  if (!t)
    return Error{
        ErrorCode::kBadInput, kNoPc,
        fmt::format("unknown program type '{}' (libbpf's names: xdp, sched_cls, sched_act, socket_filter, "
                    "raw_tracepoint, tracepoint, kprobe, ..., or raw)",
                    name)};
  return std::optional<ProgType>(*t);
}

Result<InputFile> load_input_file(const std::string& path, std::optional<ProgType> type) {
  InputFile r;
  if (is_elf_file(path)) {
    LoadOptions lo;
    lo.type_override = type;
    auto f = load_object_file(path, lo);
    if (!f) return f.error();
    r.file = std::move(*f);
    return r;
  }
  auto in = load_program(path);
  if (!in) return in.error();
  r.format = in->format;
  r.data_mem = in->mem;
  ElfProgram p;
  p.name = std::filesystem::path(path).filename().string();
  p.type = type.value_or(ProgType::Raw);
  p.type_known = true;
  p.code = std::move(in->program);
  r.file.programs.push_back(std::move(p));
  return r;
}

Result<InputObject> open_input_object(const std::string& path, const ObjectOptions& opts) {
  auto in = load_input_file(path, opts.type_override);
  if (!in) return in.error();
  InputObject r;
  r.format = in->format;
  r.data_mem = std::move(in->data_mem);
  auto o = Object::create(std::move(in->file), opts);
  if (!o) return o.error();
  r.obj = std::move(*o);
  return r;
}

bool is_elf_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  unsigned char m[4] = {};
  size_t n = std::fread(m, 1, 4, f);
  std::fclose(f);
  return n == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
}

bool uses_object_path(const po::variables_map& vm) {
  return is_elf_file(vm["file"].as<std::string>()) || vm.count("type") || vm.count("packet") ||
         vm.count("program") || vm.count("section") || vm.count("dump-maps");
}

int run_object(const po::variables_map& vm, bool bench) {
  const std::string cmd = bench ? "bpfvm bench" : "bpfvm run";
  const std::string path = vm["file"].as<std::string>();
  auto type = type_option(vm);
  if (!type) return fail(cmd, type.error());
  ExecOptions eo;
  if (auto st = apply_engine_options(vm, &eo); !st) return fail(cmd, st.error());
  ObjectOptions opts;
  opts.engine = eo.engine;
  opts.jit = eo.jit;
  opts.type_override = *type;
  if (vm.count("seed")) opts.seed = vm["seed"].as<uint64_t>();
  opts.num_cpus = vm["num-cpus"].as<uint32_t>();
  opts.budget = vm["budget"].as<uint64_t>();
  auto input = open_input_object(path, opts);
  if (!input) return fail(cmd, input.error());
  Object& o = *input->obj;
  auto idx = o.select_program(vm.count("program") ? vm["program"].as<std::string>() : "",
                              vm.count("section") ? vm["section"].as<std::string>() : "");
  if (!idx) return fail(cmd, idx.error());
  if (!o.program_status(*idx)) {
    print_error(fmt::format("{}: program '{}'", cmd, o.program(*idx).name), o.program_status(*idx).error());
    return kExitRejected;  // the program does not link: it is rejected, whatever the error's kind
  }

  auto inputs = run_inputs(vm);
  if (!inputs) return fail(cmd, inputs.error());
  ContextInput in;
  in.packet = std::move(inputs->packet);
  if (inputs->mem)
    in.ctx = std::move(*inputs->mem);
  else if (input->data_mem)
    in.ctx = *input->data_mem;
  in.cpu = inputs->cpu;
  in.repeat = inputs->repeat;
  in.reuse_context = bench && vm.count("reuse-context");

  if (!vm.count("no-verify")) {
    // Verify first: accepted programs run unchecked, rejected ones are not run (bench and
    // conformance .data files run them checked, with a note).
    verifier::VerifyOptions vo;
    vo.raw_ctx_size = static_cast<uint32_t>(in.ctx.size());
    auto v = o.verify(*idx, vo);
    if (!v) return fail(cmd, v.error());
    const ElfProgram& ep = o.program(*idx);
    fmt::print(stderr, "{}\n", verdict_line(*v, ep.code.insns.size()));
    if (!v->accepted) {
      if (bench || input->format == InputFormat::Data) {
        fmt::print(stderr, "{}: {}: running the unverified program in checked mode\n", cmd,
                   bench ? "bench" : "conformance test file");
      } else {
        fmt::print(stderr,
                   "{}{}: the verifier rejected program '{}'; not running it (--no-verify runs it in checked "
                   "mode)\n",
                   describe_errors(*v, ep.code, ep.line_info), cmd, ep.name);
        return kExitRejected;
      }
    }
  }
  auto out = o.run(*idx, in);
  std::fflush(stderr);
  if (!out) return fail(cmd, out.error());
  if (!bench)
    fmt::print(stderr, "engine: {} ({})\n", engine_name(opts.engine), out->checked ? "checked" : "unchecked");
  if (!write_packet_out(cmd, vm, out->packet)) return kExitUsage;
  if (vm.count("dump-maps")) {
    std::string dump = vm.count("json") ? dump_maps_json(o) : dump_maps_text(o);
    std::fputs(dump.c_str(), stderr);
    std::fflush(stderr);
  }
  if (bench)
    fmt::print("engine: {} ({})\nprogram: {} ({})\ninsns: {}\nruns: {}{}\nns/run: {}\n",
               engine_name(opts.engine), out->checked ? "checked" : "unchecked", o.program(*idx).name,
               prog_type_name(o.program_type(*idx)), o.program(*idx).code.insns.size(), in.repeat,
               in.reuse_context ? " (one context, timed as a batch)" : "", out->duration_ns);
  fmt::print("{:#x}\n", out->r0);
  return kExitOk;
}

int inspect_object(const po::variables_map& vm) {
  const std::string path = vm["file"].as<std::string>();
  auto type = type_option(vm);
  if (!type) return fail("bpfvm inspect", type.error());
  if (!is_elf_file(path)) {
    auto bytes = read_file(path);
    if (!bytes) return fail("bpfvm inspect", bytes.error());
    return fail("bpfvm inspect",
                Error{ErrorCode::kBadInput, kNoPc, fmt::format("{} is not an ELF object", path)});
  }
  ObjectOptions opts;
  opts.type_override = *type;
  auto obj = Object::open(path, opts);
  if (!obj) return fail("bpfvm inspect", obj.error());
  const Object& o = **obj;
  const ObjectFile& f = o.file();
  fmt::print("object: {}\n", path);
  fmt::print("license: {}\n", f.license.empty() ? "(none)" : f.license);
  if (f.kernel_version) fmt::print("kernel version: {:#x}\n", *f.kernel_version);
  fmt::print("BTF: {} bytes, BTF.ext: {} bytes\n", f.btf.size(), f.btf_ext.size());
  fmt::print("programs: {}\n", o.num_programs());
  for (size_t i = 0; i < o.num_programs(); i++) {
    const ElfProgram& p = o.program(i);
    fmt::print(
        "  {} (id {}): section '{}', type {}{}, {} insns ({} slots), {} subprogram(s), {}\n", p.name,
        o.program_id(i), p.section, prog_type_name(o.program_type(i)),
        p.type_known || type->has_value() ? "" : " (default: section name not recognised)",
        p.code.insns.size(), p.code.num_slots, p.code.subprogs.empty() ? 0 : p.code.subprogs.size() - 1,
        o.program_status(i) ? std::string("linked") : "error: " + o.program_status(i).error().to_string());
    for (const MapReloc& r : p.map_relocs) {
      const std::string mname = r.map < f.maps.size() ? f.maps[r.map].name : "?";
      const uint32_t pc = r.insn < p.code.insns.size() ? p.code.insns[r.insn].pc : 0;
      if (r.src == LddwSrc::MapIdxValue)
        fmt::print("    reloc: pc {} lddw -> map '{}' value + {}\n", pc, mname, r.offset);
      else
        fmt::print("    reloc: pc {} lddw -> map '{}'\n", pc, mname);
    }
  }
  fmt::print("maps: {}\n", f.maps.size());
  for (const MapDef& d : f.maps) {
    fmt::print("  {}: {}, key {} B, value {} B, max_entries {}, flags {:#x}{}\n", d.name,
               map_type_name(d.type), d.key_size, d.value_size, d.max_entries, d.map_flags,
               d.read_only ? ", read-only" : "");
    for (const MapDef& in : d.inner)
      fmt::print("    inner: {}, key {} B, value {} B, max_entries {}\n", map_type_name(in.type), in.key_size,
                 in.value_size, in.max_entries);
    for (const auto& [slot, ref] : d.init_refs)
      fmt::print("    .values[{}] = {}\n", slot, ref);
  }
  bool any = false;
  for (const MapDef& d : f.maps) {
    if (d.initial_value.empty()) continue;
    if (!any) fmt::print("global data:\n");
    any = true;
    fmt::print("  {}: {} bytes{}: {}\n", d.name, d.initial_value.size(), d.read_only ? " (read-only)" : "",
               hex_preview(d.initial_value));
  }
  return kExitOk;
}

int disasm_object(const po::variables_map& vm) {
  const std::string path = vm["file"].as<std::string>();
  LoadOptions lo;
  lo.decode.allow_unsupported = true;
  auto f = load_object_file(path, lo);
  if (!f) {
    print_error("bpfvm disasm", f.error());
    return kExitUsage;
  }
  int only = -1;
  if (vm.count("program")) {
    only = f->find_program(vm["program"].as<std::string>());
    if (only < 0) {
      std::string names;
      for (const ElfProgram& p : f->programs)
        names += " " + p.name;
      fmt::print(stderr, "bpfvm disasm: no program named '{}' (programs:{})\n",
                 vm["program"].as<std::string>(), names);
      return kExitUsage;
    }
  }
  bool first = true;
  for (size_t i = 0; i < f->programs.size(); i++) {
    if (only >= 0 && static_cast<size_t>(only) != i) continue;
    const ElfProgram& p = f->programs[i];
    if (!first) fmt::print("\n");
    first = false;
    fmt::print("# program {} (section {}, {})\n", p.name, p.section, prog_type_name(p.type));
    if (!p.status) {
      fmt::print("# not linked: {}\n", p.status.error().to_string());
      continue;
    }
    std::map<uint32_t, std::string> notes;  // pc -> map name
    for (const MapReloc& r : p.map_relocs)
      if (r.insn < p.code.insns.size() && r.map < f->maps.size())
        notes[p.code.insns[r.insn].pc] = "map '" + f->maps[r.map].name + "'";
    DisasmOptions d;
    d.show_pc = vm.count("pc") > 0;
    d.annotate = [&](const Insn& in) {
      auto it = notes.find(in.pc);
      return it == notes.end() ? std::string() : it->second;
    };
    std::string text = disassemble(p.code, d);
    // One line per instruction: interleave the source line whenever it changes.
    size_t pos = 0;
    std::string last_file;
    uint32_t last_line = 0;
    for (size_t k = 0; k < p.code.insns.size() && pos < text.size(); k++) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      if (k < p.line_info.size()) {
        const LineInfo& li = p.line_info[k];
        if (li.line != 0 && (li.line != last_line || li.file != last_file)) {
          std::string src = li.source;
          while (!src.empty() && (src.back() == '\n' || src.back() == '\r'))
            src.pop_back();
          size_t b = src.find_first_not_of(" \t");
          fmt::print("# {}:{}: {}\n", std::filesystem::path(li.file).filename().string(), li.line,
                     b == std::string::npos ? std::string() : src.substr(b));
          last_line = li.line;
          last_file = li.file;
        }
      }
      fmt::print("{}\n", text.substr(pos, nl - pos));
      pos = nl + 1;
    }
  }
  return kExitOk;
}

}  // namespace bpfvm::cli
