// bpfvm: the command-line client of the bpfvm libraries. Every command reads a PROGRAM the same way
// (vm/runtime/input.h). Exit codes: 0 success, 1 rejected or faulted, 2 usage or unreadable input.
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "tools/backend_cli.h"
#include "tools/cli_util.h"
#include "tools/jit_cli.h"
#include "tools/object_cli.h"
#include "tools/verify_cli.h"
#include "vm/asm.h"
#include "vm/disasm.h"
#include "vm/runtime/input.h"
#include "vm/runtime/object.h"
#include "vm/runtime/vm.h"

namespace po = boost::program_options;
using namespace bpfvm;
using namespace bpfvm::cli;

namespace {

constexpr const char* kUsage = R"(usage: bpfvm COMMAND [OPTIONS] PROGRAM

Commands:
  verify PROGRAM... verify programs: PASS/FAIL per program with every error (exit 1 if any fails)
  run PROGRAM       verify, then run a program and print r0 (hex) on the last line of stdout
  bench PROGRAM     run a program many times and print ns/run and r0
  inspect OBJECT.o  list an ELF object's programs, maps, global data, relocations and license
  diff OBJECT.o...  load into bpfvm and into the kernel, compare verdicts, r0, packet and maps
  asm IN -o OUT     assemble a .asm (or .data) file into raw little-endian bytecode
  disasm PROGRAM    print a program in assembly, one line per instruction
  jit-dump PROGRAM  JIT-compile a program: x86-64 disassembly per BPF instruction (-o FILE: the code)
  help [COMMAND]    show help

PROGRAM is read by content and name: an ELF object by its magic number, a conformance test file by
`.data`, assembly by `.asm`, anything else as raw little-endian bytecode.
ELF programs run with the context of their type (from the section name, or --type): XDP and skb
programs take --packet FILE; --mem/--mem-file give the initial context (xdp_md, __sk_buff,
tracepoint arguments). Other programs (and --type raw): r1 points to the input memory (--mem) and r2
holds its length. `run` and `bench` verify the program first (verifier: accepted/rejected on
stderr): an accepted program runs in unchecked (fast) mode; a rejected one is not run (exit 1, with
the verifier's diagnostic) unless --no-verify, which runs it in checked mode: every memory access is
bounds-checked and executed instructions are capped (--budget). Exceptions: conformance `.data`
files, which test ISA semantics, and `bench` run a rejected program in checked mode with a note.

--backend kernel (run, bench, verify, inspect) passes ELF objects to the Linux kernel through bpf(2)
(root): the kernel's verifier verdict and log, BPF_PROG_TEST_RUN for runs.

--backend kernel (run, bench, verify, inspect) passes ELF objects to the Linux kernel through bpf(2)
(root): the kernel verifier's verdict and log, BPF_PROG_TEST_RUN for runs.

Exit codes: 0 success, 1 the program was rejected or faulted, 2 usage error or unreadable input.
Run `bpfvm help COMMAND` or `bpfvm COMMAND --help` for the options of a command.
)";

struct Command {
  const char* summary;
  std::function<void(po::options_description&)> options;
  std::function<int(const po::variables_map&)> run;
  bool many_files = false;  // PROGRAM... (vm["file"] is a vector of paths)
};

// Options shared by commands that run a program.
void add_input_options(po::options_description& d) {
  d.add_options()
      ("mem", po::value<std::string>(), "input memory as hex bytes, spaces optional (\"00 01 ff\")")
      ("mem-file", po::value<std::string>(), "input memory from a file (raw bytes)")
      ("engine", po::value<std::string>()->default_value(default_engine()), "execution engine: jit, interp")
      ("budget", po::value<uint64_t>()->default_value(RunOptions{}.budget),
       "checked mode: fault after this many executed instructions")
      ("seed", po::value<uint64_t>(), "deterministic mode: seed for random numbers, virtual clock")
      ("program", po::value<std::string>(), "ELF: the program (function name) to run")
      ("section", po::value<std::string>(), "ELF: the program in this section")
      ("type", po::value<std::string>(), "program type, libbpf's names (xdp, sched_cls, socket_filter, raw_tracepoint, raw, ...)")
      ("packet", po::value<std::string>(), "packet file (raw bytes) for XDP and skb programs")
      ("cpu", po::value<uint32_t>()->default_value(0), "simulated CPU of the run")
      ("num-cpus", po::value<uint32_t>()->default_value(4), "simulated CPUs (per-CPU maps)")
      ("no-verify", "do not verify: run in checked mode (also programs the verifier rejects)");
  add_jit_options(d);
}

// Reads --mem / --mem-file, else the .data file's memory, else nothing.
Result<std::vector<uint8_t>> input_memory(const po::variables_map& vm, const ProgramInput& in) {
  auto mem = mem_option(vm);
  if (!mem) return mem.error();
  if (*mem) return std::move(**mem);
  if (in.mem) return *in.mem;
  return std::vector<uint8_t>{};
}

struct Prepared {
  ProgramInput input;
  std::vector<uint8_t> mem;
  std::unique_ptr<Vm> vm;
  std::unique_ptr<Executable> exe;
  std::optional<verifier::VerifyResult> verdict;  // absent with --no-verify
};

Result<Prepared> prepare(const po::variables_map& vm) {
  Prepared p;
  auto in = load_program(vm["file"].as<std::string>());
  if (!in) return in.error();
  p.input = std::move(*in);
  auto mem = input_memory(vm, p.input);
  if (!mem) return mem.error();
  p.mem = std::move(*mem);
  ExecOptions eo;
  BPFVM_TRY(apply_engine_options(vm, &eo));
  VmOptions vo;
  if (vm.count("seed")) vo.seed = vm["seed"].as<uint64_t>();
  p.vm = std::make_unique<Vm>(vo);
  eo.checked = true;
  eo.budget = vm["budget"].as<uint64_t>();
  if (vm.count("no-verify")) {
    auto exe = p.vm->prepare(p.input.program, eo);
    if (!exe) return exe.error();
    p.exe = std::move(*exe);
    return p;
  }
  // Verified as a raw program over this memory: accepted runs unchecked, rejected stays checked.
  auto v = p.vm->verify_and_prepare(p.input.program, static_cast<uint32_t>(p.mem.size()), eo);
  if (!v) return v.error();
  p.exe = std::move(v->exe);
  p.verdict = std::move(v->verdict);
  return p;
}

// Prints the verdict of a prepared program on stderr; false when it must not run (a rejected
// program, outside conformance .data files and bench, which run it checked with a note).
bool may_run(const std::string& cmd, const Prepared& p, bool bench) {
  if (!p.verdict) return true;
  fmt::print(stderr, "{}\n", verdict_line(*p.verdict, p.input.program.insns.size()));
  if (p.verdict->accepted) return true;
  if (p.input.format == InputFormat::Data || bench) {
    fmt::print(stderr, "{}: {}: running the unverified program in checked mode\n", cmd,
               bench ? "bench" : "conformance test file");
    return true;
  }
  fmt::print(stderr,
             "{}{}: the verifier rejected the program; not running it (--no-verify runs it in checked "
             "mode)\n",
             describe_errors(*p.verdict, p.input.program, {}), cmd);
  return false;
}

int cmd_run(const po::variables_map& vm) {
  if (uses_backend(vm)) return backend_run(vm, false);
  if (uses_object_path(vm)) return run_object(vm, false);
  auto p = prepare(vm);
  if (!p) return fail("bpfvm run", p.error());
  if (!may_run("bpfvm run", *p, false)) return kExitRejected;
  auto r = p->exe->run(p->mem);
  std::fflush(stderr);
  if (!r) return fail("bpfvm run", r.error());
  fmt::print("{:#x}\n", *r);
  if (p->input.expected_result && *p->input.expected_result != *r) {
    fmt::print(stderr, "bpfvm run: {} expects r0 = {:#x}, the program returned {:#x}\n", p->input.name,
               *p->input.expected_result, *r);
    return kExitRejected;
  }
  return kExitOk;
}

int cmd_bench(const po::variables_map& vm) {
  if (uses_backend(vm)) return backend_run(vm, true);
  if (uses_object_path(vm)) return run_object(vm, true);
  auto p = prepare(vm);
  if (!p) return fail("bpfvm bench", p.error());
  may_run("bpfvm bench", *p, true);
  uint64_t repeat = vm["repeat"].as<uint64_t>();
  if (repeat == 0) {
    fmt::print(stderr, "bpfvm bench: --repeat must be at least 1\n");
    return kExitUsage;
  }
  // Each run gets a fresh copy of the input, as the first run saw it.
  std::vector<uint8_t> mem = p->mem;
  uint64_t result = 0;
  auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < repeat; ++i) {
    std::copy(p->mem.begin(), p->mem.end(), mem.begin());
    auto r = p->exe->run(mem);
    if (!r) return fail("bpfvm bench", r.error());
    result = *r;
  }
  auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  fmt::print("engine: {} ({})\ninsns: {}\nruns: {}\nns/run: {:.1f}\n{:#x}\n", vm["engine"].as<std::string>(),
             p->exe->checked(p->mem.size()) ? "checked" : "unchecked", p->input.program.insns.size(), repeat,
             ns / static_cast<double>(repeat), result);
  return kExitOk;
}

