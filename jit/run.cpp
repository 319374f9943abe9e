// The run-time side of the JIT: a run's state (JitRun, which also implements what helpers ask of
// the engine), the entry points that generated code calls, and JitProgram::run.
//
// Stack: the interpreter zeroes its 4 KiB stack at every run. Checked code does too (unverified
// programs may read stack bytes they never wrote). Unchecked code runs only verified programs,
// which the verifier proves never read an uninitialised stack byte: they run on a per-thread stack
// without zeroing (nothing of the host is in it, only earlier runs' BPF data), which keeps the
// per-run cost to a few nanoseconds.
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "jit/jit_internal.h"

namespace bpfvm::jit::internal {

static bool inside(uint64_t a, uint64_t n, uint64_t base, uint64_t size) {
  return a >= base && n <= size && a - base <= size - n;
}

// One run: implements what helpers ask of the engine (detail::EngineHooks).
struct JitRun final : detail::EngineHooks {
  // Not value-initialised: zeroing its ~500 bytes would be most of the per-run cost. run_code sets
  // every field generated code reads before it writes it.
  RunCtl ctl;
  const JitProgram::Impl* prog = nullptr;  // changes on tail calls
  const JitProgram::Impl* pending = nullptr;
  std::span<const MemRegion> regions;
  const RegionResolver* resolver = nullptr;
  const TailCallTargets* tail_calls = nullptr;
  void* context = nullptr;
  Environment* env = nullptr;
  uint64_t budget = 0;
  uint32_t tail_call_count = 0;
  uint64_t resolved_lo[2] = {0, 0}, resolved_hi[2] = {0, 0};
  LegacyPacketView legacy;
  std::optional<Error> error;

  int depth_of(uint64_t r10) const { return static_cast<int>((ctl.stack_top - r10) / kStackSize); }
  void set_error(ErrorCode code, uint32_t pc, std::string msg) {
    if (!error) error = make_error(code, pc, std::move(msg));
    ctl.flags |= kFlagError;
  }

  bool is_function(uint64_t fn) const override { return prog->is_function(fn); }

  Result<uint64_t> call_function(uint32_t pc,
                                 uint64_t fn,
                                 const uint64_t (&args)[5],
                                 std::span<const MemRegion> extra) override {
    if (error) return *error;
    if (!is_function(fn)) {
      set_error(ErrorCode::kBadCallTarget, pc,
                fmt::format("callback {:#x} is not a function of the program", fn));
      return *error;
    }
    const uint64_t r10 = ctl.cur_r10;
    if (depth_of(r10) + 1 >= kMaxCallDepth) {
      set_error(ErrorCode::kCallDepth, pc,
                fmt::format("callback: call depth exceeds {} frames", kMaxCallDepth));
      return *error;
    }
    struct {
      uint64_t cur_r10, call_id, saved_r1;
      uint32_t call_pc, call_reg;
    } saved{ctl.cur_r10, ctl.call_id, ctl.saved_r1, ctl.call_pc, ctl.call_reg};
    const std::span<const MemRegion> saved_regions = regions;
    std::vector<MemRegion> merged;
    if (!extra.empty()) {
      merged.assign(regions.begin(), regions.end());
      merged.insert(merged.end(), extra.begin(), extra.end());
      regions = merged;
    }
    uint64_t r0 = prog->callback_entry(&ctl, args, r10 - kStackSize, prog->native(fn));
    regions = saved_regions;
    // Restore what the nested activation's helper calls changed; keep the budget and flags.
    ctl.cur_r10 = saved.cur_r10;
    ctl.call_id = saved.call_id;
    ctl.call_pc = saved.call_pc;
    ctl.call_reg = saved.call_reg;
    ctl.saved_r1 = saved.saved_r1;
    if (error) return *error;
    return r0;
  }

  bool request_tail_call(uint32_t pc, std::optional<uint32_t> prog_id) override {
    int depth = depth_of(ctl.cur_r10);
    if (depth > 0) {
      set_error(
          ErrorCode::kUnsupported, pc,
          fmt::format("bpf_tail_call from a subprogram or callback (call depth {}) is not supported by bpfvm",
                      depth));
      return false;
    }
    if (tail_calls == nullptr || tail_call_count >= kMaxTailCalls || pending != nullptr) return false;
    ++tail_call_count;  // counted before the program is looked up, as the kernel does
    const JitProgram* target = prog_id ? tail_calls->jit_program(*prog_id, prog->opts.checked) : nullptr;
    if (target == nullptr || target->checked() != prog->opts.checked) return false;
    pending = &target->impl();
    return true;
  }

