// Control-flow graph of a decoded program: basic blocks (numbered in instruction order), their
// successors inside their function, the functions (main program and subprograms), and for each
// function a weak topological order (Bourdoncle 1993) whose components' heads are the loop heads.
// Local calls do not end a block: the analysis enters the callee from the call instruction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vm/decode.h"
#include "vm/result.h"

namespace bpfvm::verifier {

struct BasicBlock {
  uint32_t first = 0, last = 0;  // instruction indexes, inclusive
  uint32_t func = 0;             // index into Cfg::funcs
  std::vector<uint32_t> succs;   // block ids
};

// One element of a flattened WTO: a block, or the head of a component spanning items
// (this, end) after it.
struct WtoItem {
  uint32_t block = 0;
  uint32_t end = 0;   // index past the component; == own index + 1 for a plain vertex
  bool head = false;  // true: a component (loop) head
};

struct Function {
  uint32_t entry = 0;  // instruction index
  uint32_t end = 0;    // one past the last instruction
  uint32_t first_block = 0, num_blocks = 0;
  std::vector<WtoItem> wto;           // reachable blocks only
  std::vector<uint32_t> unreachable;  // instruction indexes starting unreachable runs
};

struct Cfg {
  std::vector<BasicBlock> blocks;
  std::vector<Function> funcs;
  std::vector<uint32_t> block_of;  // instruction index -> block id

  uint32_t func_of_insn(uint32_t insn) const { return blocks[block_of[insn]].func; }
};

// Builds the CFG. Fails (kVerifier) only for graphs too deep to order (more than `max_blocks`
// blocks in one function).
Result<Cfg> build_cfg(const Program& program, uint32_t max_blocks = 20000);

}  // namespace bpfvm::verifier
