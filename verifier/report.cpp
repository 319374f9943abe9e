#include "verifier/report.h"

#include <fmt/format.h>

namespace bpfvm::verifier {

namespace {
struct KindInfo {
  const char* name;
  const char* hint;
};
constexpr KindInfo kKinds[] = {
#define BPFVM_X(name, hint) {#name, hint},
    BPFVM_VERIFIER_ERRORS(BPFVM_X)
#undef BPFVM_X
};
}  // namespace

const char* error_kind_name(ErrorKind k) {
  return kKinds[static_cast<size_t>(k)].name;
}
const char* error_kind_hint(ErrorKind k) {
  return kKinds[static_cast<size_t>(k)].hint;
}

std::optional<ErrorKind> error_kind_from_name(std::string_view name) {
  for (size_t i = 0; i < std::size(kKinds); ++i)
    if (name == kKinds[i].name) return static_cast<ErrorKind>(i);
  return std::nullopt;
}

std::string Diagnostic::to_string() const {
  std::string s = fmt::format("pc {}: {}: {}", pc, error_kind_name(kind), message);
  if (!insn.empty() || !regs.empty()) s += fmt::format(" ({}{}{})", insn, regs.empty() ? "" : "; ", regs);
  if (!path.empty()) s += fmt::format(" [path: {}]", path);
  if (!hint.empty()) s += fmt::format(" hint: {}", hint);
  return s;
}

}  // namespace bpfvm::verifier
