// The JIT: translates a decoded program into x86-64 machine code (asmjit's assembler) that gives
// bit-identical results to the interpreter (vm/interp.h, the reference semantics).
//
// Safety properties (jit/jit.cpp says where each is achieved):
//  - W^X: code is assembled into a private buffer, copied into a read-write mapping and then
//    switched to read-execute; no writable alias of live code remains. With the JitProgram the
//    mapping becomes read-write again (no longer executable) and goes to a bounded pool that later
//    compiles reuse (jit/code_memory.h, vm/sealed.h). The run-time tables (callx targets, function
//    tokens) are read-only from compile() on.
//  - Constant blinding (on by default): every immediate the program supplies (ALU, jump and store
//    immediates, lddw imm64, helper numbers) is emitted as imm ^ key with a fresh random key per
//    instruction and restored through a register that no BPF register maps to (in loops once per
//    loop entry, jit/x86/hoist.cpp); constants with immediate-free encodings emit no immediate.
//  - Unverified programs only in checked mode: every load and store is checked against the same
//    regions as the checked interpreter and an instruction budget is metered. Unchecked code is
//    refused unless the caller asserts (JitOptions::verified) that a verifier accepted the program.
//  - Spectre hardening on request: retpolines for indirect calls and jumps (callx, tail calls), and
//    a speculation barrier (lfence) after bounds checks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "vm/decode.h"
#include "vm/helper_table.h"
#include "vm/interp.h"
#include "vm/map_lookup.h"
#include "vm/result.h"

namespace bpfvm::jit {

struct JitOptions {
  // Constant blinding with a fresh random key per immediate. `blinding_seed` makes the keys
  // reproducible (tests); without it they come from the operating system's random source.
  bool blinding = true;
  std::optional<uint64_t> blinding_seed;
  // Checked build: every load and store is bounds-checked against the run's regions (exactly the
  // regions of the checked interpreter: fixed regions, the live stack, RunInput::resolver on the
  // slow path) and the instruction budget is metered. Faults carry the checked interpreter's
  // ErrorCode and pc (see jit/jit.cpp for the one documented difference in budget faults).
  bool checked = false;
  // Meter the budget in unchecked code too (an embedder's guard against long nested bpf_loop runs).
  bool meter_budget = false;
  uint64_t budget = RunOptions{}.budget;
  // Spectre v2: indirect calls and jumps (callx to a function, tail calls) go through a retpoline.
  bool retpoline = false;
  // Spectre v1: a speculation barrier (lfence) after every bounds check the JIT emits (checked-mode
  // loads and stores, LD_ABS/LD_IND packet bounds).
  bool spec_barrier = false;
  // The caller asserts that a verifier accepted this program. Unchecked code (checked == false) is
  // refused with kJit otherwise.
  bool verified = false;
  // Keep the annotated disassembly (JitProgram::disassembly); costs compile time.
  bool disassembly = false;
  // Map lookups without the helper call (vm/map_lookup.h), in unchecked code only: a
  // `bpf_map_lookup_elem` whose r1 an lddw of the same basic block loaded, of a map that
  // `map_lookups` plans (inline for arrays, a direct call for hash maps). The runtime sets
  // `map_lookups` for its maps when `inline_map_lookups` is on; it must outlive the JitProgram.
  bool inline_map_lookups = true;
  const MapLookupPlanner* map_lookups = nullptr;
  // Fusions (jit/x86/fuse.cpp), in unchecked code without budget metering: mov + add as one lea,
  // mov + shift as one three-operand shift, and on register liveness a table or indexed load as
  // one addressing form, a commutative operation whose result a move copies back computed in place,
  // constants moved into the branch that reads them, dead constants and redundant shift masks
  // dropped.
  bool fuse = true;
};

// Whether this host can run JIT code (x86-64 Linux).
bool jit_supported();

// A compiled program: machine code in its own read-execute mapping, released in the destructor.
class JitProgram {
 public:
  // Compiles `program`. `helpers` must outlive the JitProgram (it may be null: then every helper
  // call faults with kUnknownHelper, as in the interpreter). Errors: kUnsupported (may_goto,
  // addr_space_cast, or a host without JIT support), kJit (unchecked code for an unverified program,
  // or an assembler failure), kEmptyProgram, kInternal (an unlinked program).
  static Result<std::unique_ptr<JitProgram>> compile(const Program& program,
                                                     const HelperTable* helpers,
                                                     const JitOptions& opts = {});
  ~JitProgram();
  JitProgram(const JitProgram&) = delete;
  JitProgram& operator=(const JitProgram&) = delete;

  // Runs the program with the semantics of Interpreter::run (in checked mode when compiled checked,
  // with JitOptions::budget). Thread-safe: each run has its own stack.
  Result<uint64_t> run(const RunInput& input, Environment& env, RunStats* stats = nullptr) const;
  // Conformance convention: r1 = mem, r2 = len, mem is one writable region.
  Result<uint64_t> run(std::span<uint8_t> mem, Environment& env, RunStats* stats = nullptr) const;

  // The machine code (read-only view of the executable mapping).
  std::span<const uint8_t> code() const;
  // The memory of the run-time tables (subprogram addresses for callx, function tokens, pcs),
  // read-only from compile() on.
  const void* tables() const;
  // asmjit's disassembly annotated with the BPF instruction each block came from; empty unless
  // compiled with JitOptions::disassembly.
  std::string disassembly() const;
  const JitOptions& options() const;
  bool checked() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit JitProgram(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bpfvm::jit
