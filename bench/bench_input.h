// The input memory of the bench/programs/*.asm benchmarks: `n` pseudo-random bytes, the same in
// every benchmark executable so that their numbers compare.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bpfvm {

inline std::vector<uint8_t> bench_input(size_t n) {
  std::vector<uint8_t> v(n);
  uint32_t x = 12345;
  for (auto& b : v) {
    x = x * 1103515245 + 12345;
    b = static_cast<uint8_t>(x >> 16);
  }
  return v;
}

}  // namespace bpfvm
