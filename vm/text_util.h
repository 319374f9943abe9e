// Small text helpers shared by the assembler and the .data parser.
#pragma once

#include <string_view>

namespace bpfvm::text {

// Horizontal white space and carriage returns (newlines separate lines and are handled by callers).
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

}  // namespace bpfvm::text
