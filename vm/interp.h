// The interpreter: the reference semantics of bpfvm (RFC 9669), and the fallback engine.
//
// Programs are pre-decoded once (Interpreter::create) into a form that dispatches without
// re-decoding. Two modes:
//  - checked: every load and store is bounds-checked against the regions the VM handed out (the
//    live stack frames, the input regions), executed instructions are capped by a budget, and every
//    fault ends the run with an Error naming the pc and the cause. Used for anything unverified.
//  - unchecked: no bounds checks and no budget, for programs a verifier has accepted.
// Both give bit-identical results on programs that do not fault.
//
// Conventions every engine follows (see vm/interp.cpp for the details): helper calls and LD_ABS/LD_IND
// leave r1-r5 zeroed; local calls restore r6-r9 and r10 and leave r1-r5 as the callee left them;
// lddw with the func pseudo source yields an opaque value that callx recognises; LD_ABS/LD_IND out of
// the packet end the program with r0 = 0 (no fault); the call depth is capped at kMaxCallDepth frames
// (kCallDepth) in both modes; the stack is zeroed at the start of every run.
//
// Memory besides the fixed regions and the stack (map values, ringbuf records) is vouched for by
// RunInput::resolver, asked on the slow path only (checked-mode loads and stores that miss the
// fixed regions and the live stack, HelperCall::translate/span_from).
// Callbacks (HelperCall::call_function) run on a new frame one level deeper, in the same run: same
// budget, same mode, same call-depth limit; a fault inside ends the run with that fault.
// Tail calls (HelperCall::request_tail_call, RunInput::tail_calls): after the helper returns, the
// target program starts on the current frame (r10 unchanged, its stack not cleared) with r1 as it
// was at the call and r0, r2-r9 zeroed; at most kMaxTailCalls per run; only at call depth 0 (from
// a subprogram or callback: kUnsupported fault). The target runs in the run's mode and budget.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vm/decode.h"
#include "vm/helper_table.h"
#include "vm/legacy_packet.h"
#include "vm/region.h"
#include "vm/result.h"

namespace bpfvm {

// Services reached by helpers during a run. The helpers library provides the default
// implementation (real clocks and randomness, or a deterministic mode); tests override it.
class Environment {
 public:
  virtual ~Environment() = default;
  virtual void trace(std::string_view text) = 0;  // bpf_trace_printk output
  virtual uint64_t ktime_ns() = 0;
  virtual uint32_t prandom_u32() = 0;
  // bpf_ktime_get_boot_ns and bpf_ktime_get_coarse_ns; the clock of ktime_ns unless overridden.
  virtual uint64_t ktime_boot_ns() { return ktime_ns(); }
  virtual uint64_t ktime_coarse_ns() { return ktime_ns(); }
};

namespace detail {
// What HelperCall asks of the engine running the program: the interpreter's run state
// (vm/interp.cpp) and the JIT's (jit/run.cpp) implement it. `pc` is the helper call's slot index.
class EngineHooks {
 public:
  virtual bool is_function(uint64_t fn) const = 0;
  virtual Result<uint64_t> call_function(uint32_t pc,
                                         uint64_t fn,
                                         const uint64_t (&args)[5],
                                         std::span<const MemRegion> extra) = 0;
  virtual bool request_tail_call(uint32_t pc, std::optional<uint32_t> prog_id) = 0;

 protected:
  ~EngineHooks() = default;
};
struct ExecState;  // the interpreter's state of one run (vm/interp.cpp)

// Shared by the engines (interpreter, JIT) so that both refuse programs and report faults alike.
// The checks made before a program is prepared: not empty, subprogram entries inside the program, no
// may_goto or addr_space_cast (kUnsupported), linked targets, registers up to r10.
Status check_program(const Program& program);
// Whether the instruction's `target` names an instruction (jumps, local calls).
bool has_target(const Insn& in);
// The message of kUnknownHelper for helper number `id` (with its kernel name when the table's namer
// knows it).
std::string unknown_helper_message(const HelperTable* helpers, uint64_t id);
// The message of a checked-mode kOutOfBounds fault: an access of `size` bytes at `addr` through
// base register `base_reg` + `off`, with the live stack [stack_lo, stack_hi) and the run's regions.
std::string oob_message(std::span<const MemRegion> regions,
                        const RegionResolver* resolver,
                        uint64_t addr,
                        uint64_t size,
                        bool write,
                        uint8_t base_reg,
                        int16_t off,
                        uint64_t stack_lo,
                        uint64_t stack_hi);
}  // namespace detail

class Interpreter;
namespace jit {
class JitProgram;  // jit/jit.h
}

// Programs that tail calls can reach: prog_array values are program ids.
class TailCallTargets {
 public:
  virtual ~TailCallTargets() = default;
  // The interpreter of program `id`, or nullptr when there is none (the tail call then fails and the
  // caller continues, as in the kernel).
  virtual const Interpreter* interpreter(uint32_t id) const = 0;
  // The JIT-compiled program `id` in the given mode (checked or unchecked code), for runs of JIT
  // code; nullptr when there is none (the tail call then fails as above).
  virtual const jit::JitProgram* jit_program(uint32_t id, bool checked) const { return nullptr; }
};

// The view a helper has of the running program.
class HelperCall {
 public:
  // Host pointer for [addr, addr + len) when the whole range lies inside one region of this run
  // (the live stack frames count), writable if `write`; nullptr otherwise. Helpers always check
  // pointers this way, in unchecked mode too.
  void* translate(uint64_t addr, uint64_t len, bool write) const;
  // Number of bytes from `addr` to the end of the region (or live stack) that contains it, writable
  // if `write`; 0 when no region contains `addr`. Lets helpers bound reads of NUL-terminated strings.
  uint64_t span_from(uint64_t addr, bool write) const;
  // Ends the run with ErrorCode::kHelperFault at this call, with `msg`.
  void fail(std::string msg);
  Environment& env() const { return *env_; }
  // RunInput::context: per-run state for helpers (the runtime puts a helpers/context.h
  // HelperContext there). nullptr when the embedder gave none.
  void* context() const { return context_; }
  // Calls the BPF function designated by `fn` (an `lddw func` value, as callx takes) with r1..r5 =
  // args on a new stack frame, and returns its r0. Used by callback helpers (bpf_loop,
  // for_each_map_elem). A fault inside the callback ends the whole run with that fault: the helper
  // must then return at once (the returned Result holds the error). `extra`: memory the callback
  // may access besides the run's (e.g. the key copy for_each_map_elem passes), for this call only.
  // The callback shares the run's budget; its frame counts against the call-depth limit.
  Result<uint64_t> call_function(uint64_t fn,
                                 const uint64_t (&args)[5],
                                 std::span<const MemRegion> extra = {});
  // True when `fn` designates a function of the running program.
  bool is_function(uint64_t fn) const;
  // bpf_tail_call: after the helper returns, the engine replaces the running program by program
  // `prog_id` (frame reused, r1 = the current r1). As the kernel's tail_call_cnt, every attempt
  // made below the limit counts, even one that then finds no program: pass std::nullopt for an
  // empty prog_array slot. At most kMaxTailCalls attempts per run; later ones are refused.
  // Returns false when the attempt is refused or there is no such program: the helper then
  // returns a negative value and the caller continues. A tail call from a subprogram or a callback
  // (call depth > 0) is not supported: the run ends with a kUnsupported fault at this call (and
  // false is returned; the helper must return at once).
  bool request_tail_call(std::optional<uint32_t> prog_id);
  void* user() const { return user_; }
  uint32_t pc() const { return pc_; }
  const RegionResolver* resolver() const { return resolver_; }