int cmd_asm(const po::variables_map& vm) {
  std::string in_path = vm["file"].as<std::string>();
  if (!vm.count("output")) {
    fmt::print(stderr, "bpfvm asm: missing -o OUT\n");
    return kExitUsage;
  }
  auto bytes = read_file(in_path);
  if (!bytes) {
    print_error("bpfvm asm", bytes.error());
    return kExitUsage;
  }
  if (detect_format(in_path, *bytes) == InputFormat::Raw) {
    // Without a known extension, `asm` still means: read assembly text.
    in_path += ".asm";
  }
  DecodeOptions opts;
  opts.allow_unsupported = true;
  auto in = load_program_bytes(in_path, *bytes, opts);
  if (!in) {
    print_error("bpfvm asm", in.error());
    return kExitUsage;
  }
  std::vector<uint8_t> out = encode(in->program.insns);
  std::string out_path = vm["output"].as<std::string>();
  std::FILE* f = out_path == "-" ? stdout : std::fopen(out_path.c_str(), "wb");
  if (!f || std::fwrite(out.data(), 1, out.size(), f) != out.size() || (f != stdout && std::fclose(f) != 0)) {
    fmt::print(stderr, "bpfvm asm: cannot write {}\n", out_path);
    return kExitUsage;
  }
  return kExitOk;
}

