// The engines the differential fuzzer compares with the checked interpreter: the JIT unchecked with
// and without constant blinding (the programs are valid by construction, hence `verified`) and the
// JIT checked. On hosts without JIT support the unchecked interpreter stands in (a valid comparison
// too: both interpreter modes must agree).
#include "jit/jit.h"
#include "tests/fuzz/diff_oracle.h"

namespace bpfvm::fuzz {
namespace {

class JitEngineProgram : public EngineProgram {
 public:
  explicit JitEngineProgram(std::unique_ptr<jit::JitProgram> p) : p_(std::move(p)) {}
  Result<uint64_t> run(const RunInput& input, Environment& env, RunStats* stats) const override {
    return p_->run(input, env, stats);
  }

 private:
  std::unique_ptr<jit::JitProgram> p_;
};

Engine jit_engine(std::string name, const jit::JitOptions& opts) {
  Engine e;
  e.name = std::move(name);
  e.checked = opts.checked;
  e.compile = [opts](const Program& prog, const HelperTable* h) -> Result<std::unique_ptr<EngineProgram>> {
    auto p = jit::JitProgram::compile(prog, h, opts);
    if (!p) return p.error();
    return std::unique_ptr<EngineProgram>(std::make_unique<JitEngineProgram>(std::move(*p)));
  };
  return e;
}

}  // namespace

Engine checked_jit_engine(uint64_t budget) {
  jit::JitOptions checked;
  checked.checked = true;
  checked.budget = budget;
  return jit_engine("jit-checked", checked);
}

namespace {

std::vector<Engine> jit_engines(uint64_t budget) {
  jit::JitOptions blinded;
  blinded.verified = true;
  jit::JitOptions plain = blinded;
  plain.blinding = false;
  return {jit_engine("jit-unchecked-blinded", blinded), jit_engine("jit-unchecked", plain),
          checked_jit_engine(budget)};
}

}  // namespace

std::vector<Engine> engines_under_test(uint64_t budget) {
  if (!jit::jit_supported()) return {interpreter_engine(false, budget)};  // not x86-64 Linux
  return jit_engines(budget);
}

}  // namespace bpfvm::fuzz
