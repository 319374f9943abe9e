// Assembler: text in the syntax of the eBPF conformance suite (plus the extensions documented in
// docs/ASSEMBLY.md) to a linked Program. Mnemonics come from the opcode table (vm/opcodes.def); the
// result goes through decode() (field checks, then link()) so the decoder's structural checks apply
// to assembled code too.
//
// Errors: ErrorCode::kAsmSyntax with Error::pc = the 1-based source line and a message naming the
// offending token ("unknown mnemonic 'ad'"), or the linker's error (its code and slot pc, with the
// source line at the start of the message).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vm/decode.h"
#include "vm/result.h"

namespace bpfvm {

// An lddw that names a map symbolically (`map(NAME)` or `map_value(NAME)+off`). The instruction is
// emitted with imm 0 (the offset, if any, in the high half); a loader patches in the map's fd.
struct MapRef {
  uint32_t insn_index;  // index into AsmOutput::program.insns
  std::string name;
};

struct AsmOutput {
  Program program;
  std::vector<MapRef> map_refs;
};

struct AsmOptions {
  // Link with DecodeOptions::allow_unsupported (may_goto, addr_space_cast) instead of failing with
  // the decoder's kUnsupported error.
  bool allow_unsupported = false;
  size_t max_insns = DecodeOptions{}.max_insns;
};

Result<AsmOutput> assemble(std::string_view text, const AsmOptions& opts = {});

// Name of the lddw pseudo source `src` as written in assembly ("map_fd", "map_value", "btf_id",
// "func", "map_idx", "map_idx_value"), or "" for 0 (plain 64-bit immediate) and unknown values.
std::string_view lddw_pseudo_name(uint8_t src);

}  // namespace bpfvm