int cmd_disasm(const po::variables_map& vm) {
  if (is_elf_file(vm["file"].as<std::string>())) return disasm_object(vm);
  DecodeOptions opts;
  opts.allow_unsupported = true;
  auto in = load_program(vm["file"].as<std::string>(), opts);
  if (!in) {
    print_error("bpfvm disasm", in.error());
    return exit_code_for(in.error()) == kExitRejected ? kExitUsage : exit_code_for(in.error());
  }
  DisasmOptions d;
  d.show_pc = vm.count("pc") > 0;
  fmt::print("{}", disassemble(in->program, d));
  return kExitOk;
}

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> cmds = {
      {"verify", {"verify programs (exit 0: all accepted, 1: any rejected, 2: unreadable input)",
                  [](po::options_description& d) {
                    add_verify_options(d);
                    add_backend_option(d);
                  },
                  [](const po::variables_map& vm) {
                    return uses_backend(vm) ? backend_verify(vm) : verify_command(vm);
                  },
                  true}},
      {"diff", {"run a program in user space and in the kernel and compare (exit 1: disagreement)",
                add_diff_options, diff_command, true}},
      {"run",
       {"run a program and print r0",
        [](po::options_description& d) {
          add_input_options(d);
          add_backend_option(d);
          d.add_options()
              ("packet-out", po::value<std::string>(), "write the packet after the run to this file")
              ("repeat", po::value<uint64_t>()->default_value(1), "ELF: runs against the same maps")
              ("dump-maps", "ELF: print every map's contents after the run (stderr)")
              ("json", "with --dump-maps: as JSON");
        },
        cmd_run}},
      {"inspect",
       {"describe an ELF object",
        [](po::options_description& d) {
          d.add_options()("type", po::value<std::string>(), "program type for every program");
          add_backend_option(d);
        },
        [](const po::variables_map& vm) {
          return uses_backend(vm) ? backend_inspect(vm) : inspect_object(vm);
        }}},
      {"bench",
       {"run a program many times and print ns/run",
        [](po::options_description& d) {
          add_input_options(d);
          add_backend_option(d);
          d.add_options()("repeat", po::value<uint64_t>()->default_value(100000), "number of runs")
              ("reuse-context", "ELF/--type: build the context once and time the runs as one batch, as "
                                "BPF_PROG_TEST_RUN does (runs see earlier runs' packet writes)");
        },
        cmd_bench}},
      {"jit-dump", {"JIT-compile a program and print its machine code", add_jit_dump_options, jit_dump_command}},
      {"asm",
       {"assemble into raw bytecode",
        [](po::options_description& d) {
          d.add_options()("output,o", po::value<std::string>(), "output file (- for stdout)");
        },
        cmd_asm}},
      {"disasm",
       {"disassemble a program",
        [](po::options_description& d) {
          d.add_options()("pc", "prefix each line with its slot index (the output then no longer assembles)")
              ("program", po::value<std::string>(), "ELF: only this program");
        },
        cmd_disasm}},
  };
  return cmds;
}

