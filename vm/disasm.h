// Disassembler: typed instructions back to assembly text in the assembler's syntax (see
// docs/ASSEMBLY.md). Jumps and local calls are printed as relative slot offsets (+N/-N), so that
// assemble(disassemble(p)) encodes to the same bytes as p, for every program that decodes
// (including lddw pseudo sources and, with AsmOptions::allow_unsupported, may_goto and
// addr_space_cast).
#pragma once

#include <functional>
#include <string>

#include "vm/decode.h"
#include "vm/isa.h"

namespace bpfvm {

struct DisasmOptions {
  // Prefix each line with the instruction's slot index ("   4: "). Output with this prefix does not
  // assemble again.
  bool show_pc = false;
  // Optional annotation per instruction (map names, source lines, ...). A non-empty result is
  // appended as a comment: "  # <text>".
  std::function<std::string(const Insn&)> annotate;
};

// One instruction, without a trailing newline: "add %r1, 5", "jeq %r1, %r2, +3", "lddw %r1, map_fd(3)".
std::string disassemble_insn(const Insn& insn);
// The whole program, one line per instruction, each ending in '\n'.
std::string disassemble(const Program& program, const DisasmOptions& opts = {});

}  // namespace bpfvm
