#include "tools/cli_util.h"

#include <fmt/format.h>

namespace bpfvm::cli {

void print_error(const std::string& prog, const Error& e) {
  fmt::print(stderr, "{}: {} [{}]\n", prog, e.to_string(), error_code_name(e.code));
}

int exit_code_for(const Error& e) {
  switch (e.code) {
    case ErrorCode::kOutOfBounds:
    case ErrorCode::kCallDepth:
    case ErrorCode::kBudgetExhausted:
    case ErrorCode::kUnknownHelper:
    case ErrorCode::kBadCallTarget:
    case ErrorCode::kHelperFault:
    case ErrorCode::kVerifier:
      return kExitRejected;
    case ErrorCode::kUnsupported:
      // A decoded instruction that no engine runs is a rejection of the program, not bad input.
      return kExitRejected;
    default:
      return kExitUsage;
  }
}

int fail(const std::string& prog, const Error& e) {
  print_error(prog, e);
  return exit_code_for(e);
}

}  // namespace bpfvm::cli