  bool mem_ok(uint64_t a, uint64_t n, bool write) {
    for (const MemRegion& m : regions)
      if (inside(a, n, m.base, m.size) && (!write || m.writable)) return true;
    if (resolver == nullptr) return false;
    const int w = write ? 1 : 0;
    if (inside(a, n, resolved_lo[w], resolved_hi[w] - resolved_lo[w])) return true;
    if (!write && inside(a, n, resolved_lo[1], resolved_hi[1] - resolved_lo[1])) return true;
    if (!resolver->contains(a, n, write, nullptr)) return false;
    uint64_t span = resolver->span_from(a, write);
    if (span >= n && a + span >= a) {
      resolved_lo[w] = a;
      resolved_hi[w] = a + span;
    }
    return true;
  }
};

// --- Run-time entry points called from generated code ----------------------------------------------

uint64_t rt_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, RunCtl* ctl) {
  JitRun& st = *ctl->run;
  const uint64_t id = ctl->call_id;
  const uint32_t pc = ctl->call_pc;
  const HelperTable* h = st.prog->helpers;
  const HelperEntry* e = h != nullptr && id <= UINT32_MAX ? h->find(static_cast<uint32_t>(id)) : nullptr;
  if (e == nullptr) {
    st.set_error(ErrorCode::kUnknownHelper, pc, detail::unknown_helper_message(h, id));
    return 0;
  }
  HelperCall call(st.env, e->user, pc, st.regions, ctl->cur_r10 - kStackSize, ctl->stack_top, st.resolver,
                  st.context, &st);
  uint64_t r0 = e->fn(call, r1, r2, r3, r4, r5);
  if (__builtin_expect(call.failed() || st.error.has_value() || st.pending != nullptr, 0)) {
    if (st.error) {
      ctl->flags |= kFlagError;
    } else if (call.failed()) {
      st.set_error(ErrorCode::kHelperFault, pc,
                   fmt::format("helper {} ({}): {}", e->id, e->name, call.failure()));
    } else {
      // Tail call: the generated code jumps to the target's body with r1 as it was.
      st.prog = st.pending;
      st.pending = nullptr;
      ctl->tail_entry = st.prog->main_body;
      ctl->saved_r1 = r1;
      ctl->flags |= kFlagTail;
    }
  }
  return r0;
}

const void* rt_callx(RunCtl* ctl) {
  JitRun& st = *ctl->run;
  const uint64_t v = ctl->call_id;
  if (st.prog->is_function(v)) return st.prog->native(v);
  const HelperTable* h = st.prog->helpers;
  if (v <= UINT32_MAX && h != nullptr && h->find(static_cast<uint32_t>(v)) != nullptr) return nullptr;
  st.set_error(
      ErrorCode::kBadCallTarget, ctl->call_pc,
      fmt::format("callx r{}: {:#x} is neither a helper number nor a function address", ctl->call_reg, v));
  return nullptr;
}

bool rt_mem_check(RunCtl* ctl, uint64_t addr, uint32_t code) {
  return ctl->run->mem_ok(addr, code & 0xff, (code >> 8) != 0);
}

void rt_fault(RunCtl* ctl, uint32_t site_index) {
  JitRun& st = *ctl->run;
  const JitProgram::Impl& p = *st.prog;
  const Site& s = p.sites[site_index];
  switch (s.kind) {
    case SiteKind::Budget: {
      uint64_t left = ctl->remaining + s.len;  // what was left at the block's start
      ctl->remaining = 0;
      st.set_error(ErrorCode::kBudgetExhausted, p.pcs[s.insn + left],
                   fmt::format("instruction budget of {} exhausted", st.budget));
      return;
    }
    case SiteKind::CallDepth:
      st.set_error(ErrorCode::kCallDepth, p.pcs[s.insn],
                   fmt::format("call depth exceeds {} frames", kMaxCallDepth));
      return;
    case SiteKind::Kfunc:
      st.set_error(ErrorCode::kUnsupported, p.pcs[s.insn],
                   fmt::format("call kfunc (BTF id {}) is not supported by bpfvm", s.imm));
      return;
    case SiteKind::Oob:
      break;
  }
  st.set_error(ErrorCode::kOutOfBounds, p.pcs[s.insn],
               detail::oob_message(st.regions, st.resolver, ctl->fault_addr, s.size, s.write, s.base_reg,
                                   s.off, ctl->cur_r10 - kStackSize, ctl->stack_top));
}

