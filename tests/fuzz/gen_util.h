// Pieces shared by the program generators of the fuzzers (program_gen.h: verifier soundness;
// diff_gen.h: engine differential testing): mnemonic tables and the distribution of immediates.
#pragma once

#include <climits>
#include <cstdint>
#include <random>

namespace bpfvm::fuzz {

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

}  // namespace bpfvm::fuzz
