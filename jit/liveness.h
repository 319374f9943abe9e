// Internal to jit/: which BPF registers are live (may still be read) after each instruction, for the
// code generator's fusions that leave a dead register's value unwritten (jit/x86/fuse.cpp).
//
// A backward dataflow analysis over the program's control flow, on verified programs (the JIT
// applies its results to unchecked code only). It is conservative where the ISA says less than the
// code does: every call reads r1-r5 (a helper's unused arguments included), an atomic kills nothing,
// a legacy packet load reads r6. Functions do not jump into each other: a local call falls through
// to the next instruction (it preserves r6-r9 and returns r0), and `exit` reads r0.
#pragma once

#include <cstdint>
#include <vector>

#include "vm/decode.h"

namespace bpfvm::jit::internal {

using RegSet = uint16_t;  // bit r: BPF register r

constexpr RegSet reg_set(int r) {
  return r >= 0 && r <= kFrameReg ? static_cast<RegSet>(1u << r) : 0;
}

// The registers an instruction reads, and those it always writes.
struct RegEffect {
  RegSet reads = 0;
  RegSet writes = 0;
};
RegEffect reg_effect(const Insn& in);
// A straight-line instruction (ALU, lddw, plain loads and stores): it falls through, and
// reg_effect() is exactly what it reads and writes.
bool plain_step(const Insn& in);

class Liveness {
 public:
  explicit Liveness(const Program& p);
  // Registers live after instruction k (on entry to any of its successors).
  RegSet after(size_t k) const { return out_[k]; }
  // Registers live before instruction k.
  RegSet before(size_t k) const;
  bool live_after(size_t k, int r) const { return (out_[k] & reg_set(r)) != 0; }

 private:
  const Program& p_;
  std::vector<RegSet> out_;
};

}  // namespace bpfvm::jit::internal
