// Errors as values. Every error carries a code, the program counter (slot index) or source line
// it refers to, and a human-readable message. Nothing in bpfvm's public headers throws.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace bpfvm {

enum class ErrorCode : uint16_t {
  // Input and I/O
  kIo,               // a file could not be read or written
  kBadInput,         // malformed input that is not bytecode (hex text, .data file)
  // Decoder (structural checks)
  kTruncated,        // byte length not a multiple of 8
  kEmptyProgram,
  kProgramTooLarge,  // more than DecodeOptions::max_insns instructions
  kUnknownOpcode,
  kReservedField,    // a field the instruction does not use is non-zero
  kBadRegister,      // register number above r10
  kWriteToR10,       // r10, the frame pointer, is read-only
  kLddwIncomplete,   // lddw without a valid second slot
  kJumpOutOfRange,   // jump or call target outside the program or its subprogram
  kJumpIntoLddw,     // jump or call target is the second slot of an lddw
  kFallsOffEnd,      // the last instruction of a (sub)program is not exit or ja
  kUnsupported,      // a valid instruction that bpfvm does not run (with the reason)
  // Assembler
  kAsmSyntax,        // line number in Error::pc is the 1-based source line
  // Run time (checked mode and helpers)
  kOutOfBounds,      // load or store outside every region the VM handed out
  kCallDepth,        // bpf-to-bpf call depth above the limit (stack overflow)
  kBudgetExhausted,  // the instruction budget ran out
  kUnknownHelper,    // call of a helper number the helper table does not have
  kBadCallTarget,    // callx of something that is neither a helper nor a function
  kHelperFault,      // a helper rejected its arguments
  // Later stages
  kElf,
  kVerifier,
  kJit,
  kInternal,
};

const char* error_code_name(ErrorCode code);

constexpr uint32_t kNoPc = UINT32_MAX;

struct Error {
  ErrorCode code;
  uint32_t pc = kNoPc;  // slot index of the instruction (or 1-based line for kAsmSyntax); kNoPc if none
  std::string msg;

  // "at PC 12: jump out of range (target 40, program has 20 slots)"
  std::string to_string() const;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                   // NOLINT(implicit)
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(implicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an error.
struct Ok {};
using Status = Result<Ok>;

inline Error make_error(ErrorCode code, uint32_t pc, std::string msg) {
  return Error{code, pc, std::move(msg)};
}

}  // namespace bpfvm

#define BPFVM_TRY(expr)                    \
  do {                                     \
    auto&& bpfvm_try_r_ = (expr);          \
    if (!bpfvm_try_r_) return bpfvm_try_r_.error(); \
  } while (0)