po::options_description options_for(const std::string& name, const Command& c) {
  po::options_description d(
      fmt::format("bpfvm {} PROGRAM{}: {}\nOptions", name, c.many_files ? "..." : "", c.summary));
  d.add_options()("help,h", "show this help");
  c.options(d);
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    if (name == "help" && argc > 2) {
      auto it = commands().find(argv[2]);
      if (it == commands().end()) {
        fmt::print(stderr, "bpfvm: unknown command '{}'\n", argv[2]);
        return kExitUsage;
      }
      std::cout << options_for(it->first, it->second);
      return kExitOk;
    }
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (name == "--version" || name == "version") {
    fmt::print("bpfvm 0.1.0\n");
    return kExitOk;
  }
  auto it = commands().find(name);
  if (it == commands().end()) {
    fmt::print(stderr, "bpfvm: unknown command '{}'\n\n{}", name, kUsage);
    return kExitUsage;
  }
  po::options_description desc = options_for(it->first, it->second);
  po::options_description hidden;
  if (it->second.many_files)
    hidden.add_options()("file", po::value<std::vector<std::string>>(), "program files");
  else
    hidden.add_options()("file", po::value<std::string>(), "program file");
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("file", it->second.many_files ? -1 : 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc - 1, argv + 1).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    fmt::print(stderr, "bpfvm {}: {}\n(see bpfvm {} --help)\n", name, e.what(), name);
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return kExitOk;
  }
  if (!vm.count("file") && !vm.count("policies")) {
    fmt::print(stderr, "bpfvm {}: missing PROGRAM\n(see bpfvm {} --help)\n", name, name);
    return kExitUsage;
  }
  try {
    return it->second.run(vm);
  } catch (const std::exception& e) {
    // Nothing below throws by design; this is the last line of defence for a clear message.
    fmt::print(stderr, "bpfvm {}: internal error: {}\n", name, e.what());
    return kExitUsage;
  }
}
