// bpfvm_jit_fuzz: an open-ended differential campaign (scripts/jit_fuzz.sh). Generates valid
// programs (tests/fuzz/diff_gen.h) from consecutive seeds, runs each on the checked interpreter and
// on the engines under test (tests/fuzz/diff_oracle.h), and writes every mismatch, minimised, as a
// reproducer file (.data format) into the output directory.
//
// Usage: bpfvm_jit_fuzz [--seconds N] [--count N] [--start SEED] [--out DIR] [--no-minimise]
//        bpfvm_jit_fuzz --replay FILE   (run a reproducer on every engine, print the differences)
//        bpfvm_jit_fuzz --print SEED    (print the generated program of SEED)
//        bpfvm_jit_fuzz --save SEED [--save SEED...] --out DIR   (write programs as .data files)
// Exit status: 0 no mismatch, 1 mismatches, 2 usage or unreadable input.
#include <fmt/format.h>

#include <malloc.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/diff_gen.h"
#include "tests/fuzz/diff_oracle.h"
#include "tests/fuzz/gen_util.h"

using namespace bpfvm;
using namespace bpfvm::fuzz;

namespace {

void print_mismatches(const DiffOutcome& o) {
  for (const Mismatch& m : o.mismatches)
    fmt::print("  {} {}: expected {}, got {}\n", m.engine, m.what, m.expected, m.actual);
}

int replay(const DiffOracle& oracle, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    fmt::print(stderr, "cannot read {}\n", path);
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto p = parse_diff_reproducer(ss.str());
  if (!p) {
    fmt::print(stderr, "{}: {}\n", path, p.error().to_string());
    return 2;
  }
  const DiffOutcome o = oracle.check(*p);
  if (!o.assembled) {
    fmt::print(stderr, "{}: {}\n", path, o.assemble_error);
    return 2;
  }
  if (o.ref_fault)
    fmt::print("reference: {}\n", o.ref_fault->to_string());
  else
    fmt::print("reference: r0 = {:#x}\n", o.ref_r0);
  print_mismatches(o);
  fmt::print("{} mismatches\n", o.mismatches.size());
  return o.mismatches.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CampaignArgs args;
  args.out = "jit-fuzz-findings";
  const double& seconds = args.seconds;
  const uint64_t &count = args.count, &start = args.start;
  const std::string &out = args.out, &replay_file = args.replay;
  bool minimise_findings = true;
  std::vector<uint64_t> save_seeds;  // --save: write these programs as .data files into --out
  for (int i = 1; i < argc; ++i) {
    if (parse_campaign_arg(argc, argv, i, args)) continue;
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--print") {
      const DiffProgram p = generate_diff_program(std::strtoull(next(), nullptr, 10));
      fmt::print("{}", p.asm_text);
      return 0;
    } else if (a == "--save") {
      save_seeds.push_back(std::strtoull(next(), nullptr, 10));
    } else if (a == "--no-minimise")
      minimise_findings = false;
    else {
      fmt::print(
          stderr,
          "usage: bpfvm_jit_fuzz [--seconds N] [--count N] [--start SEED] [--out DIR] [--no-minimise]\n"
          "       bpfvm_jit_fuzz --replay FILE | --print SEED | --save SEED... [--out DIR]\n");
      return 2;
    }
  }
  // Keep freed heap memory instead of trimming it at every compile: each trim is a TLB flush,
  // which costs more than compiling in a virtual machine.
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  DiffOracle oracle(engines_under_test(DiffOptions{}.budget));
  if (!replay_file.empty()) return replay(oracle, replay_file);
  if (!save_seeds.empty()) {
    std::filesystem::create_directories(out);
    for (uint64_t seed : save_seeds) {
      const DiffProgram p = generate_diff_program(seed);
      const DiffOutcome o = oracle.check(p);
      const std::string path = fmt::format("{}/seed-{}.data", out, seed);
      std::ofstream(path) << diff_reproducer_text(p, o);
      fmt::print("{}: {} mismatches\n", path, o.mismatches.size());
    }
    return 0;
  }

  std::string engines;
  for (const Engine& e : oracle.engines())
    engines += " " + e.name;
  fmt::print("== reference interp-checked, engines under test:{}\n", engines);
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  uint64_t programs = 0, faulting = 0, runs = 0, mismatched = 0, bad = 0;
  double last_report = 0;
  for (uint64_t seed = start; programs < count && elapsed() < seconds; ++seed) {
    const DiffProgram p = generate_diff_program(seed);
    const DiffOutcome o = oracle.check(p);
    ++programs;
    if (!o.assembled || (o.ref_fault && !p.may_fault)) {
      // A generator bug: the program should assemble and run without fault.
      ++bad;
      fmt::print("seed {}: invalid generated program: {}\n", seed,
                 o.assembled ? o.ref_fault->to_string() : o.assemble_error);
      continue;
    }
    faulting += o.ref_fault.has_value();
    runs += o.engine_runs;
    if (o.mismatches.empty()) {
      if (elapsed() - last_report >= 60) {
        last_report = elapsed();
        fmt::print("  {:.0f}s: {} programs ({:.0f}/s), {} mismatches\n", last_report, programs,
                   programs / last_report, mismatched);
        std::fflush(stdout);
      }
      continue;
    }
    ++mismatched;
    DiffProgram small = minimise_findings ? minimise(oracle, p, o.mismatches[0]) : p;
    DiffOutcome so = oracle.check(small);
    if (so.mismatches.empty()) small = p, so = o;
    std::filesystem::create_directories(out);
    const std::string path = fmt::format("{}/seed-{}.data", out, seed);
    std::ofstream(path) << diff_reproducer_text(small, so);
    fmt::print("MISMATCH seed {} -> {}\n", seed, path);
    print_mismatches(so);
    std::fflush(stdout);
  }
  const double t = elapsed();
  // CPU time too: on a shared machine the wall-clock rate says more about the neighbours.
  const double cpu = static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
  fmt::print(
      "{} programs in {:.1f}s: {:.0f} programs/s ({:.0f} per CPU second), {} engine runs, {} faulting "
      "(compared in checked mode), {} mismatches, {} invalid generated programs\n",
      programs, t, programs / t, programs / cpu, runs, faulting, mismatched, bad);
  return mismatched == 0 && bad == 0 ? 0 : 1;
}