  // Set up by the engine (tests may build one without an engine: then context() is the given
  // context, call_function and request_tail_call fail).
  HelperCall(Environment* env,
             void* user,
             uint32_t pc,
             std::span<const MemRegion> regions,
             uint64_t stack_lo,
             uint64_t stack_hi,
             const RegionResolver* resolver = nullptr,
             void* context = nullptr,
             detail::EngineHooks* engine = nullptr)
      : env_(env),
        user_(user),
        pc_(pc),
        regions_(regions),
        stack_lo_(stack_lo),
        stack_hi_(stack_hi),
        resolver_(resolver),
        context_(context),
        engine_(engine) {}
  bool failed() const { return failed_; }
  const std::string& failure() const { return failure_; }

 private:
  Environment* env_;
  void* user_;
  uint32_t pc_;
  std::span<const MemRegion> regions_;
  uint64_t stack_lo_, stack_hi_;  // live stack frames [lo, hi)
  const RegionResolver* resolver_;
  void* context_;
  detail::EngineHooks* engine_;
  bool failed_ = false;
  std::string failure_;
};

// The kernel's MAX_TAIL_CALL_CNT: a run may make this many tail calls; the next one fails.
constexpr uint32_t kMaxTailCalls = 33;

struct RunOptions {
  bool checked = true;
  // Checked mode: the run faults with kBudgetExhausted after this many executed instructions.
  uint64_t budget = 100'000'000;
};

// Input of one run: the initial r1..r5 and the memory the program may touch besides its stack.
// For the conformance convention: r1 = input memory, r2 = its length, one writable region.
struct RunInput {
  uint64_t args[5] = {0, 0, 0, 0, 0};
  std::vector<MemRegion> regions;
  const RegionResolver* resolver = nullptr;     // map values, ringbuf records
  const TailCallTargets* tail_calls = nullptr;  // prog_array program ids
  void* context = nullptr;                      // HelperCall::context()
  // What LD_ABS/LD_IND read (vm/legacy_packet.h; must outlive the run). When null, they read the
  // packet region (the region named "packet", else the first region) from its start, with no
  // network or link-layer header (raw programs, the conformance convention).
  const LegacyPacket* legacy_packet = nullptr;
};

struct RunStats {
  uint64_t insns_executed = 0;  // counted in checked mode only (callbacks and tail-called programs included)
  uint32_t tail_calls = 0;      // tail-call attempts counted against kMaxTailCalls (kernel tail_call_cnt)
};

class Interpreter {
 public:
  // Pre-decodes `program`. `helpers` must outlive the interpreter (it may be null: then every call
  // of a helper faults with kUnknownHelper).
  static Result<std::unique_ptr<Interpreter>> create(const Program& program, const HelperTable* helpers);
  ~Interpreter();

  // Runs the program; returns r0 at the exit of the main function, or the fault. Thread-safe:
  // each run has its own stack.
  Result<uint64_t> run(const RunInput& input,
                       const RunOptions& opts,
                       Environment& env,
                       RunStats* stats = nullptr) const;

  // Convenience for the conformance convention: r1 = mem, r2 = len, mem is one writable region.
  Result<uint64_t> run(std::span<uint8_t> mem, const RunOptions& opts, Environment& env) const;

  // The memory holding the pre-decoded program, read-only from create() on (vm/sealed.h).
  const void* predecoded() const;

  struct Impl;

 private:
  friend struct detail::ExecState;
  explicit Interpreter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bpfvm
