#include "jit/jit.h"

namespace bpfvm::jit {

struct JitProgram::Impl {
  JitOptions opts;
};

bool jit_supported() { return false; }

JitProgram::JitProgram(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JitProgram::~JitProgram() = default;

Result<std::unique_ptr<JitProgram>> JitProgram::compile(const Program&, const HelperTable*, const JitOptions&) {
  return make_error(ErrorCode::kUnsupported, kNoPc, "the JIT is not implemented yet");
}
Result<uint64_t> JitProgram::run(const RunInput&, Environment&, RunStats*) const {
  return make_error(ErrorCode::kUnsupported, kNoPc, "the JIT is not implemented yet");
}
Result<uint64_t> JitProgram::run(std::span<uint8_t>, Environment&, RunStats*) const {
  return make_error(ErrorCode::kUnsupported, kNoPc, "the JIT is not implemented yet");
}
std::span<const uint8_t> JitProgram::code() const { return {}; }
std::string JitProgram::disassembly() const { return {}; }
const JitOptions& JitProgram::options() const { return impl_->opts; }
bool JitProgram::checked() const { return impl_->opts.checked; }

}  // namespace bpfvm::jit
