#include "vm/runtime/vm.h"

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
  InterpExecutable(std::unique_ptr<Interpreter> interp, Environment* env, RunOptions ro)
      : interp_(std::move(interp)), env_(env), ro_(ro) {}
  Result<uint64_t> run(std::span<uint8_t> mem, RunStats* stats) override {
    RunInput in;
    in.args[0] = reinterpret_cast<uint64_t>(mem.data());
    in.args[1] = mem.size();
    if (!mem.empty()) in.regions.push_back(MemRegion{in.args[0], mem.size(), true, "input"});
    return interp_->run(in, ro_, *env_, stats);
  }

 private:
  std::unique_ptr<Interpreter> interp_;
  Environment* env_;
  RunOptions ro_;
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

}  // namespace bpfvm
