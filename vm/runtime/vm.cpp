#include "vm/runtime/vm.h"

#include <optional>

#include <fmt/format.h>

#include "helpers/core_helpers.h"
#include "helpers/environment.h"

namespace bpfvm {

const char* engine_name(Engine e) {
  switch (e) {
    case Engine::Interp: return "interp";
  }
  return "?";
}

Result<Engine> parse_engine(std::string_view name) {
  if (name == "interp") return Engine::Interp;
  return Error{ErrorCode::kBadInput, kNoPc, fmt::format("unknown engine '{}' (engines: interp)", name)};
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

}  // namespace

Result<std::unique_ptr<Executable>> Vm::prepare(const Program& program, const ExecOptions& opts) {
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
