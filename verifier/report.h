// Diagnostics of the verifier: one kind per check, the instruction, the register states involved
// (kernel style), the branches that led there, an explanation and a hint.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bpfvm::verifier {

// X(Name, "hint for the common fix")
#define BPFVM_VERIFIER_ERRORS(X)                                                                            \
  X(UninitRegister, "write the register before reading it; helper calls clobber r1-r5")                     \
  X(UninitStack,                                                                                            \
    "initialize the stack bytes (e.g. memset or assign every field) before reading or passing them")        \
  X(OutOfBounds,                                                                                            \
    "check the offset against the region size (or the packet against data_end) before the access")          \
  X(NullDeref, "compare the pointer returned by the helper with 0 before using it")                         \
  X(InvalidMemAccess, "only dereference pointers: ctx, stack, map values, checked packet or helper memory") \
  X(BadPointerArithmetic,                                                                                   \
    "only add or subtract scalars to pointers (64-bit); compare pointers instead of combining them")        \
  X(PointerLeak, "do not store pointers into maps, packets or the context, nor return them")                \
  X(BadHelperArg, "pass the argument type the helper's prototype asks for")                                 \
  X(UnknownHelper, "use a helper the program type may call (helpers/proto.cpp lists them)")                 \
  X(BadReturnValue, "return a value the program type allows (e.g. XDP_PASS) with r0 initialized")           \
  X(UnreleasedResource,                                                                                     \
    "submit or discard every ringbuf reservation and unlock every spin lock on every path")                 \
  X(CallDepth, "reduce the nesting of bpf-to-bpf calls (at most 8 frames, no recursion)")                   \
  X(StackSize, "use less stack: at most 512 bytes over the whole call chain")                               \
  X(UnboundedLoop, "bound the loop with a constant limit the verifier can see")                             \
  X(TooComplex, "simplify the program: fewer paths or iterations, smaller loop bounds")                     \
  X(InvalidCtxAccess, "access only the fields of the context that the program type may read")               \
  X(WriteToReadOnly, "write only writable fields and maps")                                                 \
  X(InvalidMapRef, "load maps with lddw from the object's map table")                                       \
  X(Unsupported, "avoid the instruction or feature; the verifier does not model it yet")                    \
  X(Unreachable, "remove the dead code")

enum class ErrorKind : uint8_t {
#define BPFVM_X(name, hint) name,
  BPFVM_VERIFIER_ERRORS(BPFVM_X)
#undef BPFVM_X
};

const char* error_kind_name(ErrorKind k);
std::optional<ErrorKind> error_kind_from_name(std::string_view name);
const char* error_kind_hint(ErrorKind k);

struct Diagnostic {
  ErrorKind kind = ErrorKind::Unsupported;
  uint32_t pc = 0;      // slot index of the instruction
  std::string insn;     // its disassembly
  std::string regs;     // states of the registers involved: "R2=pkt(off=14,r=14) R1=scalar(umax=255)"
  std::string path;     // the last branches before it: "12:taken -> 20:fallthrough"
  std::string message;  // one sentence
  std::string hint;

  // "pc 12: OutOfBounds: <message> (ldxw %r0, [%r2+10]; R2=...) [path: ...] hint: ..."
  std::string to_string() const;
};

}  // namespace bpfvm::verifier
