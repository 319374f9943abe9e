// Pieces shared by the program generators of the fuzzers (program_gen.h: verifier soundness;
// diff_gen.h: engine differential testing): mnemonic tables and the distribution of immediates.
#pragma once

#include <fmt/format.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

namespace bpfvm::fuzz {

// Programs the fuzz tests run: 100,000 in regular builds, the first 20,000 of the same seeds under
// AddressSanitizer (BPFVM_SANITIZE), where everything runs about 10x slower.
#if defined(__SANITIZE_ADDRESS__)
#define BPFVM_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BPFVM_FUZZ_ASAN 1
#endif
#endif
#ifdef BPFVM_FUZZ_ASAN
inline constexpr uint64_t kFuzzTestPrograms = 20'000;
#else
inline constexpr uint64_t kFuzzTestPrograms = 100'000;
#endif

// The two-operand ALU mnemonics (without the 32 suffix), the byte swaps and the jump conditions.
inline constexpr const char* kAluOpNames[] = {"add", "sub", "mul", "div",  "sdiv", "or",  "and",
                                              "lsh", "rsh", "mod", "smod", "xor",  "mov", "arsh"};
inline constexpr const char* kSwapNames[] = {"le16", "le32",    "le64",    "be16",   "be32",
                                             "be64", "bswap16", "bswap32", "bswap64"};
inline constexpr const char* kCondNames[] = {"jeq",  "jne",  "jgt",  "jge",  "jlt", "jle",
                                             "jsgt", "jsge", "jslt", "jsle", "jset"};

// A 32-bit immediate biased towards the edge values: 0, 1, -1, INT32_MIN, INT32_MAX, small values
// (shift amounts, small divisors), powers of two, and random values for the rest.
inline int64_t interesting_imm(std::mt19937_64& rng) {
  auto rnd = [&rng](uint64_t n) { return rng() % n; };
  switch (rnd(8)) {
    case 0:
      return 0;
    case 1:
      return 1;
    case 2:
      return -1;
    case 3:
      return static_cast<int32_t>(rnd(2) ? INT32_MIN : INT32_MAX);
    case 4:
      return static_cast<int64_t>(rnd(64)) - 8;
    case 5:
      return static_cast<int64_t>(1) << rnd(31);
    default:
      return static_cast<int32_t>(static_cast<uint32_t>(rng()));
  }
}

// The conditional jump back to the head of a counting loop, in one of several forms. The counter
// register `c` (with the `w` width suffix, "" or "32") counted up from 0 or down from `bound` by
// `step` before the jump; every form ends the loop after at most bound / step + 1 iterations
// (bound >= step for the down forms). `off_by_one()`, asked only for the `jne` up form, makes that
// form miss its value (an unbounded loop, for dubious programs).
template <class OffByOne>
std::string loop_back_edge(std::mt19937_64& rng,
                           bool down,
                           const char* w,
                           const std::string& c,
                           int64_t bound,
                           int64_t step,
                           const std::string& head,
                           OffByOne off_by_one) {
  if (down) {
    switch (rng() % 3) {
      case 0:
        return fmt::format("jsgt{} {}, 0, {}", w, c, head);
      case 1:
        return fmt::format("jgt{} {}, {}, {}", w, c, step - 1, head);
      default:
        return fmt::format("jne{} {}, {}, {}", w, c, bound % step, head);
    }
  }
  switch (rng() % 4) {
    case 0:
      return fmt::format("jlt{} {}, {}, {}", w, c, bound, head);
    case 1:
      return fmt::format("jle{} {}, {}, {}", w, c, bound, head);
    case 2:
      return fmt::format("jslt{} {}, {}, {}", w, c, bound, head);
    default:
      return fmt::format("jne{} {}, {}, {}", w, c, (bound / step + 1) * step - (off_by_one() ? 1 : 0), head);
  }
}

// The options every fuzz campaign executable takes (bpfvm_soundness_fuzz, bpfvm_jit_fuzz).
struct CampaignArgs {
  double seconds = 60;
  uint64_t count = UINT64_MAX, start = 0;
  std::string out;     // where findings go
  std::string replay;  // a reproducer file to replay instead of a campaign
};

// Consumes argv[i] (and its value, advancing i) when it is a common campaign option; false for any
// other argument. A missing value ends the program with exit code 2.
inline bool parse_campaign_arg(int argc, char** argv, int& i, CampaignArgs& args) {
  const std::string a = argv[i];
  auto next = [&]() -> const char* {
    if (i + 1 >= argc) {
      fmt::print(stderr, "{} needs a value\n", a);
      std::exit(2);
    }
    return argv[++i];
  };
  if (a == "--seconds")
    args.seconds = std::atof(next());
  else if (a == "--count")
    args.count = std::strtoull(next(), nullptr, 10);
  else if (a == "--start")
    args.start = std::strtoull(next(), nullptr, 10);
  else if (a == "--out")
    args.out = next();
  else if (a == "--replay")
    args.replay = next();
  else
    return false;
  return true;
}

}  // namespace bpfvm::fuzz
