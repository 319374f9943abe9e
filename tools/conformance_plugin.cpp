// bpfvm-conformance-plugin: lets the public eBPF conformance runner (bpf_conformance) drive bpfvm.
// Protocol (see ../shared/conformance/README.md): argv = [MEM] [OPTIONS...] [--elf]; the program
// arrives on stdin as hex bytes (two digits and spaces per byte); r0 goes to stdout in hex.
// Conformance programs are not verified: they run in checked mode (interpreter, or checked JIT code
// with --jit).
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tools/cli_util.h"
#include "vm/runtime/input.h"
#include "vm/runtime/vm.h"

using namespace bpfvm;

namespace {

constexpr const char* kUsage =
    "usage: bpfvm-conformance-plugin [MEM] [--interpret | --jit] [--program HEX] [--elf]\n"
    "  MEM            input memory as hex bytes (\"00  01  ff  \")\n"
    "  --program HEX  the program as hex bytes instead of stdin\n"
    "  --interpret    run on the interpreter (default)\n"
    "  --jit          run on the JIT (checked code: conformance programs are not verified)\n"
    "  --elf          the program is an ELF object (not available yet)\n";

int fail(const std::string& msg, int code) {
  fmt::print(stderr, "bpfvm-conformance-plugin: {}\n", msg);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mem_hex, program_hex;
  bool have_program = false;
  ExecOptions eo;  // checked: conformance programs are not verified
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--interpret" || a.empty()) {
      continue;  // empty: the runner splits "--a  --b" into an empty argument
    } else if (a == "--jit") {
      if (!jit::jit_supported()) return fail("the JIT needs an x86-64 Linux host", cli::kExitUsage);
      eo.engine = Engine::Jit;
    } else if (a == "--elf") {
      return fail("--elf input is not supported yet", cli::kExitUsage);
    } else if (a == "--program" && i + 1 < argc) {
      program_hex = argv[++i];
      have_program = true;
    } else if (a.rfind("--", 0) == 0) {
      return fail(fmt::format("unknown option '{}'\n{}", a, kUsage), cli::kExitUsage);
    } else if (i == 1) {
      mem_hex = a;
    } else {
      return fail(fmt::format("unexpected argument '{}'\n{}", a, kUsage), cli::kExitUsage);
    }
  }
  if (!have_program)
    program_hex.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  auto code = parse_hex_bytes(program_hex);
  if (!code) return fail("program: " + code.error().to_string(), cli::kExitUsage);
  auto mem = parse_hex_bytes(mem_hex);
  if (!mem) return fail("memory: " + mem.error().to_string(), cli::kExitUsage);
  auto program = decode(*code);
  if (!program) return fail(program.error().to_string(), cli::exit_code_for(program.error()));
  Vm vm;
  auto exe = vm.prepare(*program, eo);
  if (!exe) return fail(exe.error().to_string(), cli::exit_code_for(exe.error()));
  auto r = (*exe)->run(*mem);
  if (!r) return fail(r.error().to_string(), cli::exit_code_for(r.error()));
  fmt::print("{:x}\n", *r);
  return 0;
}
