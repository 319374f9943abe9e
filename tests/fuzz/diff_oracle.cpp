#include "tests/fuzz/diff_oracle.h"

#include <fmt/format.h>

#include <cstring>
#include <sstream>

#include "helpers/environment.h"
#include "helpers/kernel_helpers.h"
#include "vm/asm.h"
#include "vm/data_file.h"
#include "vm/disasm.h"

namespace bpfvm::fuzz {
namespace {

const HelperTable& helpers() {
  static const HelperTable t = [] {
    HelperTable h;
    register_kernel_helpers(h);
    return h;
  }();
  return t;
}

class InterpProgram : public EngineProgram {
 public:
  InterpProgram(std::unique_ptr<Interpreter> interp, RunOptions ro) : interp_(std::move(interp)), ro_(ro) {}
  Result<uint64_t> run(const RunInput& input, Environment& env, RunStats* stats) const override {
    return interp_->run(input, ro_, env, stats);
  }

 private:
  std::unique_ptr<Interpreter> interp_;
  RunOptions ro_;
};

struct RunResult {
  Result<uint64_t> r0;
  std::vector<uint8_t> mem;
  RunStats stats;
};

RunResult run_once(const EngineProgram& prog, const DiffProgram& p, std::vector<uint8_t>& buf) {
  std::memcpy(buf.data(), p.mem.data(), p.mem.size());
  RunInput in;
  in.args[0] = reinterpret_cast<uint64_t>(buf.data());
  in.args[1] = buf.size();
  in.regions.push_back(MemRegion{reinterpret_cast<uint64_t>(buf.data()), buf.size(), true, "input"});
  EnvironmentOptions eo;
  eo.seed = p.seed;
  eo.trace_file = nullptr;
  DefaultEnvironment env(eo);
  RunStats stats;
  Result<uint64_t> r = prog.run(in, env, &stats);
  return RunResult{std::move(r), buf, stats};
}

// The same run from a deeper host stack (the interpreter's stack is a local array).
[[gnu::noinline]] RunResult run_deeper(const EngineProgram& prog,
                                       const DiffProgram& p,
                                       std::vector<uint8_t>& buf) {
  volatile uint8_t pad[4096 + 64];
  pad[0] = 0;
  RunResult r = run_once(prog, p, buf);
  pad[1] = pad[0];
  return r;
}

// More instructions than a basic block of a program of DecodeOptions::max_insns can hold is not
// needed: a block ends at every jump, so this bounds one block of any program the fuzzers run.
constexpr uint64_t kBlockSlack = 4096;

std::string fault_text(const Error& e) {
  return fmt::format("{} at pc {}", error_code_name(e.code), e.pc == kNoPc ? -1 : static_cast<int64_t>(e.pc));
}

// Where input offset `off` lies (diff_gen.h layout).
std::string place(const DiffProgram& p, size_t off) {
  if (off < p.data_size) return fmt::format("data+{}", off);
  const size_t s = off - p.data_size;
  if (s < kStackSize) return fmt::format("main frame r10{:+}", static_cast<int64_t>(s) - 512);
  return fmt::format("fn{} frame r10{:+}", 1 + (s - kStackSize) / 64,
                     static_cast<int64_t>((s - kStackSize) % 64) - 64);
}

std::string bytes_at(const std::vector<uint8_t>& m, size_t off) {
  std::string s;
  for (size_t i = off; i < m.size() && i < off + 8; ++i)
    s += fmt::format("{:02x} ", m[i]);
  if (!s.empty()) s.pop_back();
  return s;
}

std::string hex_lines(const std::vector<uint8_t>& m) {
  std::string s;
  for (size_t i = 0; i < m.size(); ++i)
    s += fmt::format("{:02x}{}", m[i], (i % 16 == 15 || i + 1 == m.size()) ? "\n" : " ");
  return s;
}

}  // namespace

Engine interpreter_engine(bool checked, uint64_t budget) {
  Engine e;
  e.name = checked ? "interp-checked" : "interp-unchecked";
  e.checked = checked;
  e.compile = [checked, budget](const Program& prog,
                                const HelperTable* h) -> Result<std::unique_ptr<EngineProgram>> {
    auto interp = Interpreter::create(prog, h);
    if (!interp) return interp.error();
    RunOptions ro;
    ro.checked = checked;
    ro.budget = budget;
    return std::unique_ptr<EngineProgram>(std::make_unique<InterpProgram>(std::move(*interp), ro));
  };
  return e;
}

DiffOracle::DiffOracle(std::vector<Engine> engines, const DiffOptions& opts)
    : engines_(std::move(engines)), opts_(opts), reference_(interpreter_engine(true, opts.budget)) {}

DiffOracle::~DiffOracle() = default;

DiffOutcome DiffOracle::check(const DiffProgram& p) const {
  return run(p, nullptr);
}

DiffOutcome DiffOracle::check_engine(const DiffProgram& p, const std::string& engine) const {
  return run(p, &engine);
}

DiffOutcome DiffOracle::run(const DiffProgram& p, const std::string* only) const {
  DiffOutcome o;
  auto a = assemble(p.asm_text);
  if (!a) {
    o.assemble_error = a.error().to_string();
    return o;
  }
  return run_program(a->program, p, only);
}

DiffOutcome DiffOracle::check_program(const Program& prog, const DiffProgram& p) const {
  return run_program(prog, p, nullptr);
}

DiffOutcome DiffOracle::run_program(const Program& prog,
                                    const DiffProgram& p,
                                    const std::string* only) const {
  DiffOutcome o;
  o.assembled = true;
  auto ref = reference_.compile(prog, &helpers());
  if (!ref) {
    o.assemble_error = "reference: " + ref.error().to_string();
    o.assembled = false;
    return o;
  }
  std::vector<uint8_t> buf(p.mem.size());
  const RunResult want = run_once(**ref, p, buf);
  if (!want.r0)
    o.ref_fault = want.r0.error();
  else
    o.ref_r0 = *want.r0;
  if (opts_.skip_address_dependent) {
    auto again = reference_.compile(prog, &helpers());  // other function tokens
    if (!again) return o;
    const RunResult other = run_deeper(**again, p, buf);  // another stack address
    if (other.mem != want.mem || other.r0.ok() != want.r0.ok() ||
        (want.r0 ? *other.r0 != *want.r0 : other.r0.error().code != want.r0.error().code)) {
      o.address_dependent = true;
      return o;
    }
  }
  // Compiled programs stay alive until the end, so that every engine's function tokens (host
  // addresses) differ from the reference's: a generator leaking one into the data shows up.
  std::vector<std::unique_ptr<EngineProgram>> alive;
  for (const Engine& e : engines_) {
    if (only != nullptr && e.name != *only) continue;
    if (o.ref_fault && !e.checked) continue;
    auto compiled = e.compile(prog, &helpers());
    if (!compiled) {
      o.mismatches.push_back(Mismatch{e.name, "compile", "compiles", compiled.error().to_string()});
      continue;
    }
    const RunResult got = run_once(**compiled, p, buf);
    alive.push_back(std::move(*compiled));
    ++o.engine_runs;
    if (o.ref_fault) {
      const Error& we = *o.ref_fault;
      if (got.r0) {
        o.mismatches.push_back(Mismatch{e.name, "fault", fault_text(we), fmt::format("r0 = {:#x}", *got.r0)});
        continue;
      }
      const Error& ge = got.r0.error();
      // The JIT meters the budget per block and faults at the start of the block in which it runs
      // out (jit/jit.cpp): a fault the reference reports inside that block becomes a budget fault.
      if (ge.code == ErrorCode::kBudgetExhausted && want.stats.insns_executed + kBlockSlack >= opts_.budget)
        continue;
      if (ge.code != we.code || (we.code != ErrorCode::kBudgetExhausted && ge.pc != we.pc)) {
        o.mismatches.push_back(Mismatch{e.name, "fault", fault_text(we), fault_text(ge) + ": " + ge.msg});
        continue;
      }
    } else if (!got.r0) {
      o.mismatches.push_back(Mismatch{e.name, "fault", fmt::format("r0 = {:#x}", o.ref_r0),
                                      fault_text(got.r0.error()) + ": " + got.r0.error().msg});
      continue;
    } else if (*got.r0 != o.ref_r0) {
      o.mismatches.push_back(
          Mismatch{e.name, "r0", fmt::format("{:#x}", o.ref_r0), fmt::format("{:#x}", *got.r0)});
    }
    if (!o.ref_fault && e.checked && got.stats.insns_executed != want.stats.insns_executed) {
      o.mismatches.push_back(Mismatch{e.name, "insns", std::to_string(want.stats.insns_executed),
                                      std::to_string(got.stats.insns_executed)});
    }
    if (got.mem != want.mem) {
      size_t i = 0;
      while (got.mem[i] == want.mem[i])
        ++i;
      o.mismatches.push_back(Mismatch{e.name, "memory",
                                      fmt::format("{}: {}", place(p, i), bytes_at(want.mem, i)),
                                      fmt::format("{}: {}", place(p, i), bytes_at(got.mem, i))});
    }
  }
  return o;
}

std::string diff_reproducer_text(const DiffProgram& p, const DiffOutcome& o) {
  std::string s =
      "# JIT differential fuzzer reproducer (tests/fuzz/diff_oracle.h): r1 = mem, r2 = its size\n";
  s += fmt::format("# seed {}, data_size {}\n", p.seed, p.data_size);
  for (const Mismatch& m : o.mismatches)
    s += fmt::format("# {} {}: expected {}, got {}\n", m.engine, m.what, m.expected, m.actual);
  s += "-- asm\n";
  auto a = assemble(p.asm_text);
  s += a ? disassemble(a->program) : p.asm_text;
  s += "-- mem\n";
  s += hex_lines(p.mem);
  if (o.ref_fault)
    s += fmt::format("-- error\n{}\n", fault_text(*o.ref_fault));
  else
    s += fmt::format("-- result\n{:#x}\n", o.ref_r0);
  return s;
}

Result<DiffProgram> parse_diff_reproducer(std::string_view text) {
  auto d = parse_data_file(text);
  if (!d) return d.error();
  if (d->asm_line == 0)
    return make_error(ErrorCode::kBadInput, kNoPc, "reproducer without an -- asm section");
  DiffProgram p;
  p.asm_text = d->asm_text;
  p.mem = d->mem;
  // The seed and data size are in the comments; the parser drops comments, so read them here.
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long seed = 0;
    unsigned data = 0;
    if (std::sscanf(line.c_str(), "# seed %llu, data_size %u", &seed, &data) == 2) {
      p.seed = seed;
      p.data_size = data;
    }
  }
  return p;
}

