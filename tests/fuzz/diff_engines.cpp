// The engines the differential fuzzer compares with the checked interpreter. Until the JIT lands,
// the unchecked interpreter stands in (a valid comparison too: both modes must agree).
#include "tests/fuzz/diff_oracle.h"

namespace bpfvm::fuzz {

std::vector<Engine> engines_under_test(uint64_t budget) {
  return {interpreter_engine(false, budget)};
}

}  // namespace bpfvm::fuzz
