#include "vm/result.h"

#include <fmt/format.h>

namespace bpfvm {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kIo: return "io";
    case ErrorCode::kBadInput: return "bad-input";
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kEmptyProgram: return "empty-program";
    case ErrorCode::kProgramTooLarge: return "program-too-large";
    case ErrorCode::kUnknownOpcode: return "unknown-opcode";
    case ErrorCode::kReservedField: return "reserved-field";
    case ErrorCode::kBadRegister: return "bad-register";
    case ErrorCode::kWriteToR10: return "write-to-r10";
    case ErrorCode::kLddwIncomplete: return "lddw-incomplete";
    case ErrorCode::kJumpOutOfRange: return "jump-out-of-range";
    case ErrorCode::kJumpIntoLddw: return "jump-into-lddw";
    case ErrorCode::kFallsOffEnd: return "falls-off-end";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kAsmSyntax: return "asm-syntax";
    case ErrorCode::kOutOfBounds: return "out-of-bounds";
    case ErrorCode::kCallDepth: return "call-depth";
    case ErrorCode::kBudgetExhausted: return "budget-exhausted";
    case ErrorCode::kUnknownHelper: return "unknown-helper";
    case ErrorCode::kBadCallTarget: return "bad-call-target";
    case ErrorCode::kHelperFault: return "helper-fault";
    case ErrorCode::kElf: return "elf";
    case ErrorCode::kVerifier: return "verifier";
    case ErrorCode::kJit: return "jit";
    case ErrorCode::kInternal: return "internal";
  }
  return "?";
}

std::string Error::to_string() const {
  if (pc == kNoPc) return msg;
  if (code == ErrorCode::kAsmSyntax) return fmt::format("line {}: {}", pc, msg);
  return fmt::format("at PC {}: {}", pc, msg);
}

}  // namespace bpfvm
