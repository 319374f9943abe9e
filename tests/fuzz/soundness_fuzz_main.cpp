// bpfvm_soundness_fuzz: an open-ended verifier soundness campaign (scripts/soundness.sh). Generates
// programs (tests/fuzz/program_gen.h) from consecutive seeds, checks each with the soundness oracle
// (tests/fuzz/soundness_oracle.h) and writes every finding as a reproducer file.
//
// Usage: bpfvm_soundness_fuzz [--seconds N] [--count N] [--start SEED] [--out DIR] [--runs N]
//        bpfvm_soundness_fuzz --replay FILE   (verify a reproducer, run it on 200 inputs)
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "tests/fuzz/gen_util.h"
#include "tests/fuzz/program_gen.h"
#include "tests/fuzz/soundness_oracle.h"

using namespace bpfvm;
using namespace bpfvm::fuzz;

int main(int argc, char** argv) {
  CampaignArgs args;  // --replay: a reproducer file; verify it and run it on 200 inputs
  args.out = "soundness-findings";
  const double& seconds = args.seconds;
  const uint64_t &count = args.count, &start = args.start;
  const std::string &out = args.out, &replay = args.replay;
  OracleOptions oo;
  for (int i = 1; i < argc; ++i) {
    if (parse_campaign_arg(argc, argv, i, args)) continue;
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--runs")
      oo.runs = static_cast<uint32_t>(std::atoi(next()));
    else {
      fmt::print(
          stderr,
          "usage: bpfvm_soundness_fuzz [--seconds N] [--count N] [--start SEED] [--out DIR] [--runs N]\n");
      return 2;
    }
  }
  auto oracle = SoundnessOracle::create(oo);
  if (!oracle) {
    fmt::print(stderr, "{}\n", oracle.error().to_string());
    return 1;
  }
  if (!replay.empty()) {
    std::ifstream in(replay);
    std::stringstream ss;
    ss << in.rdbuf();
    uint64_t input_seed = 0;
    auto p = parse_reproducer(ss.str(), &input_seed);
    if (!p) {
      fmt::print(stderr, "{}: {}\n", replay, p.error().to_string());
      return 2;
    }
    int faults = 0;
    for (uint64_t s = 0; s < 200; ++s) {
      OracleOutcome o = (*oracle)->check_one(*p, s == 0 ? input_seed : s);
      if (!o.assembled) {
        fmt::print("does not assemble: {}\n", o.assemble_error);
        return 2;
      }
      if (!o.accepted) {
        fmt::print("rejected: {}\n", o.reject_kind);
        return 0;
      }
      if (o.fault) {
        ++faults;
        if (faults == 1) fmt::print("FAULT (input {}): {}\n", s, o.fault->to_string());
      }
    }
    fmt::print("accepted; {} of 200 runs fault\n", faults);
    return faults ? 1 : 0;
  }
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto last = t0;
  uint64_t programs = 0, accepted = 0, faults = 0, bad_asm = 0, runs = 0, by_invariant = 0;
  std::map<std::string, uint64_t> rejects;
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  auto report = [&](const char* what) {
    const double s = elapsed();
    fmt::print(
        "{} {:.0f}s: {} programs ({:.0f}/s), accepted {:.1f}% ({} with a loop proven by an invariant), {} "
        "checked runs, {} faults, {} generator errors\n",
        what, s, programs, programs / (s > 0 ? s : 1), programs ? 100.0 * accepted / programs : 0.0,
        by_invariant, runs, faults, bad_asm);
    std::fflush(stdout);
  };
  for (uint64_t seed = start; programs < count && elapsed() < seconds; ++seed) {
    GeneratedProgram p = generate_program(seed);
    OracleOutcome o = (*oracle)->check(p, seed);
    ++programs;
    runs += o.runs;
    if (!o.assembled) {
      ++bad_asm;
      fmt::print(stderr, "seed {}: generated text does not assemble: {}\n", seed, o.assemble_error);
      continue;
    }
    if (!o.accepted) {
      ++rejects[o.reject_kind];
    } else {
      ++accepted;
      by_invariant += o.loops_proven > 0;
    }
    if (o.fault) {
      ++faults;
      std::filesystem::create_directories(out);
      const std::string path = fmt::format("{}/soundfuzz_{}.txt", out, seed);
      std::ofstream(path) << reproducer_text(p, o);
      fmt::print("FINDING seed {}: {} -> {}\n", seed, o.fault->to_string(), path);
    }
    if (Clock::now() - last > std::chrono::seconds(10)) {
      last = Clock::now();
      report("..");
    }
  }
  report("done");
  std::string kinds;
  for (const auto& [k, n] : rejects)
    kinds += fmt::format(" {}={}", k, n);
  fmt::print("rejections:{}\n", kinds);
  return faults == 0 && bad_asm == 0 ? 0 : 1;
}
