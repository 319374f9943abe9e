// The runtime API: what an embedder and the CLI use to run programs. It ties the low layer
// (decoder, interpreter) to the helpers library and, as they land, the verifier, JIT and maps.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <span>

#include "jit/jit.h"
#include "verifier/verifier.h"
#include "vm/decode.h"
#include "vm/helper_table.h"
#include "vm/interp.h"
#include "vm/result.h"

namespace bpfvm {

// The interpreter (vm/interp.h) or the x86-64 JIT (jit/jit.h).
enum class Engine { Interp, Jit };
const char* engine_name(Engine e);
// Parses "interp" and "jit"; kBadInput listing the engines otherwise.
Result<Engine> parse_engine(std::string_view name);

struct VmOptions {
  // Deterministic mode: seeded random numbers and a virtual clock, for reproducible runs.
  std::optional<uint64_t> seed;
  std::FILE* trace_out = stderr;  // where bpf_trace_printk output goes
};

struct ExecOptions {
  Engine engine = Engine::Interp;
  // Checked mode bounds-checks every memory access and meters instructions; it is required for
  // programs no verifier has accepted.
  bool checked = true;
  uint64_t budget = RunOptions{}.budget;
  // Engine::Jit: blinding, Spectre hardening, budget metering of unchecked code. Its `checked`,
  // `verified` and `budget` are set by the runtime: unchecked JIT code only for verified programs
  // (Vm::prepare with Engine::Jit and checked == false is refused with kJit).
  jit::JitOptions jit;
};

class Vm;

// A program prepared for repeated runs on one engine.
class Executable {
 public:
  virtual ~Executable() = default;
  // r1 = mem, r2 = mem.size(); mem is the one writable region besides the stack.
  virtual Result<uint64_t> run(std::span<uint8_t> mem, RunStats* stats = nullptr) = 0;
  // Whether a run with `mem_size` bytes of memory uses checked mode.
  virtual bool checked(size_t mem_size) const = 0;
};

// A program verified and prepared (Vm::verify_and_prepare).
struct VerifiedExecutable {
  verifier::VerifyResult verdict;
  // Accepted: unchecked mode for runs with exactly the verified memory size (checked mode for any
  // other size). Rejected: checked mode (ExecOptions::checked is ignored: it is always checked).
  std::unique_ptr<Executable> exe;
};

class Vm {
 public:
  explicit Vm(const VmOptions& opts = {});
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  // The kernel helpers bpfvm provides are registered; embedders add their own.
  HelperTable& helpers();
  Environment& environment();

  Result<std::unique_ptr<Executable>> prepare(const Program& program, const ExecOptions& opts);
  // Verifies `program` as ProgType::Raw with `mem_size` bytes of input memory (r1 = memory, r2 =
  // size; `vopts` gives budgets and the log, its type and raw_ctx_size are set here) and prepares
  // it: the execution mode follows the verdict (see VerifiedExecutable). Errors are those of
  // verify() (empty program) and prepare(); a rejection is a verdict, not an error.
  Result<VerifiedExecutable> verify_and_prepare(const Program& program,
                                                uint32_t mem_size,
                                                const ExecOptions& opts,
                                                const verifier::VerifyOptions& vopts = {});

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bpfvm
