// The jit_vs_interp fuzz target (tests/fuzz/targets.h): arbitrary bytes as a program, run on the
// checked JIT and the checked interpreter, which must agree.
#include <cstdio>
#include <cstdlib>

#include "jit/jit.h"
#include "tests/fuzz/diff_oracle.h"
#include "tests/fuzz/targets.h"

namespace bpfvm::fuzz {

void jit_vs_interp(const uint8_t* data, size_t size) {
  constexpr uint64_t kBudget = 10'000;
  // Arbitrary programs may compute with addresses (r10, function tokens), which differ between
  // engines by design: those are not compared.
  static const DiffOracle oracle({checked_jit_engine(kBudget)},
                                 DiffOptions{.budget = kBudget, .skip_address_dependent = true});
  auto p = decode(std::span<const uint8_t>(data, size), DecodeOptions{.max_insns = 4096});
  if (!p) return;
  DiffProgram dp;
  dp.mem.resize(64);
  for (size_t i = 0; i < dp.mem.size(); ++i)
    dp.mem[i] = static_cast<uint8_t>(i * 37 + 11);
  const DiffOutcome o = oracle.check_program(*p, dp);
  if (!o.assembled) return;  // the interpreter refuses it (e.g. unsupported instructions)
  if (o.mismatches.empty()) return;
  for (const Mismatch& m : o.mismatches)
    std::fprintf(stderr, "jit_vs_interp: %s %s: expected %s, got %s\n", m.engine.c_str(), m.what.c_str(),
                 m.expected.c_str(), m.actual.c_str());
  std::abort();
}

}  // namespace bpfvm::fuzz