DiffProgram minimise(const DiffOracle& oracle, const DiffProgram& p, const Mismatch& m) {
  const DiffOutcome first = oracle.check_engine(p, m.engine);
  const auto same = [&](const DiffOutcome& o) {
    if (!o.assembled || o.ref_fault.has_value() != first.ref_fault.has_value()) return false;
    if (o.ref_fault && o.ref_fault->code != first.ref_fault->code) return false;
    for (const Mismatch& x : o.mismatches)
      if (x.what == m.what) return true;
    return false;
  };
  if (!same(first)) return p;
  // Works on the generator's text, whose jumps name labels (removing a line of a disassembly would
  // shift the relative jumps across it).
  std::vector<std::string> lines;
  {
    std::istringstream in(p.asm_text);
    std::string l;
    while (std::getline(in, l))
      lines.push_back(l);
  }
  DiffProgram best = p;
  bool progress = true;
  for (int pass = 0; pass < 4 && progress; ++pass) {
    progress = false;
    for (size_t i = lines.size(); i-- > 0;) {
      const std::string& l = lines[i];
      if (l.empty() || l.back() == ':' || l.find("exit") != std::string::npos) continue;
      std::vector<std::string> trial = lines;
      trial.erase(trial.begin() + static_cast<std::ptrdiff_t>(i));
      DiffProgram t = best;
      t.asm_text.clear();
      for (const std::string& x : trial)
        t.asm_text += x + "\n";
      if (same(oracle.check_engine(t, m.engine))) {
        lines = std::move(trial);
        best = std::move(t);
        progress = true;
      }
    }
  }
  return best;
}

}  // namespace bpfvm::fuzz