namespace {

// Per-thread stack of unchecked runs (see the top of the file); nested runs on the same thread use
// their own.
struct ThreadStack {
  alignas(64) uint8_t bytes[kStackBytes] = {};
  bool busy = false;
};
// Constant-initialised (in .tbss): no initialisation guard on the per-run path.
constinit thread_local ThreadStack t_stack;

struct RunArgs {
  const uint64_t* args;
  std::span<const MemRegion> regions;
  const RegionResolver* resolver;
  const TailCallTargets* tail_calls;
  void* context;
  const LegacyPacket* legacy_packet = nullptr;
};

// One run on `stack` (kStackBytes bytes, zeroed by the caller where the mode needs it).
Result<uint64_t> run_on(const JitProgram::Impl& p,
                        const RunArgs& input,
                        Environment& env,
                        RunStats* stats,
                        uint8_t* stack) {
  JitRun st;
  st.prog = &p;
  st.regions = input.regions;
  st.resolver = input.resolver;
  st.tail_calls = input.tail_calls;
  st.context = input.context;
  st.env = &env;
  st.budget = p.opts.budget;
  st.ctl.run = &st;
  st.ctl.remaining = p.opts.budget;
  st.ctl.saved_rsp = 0;
  st.ctl.flags = 0;
  if (p.uses_packet || input.tail_calls != nullptr) {  // LD_ABS / LD_IND here or in a tail-called program
    st.legacy.init(input.legacy_packet, st.regions);
    st.ctl.legacy = st.legacy.get();
  } else {
    st.ctl.legacy = nullptr;
  }
  for (size_t i = 0; p.opts.checked && i < 2; ++i) {
    const MemRegion m = i < input.regions.size() ? input.regions[i] : MemRegion{};
    st.ctl.reg_base[i] = m.base;
    for (int w = 0; w < 2; ++w)
      for (uint64_t n : {1, 2, 4, 8})
        st.ctl.reg_lim[i][w][n] = m.size >= n && (w == 0 || m.writable) ? m.size - n + 1 : 0;
  }
  const uint64_t top = reinterpret_cast<uint64_t>(stack) + kStackBytes;
  st.ctl.stack_top = top;
  st.ctl.depth_limit = top - kStackBytes + kStackSize;
  if (p.opts.checked)
    for (uint64_t n : {1, 2, 4, 8})
      st.ctl.lim[n] = top + kStackSize - n;
  uint64_t r0 = p.entry(&st.ctl, input.args, top, p.main_body);
  if (stats != nullptr) {
    stats->insns_executed = p.opts.checked || p.opts.meter_budget ? st.budget - st.ctl.remaining : 0;
    stats->tail_calls = st.tail_call_count;
  }
  if (st.error) return std::move(*st.error);
  return r0;
}

// A zeroed stack in this frame: checked code, and nested unchecked runs on one thread. Kept out of
// run_code so that the fast path has no 4 KiB frame to probe.
[[gnu::noinline]] Result<uint64_t> run_zeroed(const JitProgram::Impl& p,
                                              const RunArgs& input,
                                              Environment& env,
                                              RunStats* stats) {
  alignas(16) uint8_t stack[kStackBytes];
  std::memset(stack, 0, sizeof stack);
  return run_on(p, input, env, stats, stack);
}

Result<uint64_t> run_code(const JitProgram::Impl& p,
                          const RunArgs& input,
                          Environment& env,
                          RunStats* stats) {
  ThreadStack& ts = t_stack;
  if (p.opts.checked || ts.busy) return run_zeroed(p, input, env, stats);
  ts.busy = true;
  auto r = run_on(p, input, env, stats, ts.bytes);
  ts.busy = false;
  return r;
}

}  // namespace
}  // namespace bpfvm::jit::internal

namespace bpfvm::jit {

using internal::run_code;
using internal::RunArgs;

namespace {

// Leaf code (unchecked; no calls, faults or packet loads) reads nothing of the run's state, and
// nothing can start another run on this thread's stack before it returns: it runs without a RunCtl.
// False when the code is not leaf code or the thread's stack is in use.
inline bool run_leaf(const JitProgram::Impl& p, const uint64_t* args, RunStats* stats, uint64_t* r0) {
  internal::ThreadStack& ts = internal::t_stack;
  if (p.needs_ctl || ts.busy) return false;
  *r0 = p.entry(nullptr, args, reinterpret_cast<uint64_t>(ts.bytes) + internal::kStackBytes, p.main_body);
  if (stats != nullptr) *stats = RunStats{};
  return true;
}

}  // namespace

Result<uint64_t> JitProgram::run(const RunInput& input, Environment& env, RunStats* stats) const {
  if (uint64_t r0; run_leaf(*impl_, input.args, stats, &r0)) return r0;
  return run_code(*impl_,
                  RunArgs{input.args, input.regions, input.resolver, input.tail_calls, input.context,
                          input.legacy_packet},
                  env, stats);
}

// No RunInput (and no allocation of its region vector) on this path: it is the per-call overhead.
Result<uint64_t> JitProgram::run(std::span<uint8_t> mem, Environment& env, RunStats* stats) const {
  const uint64_t args[5] = {reinterpret_cast<uint64_t>(mem.data()), mem.size(), 0, 0, 0};
  const MemRegion region{args[0], mem.size(), true, "input"};
  if (uint64_t r0; run_leaf(*impl_, args, stats, &r0)) return r0;
  std::span<const MemRegion> regions;
  if (!mem.empty()) regions = std::span<const MemRegion>(&region, 1);
  return run_code(*impl_, RunArgs{args, regions, nullptr, nullptr, nullptr}, env, stats);
}

}  // namespace bpfvm::jit
