// The differential oracle: runs a generated program (tests/fuzz/diff_gen.h) on the reference, the
// checked interpreter, and on every engine under test, and compares what each run leaves: r0, the
// whole input memory (which holds the copies of the stack frames, see diff_gen.h) and, for programs
// that fault, the error code and pc (the pc is not compared for kBudgetExhausted: an engine may
// meter its budget per block). Unchecked engines only run programs on which the reference did not
// fault. All runs of one program use the same input buffer (restored before each run), so that
// the pointer values some programs store are equal too, and a fresh deterministic environment
// (the same prandom and clock sequence). Checked engines must also count the same number of
// executed instructions as the reference on programs that do not fault.
//
// Mismatches are written as reproducer files in the conformance .data format (comments naming the
// engines and the difference, `-- asm` with the disassembly, `-- mem`, and `-- result` or
// `-- error` from the reference), which `bpfvm run`, the conformance plugin and
// parse_diff_reproducer read back.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/diff_gen.h"
#include "vm/decode.h"
#include "vm/interp.h"
#include "vm/result.h"

namespace bpfvm::fuzz {

// A program compiled by one engine, run many times.
class EngineProgram {
 public:
  virtual ~EngineProgram() = default;
  // `stats`: checked engines count the executed instructions.
  virtual Result<uint64_t> run(const RunInput& input, Environment& env, RunStats* stats) const = 0;
};

// One way of running programs.
struct Engine {
  std::string name;
  // Bounds checks and an instruction budget: also runs programs that fault.
  bool checked = false;
  std::function<Result<std::unique_ptr<EngineProgram>>(const Program&, const HelperTable*)> compile;
};

// The interpreter; checked runs use `budget`.
Engine interpreter_engine(bool checked, uint64_t budget);
// The engines the fuzzer compares with the reference: the JIT unchecked with and without constant
// blinding and the JIT checked (diff_engines.cpp).
std::vector<Engine> engines_under_test(uint64_t budget);
// The checked JIT alone (it runs any program, verified or not).
Engine checked_jit_engine(uint64_t budget);

struct DiffOptions {
  uint64_t budget = 2'000'000;  // checked runs: instructions (generated programs run far fewer)
  // For arbitrary (not generated) programs: run the reference a second time with another stack
  // address and other function tokens, and compare nothing when the two runs differ (the program
  // computes with addresses, which differ between engines by design).
  bool skip_address_dependent = false;
};

struct Mismatch {
  std::string engine;
  std::string what;  // "compile", "fault", "r0", "memory", "insns" (executed instructions, checked)
  std::string expected, actual;
};

struct DiffOutcome {
  bool assembled = false;  // false: the text does not assemble (a generator bug)
  std::string assemble_error;
  std::optional<Error> ref_fault;  // the reference's fault
  uint64_t ref_r0 = 0;
  uint32_t engine_runs = 0;        // runs of engines under test made
  bool address_dependent = false;  // DiffOptions::skip_address_dependent found the result varies
  std::vector<Mismatch> mismatches;
};

class DiffOracle {
 public:
  DiffOracle(std::vector<Engine> engines, const DiffOptions& opts = {});
  ~DiffOracle();
  DiffOutcome check(const DiffProgram& p) const;
  // Only the engine named `engine` (for minimising one mismatch).
  DiffOutcome check_engine(const DiffProgram& p, const std::string& engine) const;
  // A program already decoded (p.asm_text is not used; p.mem and p.seed are).
  DiffOutcome check_program(const Program& prog, const DiffProgram& p) const;
  const std::vector<Engine>& engines() const { return engines_; }

 private:
  DiffOutcome run(const DiffProgram& p, const std::string* only) const;
  DiffOutcome run_program(const Program& prog, const DiffProgram& p, const std::string* only) const;
  std::vector<Engine> engines_;
  DiffOptions opts_;
  Engine reference_;
};

// Reproducer file (.data format) of a program and its outcome.
std::string diff_reproducer_text(const DiffProgram& p, const DiffOutcome& o);
// Reads a reproducer (or any .data file with `-- asm` and `-- mem`) back; kBadInput when malformed.
Result<DiffProgram> parse_diff_reproducer(std::string_view text);

// Removes instructions of `p` one at a time while `engine` still disagrees with the reference in
// the same way (same kind of mismatch, same reference fault code): a smaller reproducer.
DiffProgram minimise(const DiffOracle& oracle, const DiffProgram& p, const Mismatch& m);

}  // namespace bpfvm::fuzz
