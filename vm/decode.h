// Decoder: bytes in, typed instruction list out, with structural checks. It never crashes or hangs
// on any input; every error names the slot index and the reason.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vm/isa.h"
#include "vm/result.h"

namespace bpfvm {

struct DecodeOptions {
  // The kernel's limit for privileged programs is 1M instructions (BPF_COMPLEXITY_LIMIT_INSNS).
  size_t max_insns = 1'000'000;
  // Decode instructions that bpfvm cannot run (may_goto, addr_space_cast) instead of rejecting them
  // with kUnsupported. The disassembler uses this; engines do not.
  bool allow_unsupported = false;
};

struct Program {
  std::vector<Insn> insns;
  // Entry instruction indexes of the main program (0) and of every subprogram (targets of local
  // calls and of lddw func pseudo loads), sorted.
  std::vector<uint32_t> subprogs;
  uint32_t num_slots = 0;

  // Index of the instruction at `slot`, or -1 for the second slot of an lddw or out of range.
  int32_t index_of_slot(uint32_t slot) const;
};

// Finds the opcode row for a raw slot: by opcode byte, then by the row's selector field.
// Returns false when no row matches (unknown opcode or unknown selector value).
bool lookup_op(const RawInsn& raw, Op* op);

Result<Program> decode(std::span<const uint8_t> bytes, const DecodeOptions& opts = {});
// Builds a Program from typed instructions (pc and target are recomputed) and runs the same checks.
Result<Program> link(std::vector<Insn> insns, const DecodeOptions& opts = {});

// Encodes instructions back into little-endian bytes: encode(decode(b)) == b.
std::vector<uint8_t> encode(std::span<const Insn> insns);

}  // namespace bpfvm
