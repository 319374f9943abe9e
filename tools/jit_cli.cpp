#include "tools/jit_cli.h"

#include <cstdio>

#include <fmt/format.h>

#include "tools/cli_util.h"
#include "tools/object_cli.h"
#include "vm/runtime/input.h"

namespace po = boost::program_options;

namespace bpfvm::cli {

const char* default_engine() {
  return jit::jit_supported() ? "jit" : "interp";
}

void add_jit_options(po::options_description& d) {
  d.add_options()("no-blinding", "JIT: emit immediates as they are (no constant blinding)")(
      "spectre", po::value<std::string>()->default_value("none"),
      "JIT Spectre hardening: none, retpoline (indirect calls/jumps through retpolines), barrier "
      "(lfence after bounds checks), all");
}

Result<jit::JitOptions> jit_options(const po::variables_map& vm) {
  jit::JitOptions o;
  o.blinding = vm.count("no-blinding") == 0;
  std::string s = vm.count("spectre") ? vm["spectre"].as<std::string>() : "none";
  if (s == "retpoline" || s == "all") o.retpoline = true;
  if (s == "barrier" || s == "all") o.spec_barrier = true;
  if (s != "none" && s != "retpoline" && s != "barrier" && s != "all")
    return Error{ErrorCode::kBadInput, kNoPc,
                 fmt::format("unknown --spectre '{}' (none, retpoline, barrier, all)", s)};
  return o;
}

Status apply_engine_options(const po::variables_map& vm, ExecOptions* eo) {
  auto engine = parse_engine(vm["engine"].as<std::string>());
  if (!engine) return engine.error();
  auto jo = jit_options(vm);
  if (!jo) return jo.error();
  eo->engine = *engine;
  eo->jit = *jo;
  return Ok{};
}

void add_jit_dump_options(po::options_description& d) {
  d.add_options()("output,o", po::value<std::string>(), "write the machine code (raw bytes) to this file")(
      "checked", "dump checked code (bounds checks and budget metering), as unverified programs get")(
      "program", po::value<std::string>(), "ELF: the program (function name)")(
      "section", po::value<std::string>(), "ELF: the program in this section")(
      "type", po::value<std::string>(), "ELF: program type");
  add_jit_options(d);
}

int jit_dump_command(const po::variables_map& vm) {
  const std::string cmd = "bpfvm jit-dump";
  const std::string path = vm["file"].as<std::string>();
  auto jo = jit_options(vm);
  if (!jo) {
    print_error(cmd, jo.error());
    return kExitUsage;
  }
  // The dump shows code, it never runs it: unchecked code is shown as a verified program would get it.
  jo->checked = vm.count("checked") > 0;
  jo->verified = true;
  jo->disassembly = true;
  Result<std::unique_ptr<jit::JitProgram>> prog = Error{ErrorCode::kInternal, 0, "not compiled"};
  size_t insns = 0;
  if (is_elf_file(path)) {
    // Through the runtime, as `run` compiles it: map addresses linked, lookups planned.
    auto type = type_option(vm);
    if (!type) {
      print_error(cmd, type.error());
      return kExitUsage;
    }
    ObjectOptions oo;
    oo.engine = Engine::Jit;
    oo.type_override = *type;
    oo.trace_out = nullptr;
    auto obj = Object::open(path, oo);
    if (!obj) return fail(cmd, obj.error());
    auto idx = (*obj)->select_program(vm.count("program") ? vm["program"].as<std::string>() : "",
                                      vm.count("section") ? vm["section"].as<std::string>() : "");
    if (!idx) {
      print_error(cmd, idx.error());
      return kExitUsage;
    }
    if (const Status& st = (*obj)->program_status(*idx); !st) {
      print_error(cmd, st.error());
      return kExitRejected;
    }
    insns = (*obj)->program(*idx).code.insns.size();
    prog = (*obj)->compile_jit(*idx, *jo);
  } else {
    auto in = load_program(path);
    if (!in) return fail(cmd, in.error());
    insns = in->program.insns.size();
    Vm v(VmOptions{.seed = 0, .trace_out = nullptr});
    prog = jit::JitProgram::compile(in->program, &v.helpers(), *jo);
  }
  if (!prog) return fail(cmd, prog.error());
  auto code = (*prog)->code();
  if (vm.count("output")) {
    std::string out = vm["output"].as<std::string>();
    std::FILE* f = std::fopen(out.c_str(), "wb");
    if (f == nullptr || std::fwrite(code.data(), 1, code.size(), f) != code.size() || std::fclose(f) != 0) {
      fmt::print(stderr, "{}: cannot write {}\n", cmd, out);
      return kExitUsage;
    }
  }
  fmt::print("; {} bytes of x86-64 code for {} BPF instructions ({}, blinding {})\n", code.size(), insns,
             jo->checked ? "checked" : "unchecked", jo->blinding ? "on" : "off");
  std::fputs((*prog)->disassembly().c_str(), stdout);
  return kExitOk;
}

}  // namespace bpfvm::cli
