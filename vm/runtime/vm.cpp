#include "vm/runtime/vm.h"

#include <optional>

#include <fmt/format.h>

#include "helpers/core_helpers.h"
#include "helpers/environment.h"

namespace bpfvm {

const char* engine_name(Engine e) {
  switch (e) {
    case Engine::Interp: return "interp";
    case Engine::Jit: return "jit";
  }
  return "?";
}

Result<Engine> parse_engine(std::string_view name) {
  if (name == "interp") return Engine::Interp;
  if (name == "jit") return Engine::Jit;
  return Error{ErrorCode::kBadInput, kNoPc, fmt::format("unknown engine '{}' (engines: interp, jit)", name)};
}

struct Vm::State {
  HelperTable helpers;
  std::unique_ptr<DefaultEnvironment> env;
};

Vm::Vm(const VmOptions& opts) : state_(std::make_unique<State>()) {
  register_core_helpers(state_->helpers);
  EnvironmentOptions eo;
  eo.seed = opts.seed;
  eo.trace_file = opts.trace_out;
  state_->env = std::make_unique<DefaultEnvironment>(eo);
}

Vm::~Vm() = default;

HelperTable& Vm::helpers() { return state_->helpers; }
Environment& Vm::environment() { return *state_->env; }

namespace {

class InterpExecutable : public Executable {
 public:
  // `unchecked_size`: runs with exactly this many bytes of memory use unchecked mode.
  InterpExecutable(std::unique_ptr<Interpreter> interp,
                   Environment* env,
                   RunOptions ro,
                   std::optional<size_t> unchecked_size = std::nullopt)
      : interp_(std::move(interp)), env_(env), ro_(ro), unchecked_size_(unchecked_size) {}
  Result<uint64_t> run(std::span<uint8_t> mem, RunStats* stats) override {
    RunInput in;
    in.args[0] = reinterpret_cast<uint64_t>(mem.data());
    in.args[1] = mem.size();
    if (!mem.empty()) in.regions.push_back(MemRegion{in.args[0], mem.size(), true, "input"});
    RunOptions ro = ro_;
    ro.checked = checked(mem.size());
    return interp_->run(in, ro, *env_, stats);
  }
  bool checked(size_t mem_size) const override {
    if (unchecked_size_) return *unchecked_size_ != mem_size;
    return ro_.checked;
  }

 private:
  std::unique_ptr<Interpreter> interp_;
  Environment* env_;
  RunOptions ro_;
  std::optional<size_t> unchecked_size_;
};

// JIT code: checked code for any memory size; unchecked code (verified programs only) for runs with
// exactly the verified memory size.
class JitExecutable : public Executable {
 public:
  JitExecutable(std::unique_ptr<jit::JitProgram> checked_code,
                std::unique_ptr<jit::JitProgram> unchecked_code,
                Environment* env,
                std::optional<size_t> unchecked_size)
      : checked_(std::move(checked_code)),
        unchecked_(std::move(unchecked_code)),
        env_(env),
        unchecked_size_(unchecked_size) {}
  Result<uint64_t> run(std::span<uint8_t> mem, RunStats* stats) override {
    const jit::JitProgram& code = checked(mem.size()) ? *checked_ : *unchecked_;
    return code.run(mem, *env_, stats);
  }
  bool checked(size_t mem_size) const override {
    if (!unchecked_) return true;
    return unchecked_size_ && *unchecked_size_ != mem_size;
  }

 private:
  std::unique_ptr<jit::JitProgram> checked_, unchecked_;
  Environment* env_;
  std::optional<size_t> unchecked_size_;
};

// Compiles `program` for the JIT in checked mode, and in unchecked mode when `verified`.
Result<std::unique_ptr<Executable>> prepare_jit(const Program& program,
                                                const HelperTable* helpers,
                                                Environment* env,
                                                const ExecOptions& opts,
                                                bool verified,
                                                std::optional<size_t> unchecked_size) {
  jit::JitOptions jo = opts.jit;
  jo.budget = opts.budget;
  jo.checked = true;
  jo.verified = verified;
  auto checked = jit::JitProgram::compile(program, helpers, jo);
  if (!checked) return checked.error();
  std::unique_ptr<jit::JitProgram> unchecked;
  if (verified) {
    jo.checked = false;
    auto u = jit::JitProgram::compile(program, helpers, jo);
    if (!u) return u.error();
    unchecked = std::move(*u);
  }
  return std::unique_ptr<Executable>(
      std::make_unique<JitExecutable>(std::move(*checked), std::move(unchecked), env, unchecked_size));
}

}  // namespace

Result<std::unique_ptr<Executable>> Vm::prepare(const Program& program, const ExecOptions& opts) {
  if (opts.engine == Engine::Jit) {
    if (!opts.checked)
      return Error{ErrorCode::kJit, kNoPc,
                   "unchecked JIT code needs a verified program (use verify_and_prepare, or checked mode)"};
    return prepare_jit(program, &state_->helpers, state_->env.get(), opts, false, std::nullopt);
  }
  auto interp = Interpreter::create(program, &state_->helpers);
  if (!interp) return interp.error();
  RunOptions ro;
  ro.checked = opts.checked;
  ro.budget = opts.budget;
  return std::unique_ptr<Executable>(
      std::make_unique<InterpExecutable>(std::move(*interp), state_->env.get(), ro));
}

Result<VerifiedExecutable> Vm::verify_and_prepare(const Program& program,
                                                  uint32_t mem_size,
                                                  const ExecOptions& opts,
                                                  const verifier::VerifyOptions& vopts) {
  verifier::VerifyOptions vo = vopts;
  vo.type = ProgType::Raw;
  vo.raw_ctx_size = mem_size;
  auto verdict = verifier::verify(program, vo);
  if (!verdict) return verdict.error();
  if (opts.engine == Engine::Jit) {
    auto exe = prepare_jit(program, &state_->helpers, state_->env.get(), opts, verdict->accepted,
                           verdict->accepted ? std::optional<size_t>(mem_size) : std::nullopt);
    if (!exe) return exe.error();
    VerifiedExecutable v;
    v.verdict = std::move(*verdict);
    v.exe = std::move(*exe);
    return v;
  }
  auto interp = Interpreter::create(program, &state_->helpers);
  if (!interp) return interp.error();
  RunOptions ro;
  ro.checked = true;
  ro.budget = opts.budget;
  std::optional<size_t> unchecked;
  if (verdict->accepted) unchecked = mem_size;
  VerifiedExecutable v;
  v.verdict = std::move(*verdict);
  v.exe = std::make_unique<InterpExecutable>(std::move(*interp), state_->env.get(), ro, unchecked);
  return v;
}

}  // namespace bpfvm
