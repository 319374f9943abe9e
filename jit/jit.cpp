// The x86-64 JIT (asmjit's assembler, no JitRuntime).
//
// Register mapping (fixed, as the Linux JIT's: BPF r1-r5 are the System V argument registers, so a
// helper receives them where they are; r6-r9 and r10 live in callee-saved registers):
//   r0 rax  r1 rdi  r2 rsi  r3 rdx  r4 rcx  r5 r8  r6 rbx  r7 r13  r8 r14  r9 r15  r10 rbp
//   r12: the run's control block (RunCtl); r11: the blinding scratch register (AUX);
//   r10, r9: temporaries (division, bounds checks, atomics). No BPF register maps to r9-r12.
//
// Code layout: an entry thunk (C++ -> JIT), then every instruction in program order (subprograms are
// native functions: a local call is `call`, exit is `ret`), then the cold paths (fault sites, shared
// stubs). The entry thunk saves the host's callee-saved registers and the native stack pointer in
// RunCtl::saved_rsp; a fault, or an LD_ABS/LD_IND out of the packet, "unwinds" by restoring that
// stack pointer and jumping to the thunk's exit. Callbacks (HelperCall::call_function) enter the
// same thunk again, one activation deeper, exactly as the interpreter starts a nested dispatch loop.
//
// Native stack discipline: inside JIT code rsp is 16-byte aligned at every instruction boundary,
// so helpers and runtime calls need no adjustment. A local call pushes r6-r9 (rbx, r13-r15) and 8
// bytes of padding, moves r10 down one 512-byte frame and calls; the return restores them (the
// interpreter's Frame). The call depth follows from r10 (frame d has r10 = stack_top - 512 d): the
// limit check is one compare against RunCtl::depth_limit.
//
// Semantics shared with the interpreter (vm/interp.cpp), bit for bit: helper calls and LD_ABS/LD_IND
// zero r1-r5; the func token of `lddw func` is the interpreter's scheme (address of a per-program
// byte array plus the instruction index), callx resolves tokens first, then helper numbers;
// division by zero, INT_MIN / -1 and shift masking as in vm/alu.h (x86 masks shift counts the same
// way; the zero and -1 divisors are tested before div/idiv).
//
// Checked mode: every load, store and atomic computes its address in r11 and compares it with the
// live stack inline ([r10 - 512, stack_top)); anything else goes to a shared out-of-line stub that
// asks the same regions and resolver as the checked interpreter. The budget is metered per basic
// block (blocks end at jumps, calls and exits): `sub [remaining], len; jb fault`. The count is
// exact (every block runs to its end unless the run faults), and the fault names the instruction
// at which the interpreter's budget runs out (block start + what was left). The one difference: when
// the budget runs out inside a block, the JIT faults before running the block's first instructions,
// so an out-of-bounds access or a store among those instructions (before the budget point) is not
// performed: the error is kBudgetExhausted where the interpreter could report kOutOfBounds.
//
// Stack: the interpreter zeroes its 4 KiB stack at every run. Checked code does too (unverified
// programs may read stack bytes they never wrote). Unchecked code runs only verified programs,
// which the verifier proves never read an uninitialised stack byte: they run on a per-thread stack
// without zeroing (nothing of the host is in it, only earlier runs' BPF data), which keeps the
// per-run cost to a few nanoseconds.
#include "jit/jit.h"

#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include <asmjit/x86.h>
#include <fmt/format.h>

#include "vm/disasm.h"

namespace bpfvm::jit {
namespace {

namespace x86 = asmjit::x86;
using asmjit::Label;

constexpr uint64_t kStackBytes = static_cast<uint64_t>(kMaxCallDepth) * kStackSize;

// Flags in RunCtl::flags, tested after every helper call.
constexpr uint8_t kFlagError = 1;
constexpr uint8_t kFlagTail = 2;
constexpr uint32_t kCallImm = 0xff;  // RunCtl::call_reg of `call imm`

struct JitRun;

// The part of a run's state that generated code reads and writes (through r12).
struct RunCtl {
  uint64_t remaining;    // instruction budget left
  uint64_t saved_rsp;    // native rsp of the innermost activation (see the entry thunk)
  uint64_t depth_limit;  // a local call faults when r10 <= this
  uint64_t stack_top;
  uint64_t lim[9];  // lim[n] = stack_top + 512 - n: live-stack check of an n-byte access
  const LegacyPacket* legacy;  // what LD_ABS/LD_IND read (legacy_packet_load's first argument)
  // Checked mode, inline check of the run's first two regions: an n-byte access at a is allowed
  // when a - reg_base[i] < reg_lim[i][write][n] (0 when the region is absent, too small or, for
  // writes, read-only: nothing passes).
  uint64_t reg_base[2];
  uint64_t reg_lim[2][2][9];
  uint64_t fault_addr;  // address of the access at a fault site
  uint64_t cur_r10;     // r10 at the helper call or fault site
  uint64_t call_id;     // helper number or callx value
  uint64_t saved_r1;    // r1 at the helper call (the context of a tail-called program)
  const void* tail_entry;
  uint32_t call_pc;
  uint32_t call_reg;
  uint8_t flags;
  JitRun* run;
};
static_assert(std::is_standard_layout_v<RunCtl>);

#define CTL(field) x86::qword_ptr(x86::r12, static_cast<int32_t>(offsetof(RunCtl, field)))
#define CTL32(field) x86::dword_ptr(x86::r12, static_cast<int32_t>(offsetof(RunCtl, field)))
#define CTL8(field) x86::byte_ptr(x86::r12, static_cast<int32_t>(offsetof(RunCtl, field)))

enum class SiteKind : uint8_t { Oob, Budget, CallDepth, Kfunc };

// A cold fault path: what the fault handler needs to build the interpreter's error.
struct Site {
  SiteKind kind;
  uint8_t size = 0;
  bool write = false;
  uint8_t base_reg = 0;
  int16_t off = 0;
  uint32_t insn = 0;  // instruction index (Budget: the block's first instruction)
  uint32_t len = 0;   // Budget: the block length
  int32_t imm = 0;    // Kfunc: the BTF id
};

using EntryFn = uint64_t (*)(RunCtl* ctl, const uint64_t* args, uint64_t r10, const void* target);

}  // namespace

struct JitProgram::Impl {
  JitOptions opts;
  const HelperTable* helpers = nullptr;
  void* map = nullptr;
  size_t map_size = 0;
  size_t code_size = 0;
  EntryFn entry = nullptr;
  const void* main_body = nullptr;
  std::vector<uint32_t> pcs;       // slot index of every instruction
  std::vector<uint8_t> is_func;    // func tokens: &is_func[k] is the token of instruction k
  std::vector<uint32_t> subprogs;  // subprogram entries and their native addresses, sorted
  std::vector<const void*> sub_addr;
  std::vector<Site> sites;
  std::string disasm;

  uint64_t func_base() const { return reinterpret_cast<uint64_t>(is_func.data()); }
  bool is_function(uint64_t fn) const {
    uint64_t k = fn - func_base();
    return k < is_func.size() && is_func[k];
  }
  const void* native(uint64_t fn) const {
    uint32_t k = static_cast<uint32_t>(fn - func_base());
    auto it = std::lower_bound(subprogs.begin(), subprogs.end(), k);
    return sub_addr[static_cast<size_t>(it - subprogs.begin())];
  }
  ~Impl() {
    if (map != nullptr) munmap(map, map_size);
  }
};

namespace {

inline bool inside(uint64_t a, uint64_t n, uint64_t base, uint64_t size) {
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
    uint64_t r0 = prog->entry(&ctl, args, r10 - kStackSize, prog->native(fn));
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

// --- Runtime entry points called from generated code ----------------------------------------------

// Every helper call (call imm, callx of a helper number).
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

// callx: the native entry of a function token; 0 for a helper number (the code then calls
// rt_helper with call_id) or for a bad target (the error is set).
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

// Checked mode, slow path of a load or store outside the live stack. `code` = size | write << 8.
bool rt_mem_check(RunCtl* ctl, uint64_t addr, uint32_t code) {
  return ctl->run->mem_ok(addr, code & 0xff, (code >> 8) != 0);
}

// A fault site was reached: record the interpreter's error.
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

// --- Code generation ----------------------------------------------------------------------------

// splitmix64: blinding keys (seeded from getrandom or JitOptions::blinding_seed).
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

constexpr uint32_t kRegId[kNumRegs] = {x86::Gp::kIdAx,  x86::Gp::kIdDi,  x86::Gp::kIdSi, x86::Gp::kIdDx,
                                       x86::Gp::kIdCx,  x86::Gp::kIdR8,  x86::Gp::kIdBx, x86::Gp::kIdR13,
                                       x86::Gp::kIdR14, x86::Gp::kIdR15, x86::Gp::kIdBp};

x86::Gp q(int r) {
  return x86::gpq(kRegId[r]);
}
x86::Gp d(int r) {
  return x86::gpd(kRegId[r]);
}
x86::Gp w(int r) {
  return x86::gpw(kRegId[r]);
}
x86::Gp b(int r) {
  return x86::gpb(kRegId[r]);
}
x86::Gp sized(x86::Gp r, int bytes) {
  switch (bytes) {
    case 1:
      return x86::gpb(r.id());
    case 2:
      return x86::gpw(r.id());
    case 4:
      return x86::gpd(r.id());
    default:
      return x86::gpq(r.id());
  }
}
x86::Mem mem_of(x86::Gp base, int32_t off, int bytes) {
  return x86::ptr(base, off, static_cast<uint32_t>(bytes));
}

const x86::Gp AUX = x86::r11;  // blinding scratch, checked-mode address
const x86::Gp T2 = x86::r10;
const x86::Gp T3 = x86::r9;
const x86::Gp CTLR = x86::r12;

class ErrorRecorder : public asmjit::ErrorHandler {
 public:
  asmjit::Error err = asmjit::kErrorOk;
  std::string msg;
  void handleError(asmjit::Error e, const char* message, asmjit::BaseEmitter*) override {
    if (err == asmjit::kErrorOk) {
      err = e;
      msg = message;
    }
  }
};

// Instructions after which a new basic block starts (for budget metering): control flow, and
// anything that may end the run.
bool ends_block(const Insn& in) {
  switch (in.info().form) {
    case Form::Ja:
    case Form::Ja32:
    case Form::JmpImm:
    case Form::JmpReg:
    case Form::Call:
    case Form::CallLocal:
    case Form::CallKfunc:
    case Form::Callx:
    case Form::Exit:
    // A legacy packet load out of the packet ends the run (r0 = 0): the instructions after it in
    // the block must not have been charged yet.
    case Form::LdAbs:
    case Form::LdInd:
      return true;
    default:
      return false;
  }
}

class Compiler {
 public:
  Compiler(x86::Assembler& a, const Program& p, JitProgram::Impl& impl, bool bmi2)
      : a_(a), p_(p), impl_(impl), o_(impl.opts), bmi2_(bmi2) {
    uint64_t seed = 0;
    if (o_.blinding_seed)
      seed = *o_.blinding_seed;
    else if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
      seed = reinterpret_cast<uint64_t>(&seed) ^ static_cast<uint64_t>(getpid()) * 0x9e3779b97f4a7c15ULL;
    rng_.s = seed;
  }

  Label label(size_t k) const { return labels_[k]; }

  void compile() {
    const size_t n = p_.insns.size();
    labels_.resize(n);
    for (auto& l : labels_)
      l = a_.newLabel();
    exit_ = a_.newLabel();
    unwind_ = a_.newLabel();
    helper_slow_ = a_.newLabel();
    ldabs_oob_ = a_.newLabel();
    mem_slow_ = a_.newLabel();
    fault_common_ = a_.newLabel();
    retpoline_ = a_.newLabel();
    body_ = labels_[0];
    metered_ = o_.checked || o_.meter_budget;

    std::vector<uint8_t> leader(n, 0);
    leader[0] = 1;
    for (uint32_t s : p_.subprogs)
      leader[s] = 1;
    for (size_t k = 0; k < n; ++k) {
      const Insn& in = p_.insns[k];
      if (detail::has_target(in)) leader[static_cast<size_t>(in.target)] = 1;
      if (ends_block(in) && k + 1 < n) leader[k + 1] = 1;
    }

    emit_thunk();
    for (size_t k = 0; k < n; ++k) {
      a_.bind(labels_[k]);
      if (metered_ && leader[k]) {
        size_t end = k + 1;
        while (end < n && !leader[end])
          ++end;
        uint32_t len = static_cast<uint32_t>(end - k);
        Label site = new_site(Site{SiteKind::Budget, 0, false, 0, 0, static_cast<uint32_t>(k), len, 0});
        a_.sub(CTL(remaining), len);
        a_.jb(site);
      }
      if (o_.disassembly) a_.commentf("; pc %u: %s", p_.insns[k].pc, disassemble_insn(p_.insns[k]).c_str());
      emit(static_cast<uint32_t>(k), p_.insns[k]);
    }
    emit_cold();
  }

 private:
  // --- immediates ---
  uint32_t key32(uint32_t imm) {
    for (;;) {
      uint32_t k = static_cast<uint32_t>(rng_.next());
      if (k != 0 && k != imm) return k;
    }
  }
  // reg = sign-extended imm (blinded: imm ^ key, then ^ key).
  void load_imm(x86::Gp reg, int32_t imm) {
    if (!o_.blinding) {
      a_.mov(reg, asmjit::imm(static_cast<int64_t>(imm)));
      return;
    }
    uint32_t key = key32(static_cast<uint32_t>(imm));
    a_.mov(reg, asmjit::imm(static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(imm) ^ key))));
    a_.xor_(reg, asmjit::imm(static_cast<int64_t>(static_cast<int32_t>(key))));
  }
  void load_imm64(x86::Gp reg, uint64_t v) {
    if (!o_.blinding) {
      a_.mov(reg, asmjit::imm(v));
      return;
    }
    uint32_t lo = static_cast<uint32_t>(v), hi = static_cast<uint32_t>(v >> 32);
    uint64_t key;
    for (;;) {
      key = rng_.next();
      uint32_t klo = static_cast<uint32_t>(key), khi = static_cast<uint32_t>(key >> 32);
      uint64_t x = v ^ key;
      uint32_t xlo = static_cast<uint32_t>(x), xhi = static_cast<uint32_t>(x >> 32);
      auto bad = [&](uint32_t u) { return u == lo || u == hi; };
      if (klo != 0 && khi != 0 && !bad(klo) && !bad(khi) && !bad(xlo) && !bad(xhi)) break;
    }
    a_.mov(reg, asmjit::imm(v ^ key));
    a_.mov(AUX, asmjit::imm(key));
    a_.xor_(reg, AUX);
  }

  Label new_site(const Site& s) {
    impl_.sites.push_back(s);
    site_labels_.push_back(a_.newLabel());
    return site_labels_.back();
  }

  // --- entry thunk: uint64_t entry(RunCtl*, const uint64_t* args, uint64_t r10, const void* target) ---
  void emit_thunk() {
    a_.push(x86::rbp);
    a_.push(x86::rbx);
    a_.push(x86::r12);
    a_.push(x86::r13);
    a_.push(x86::r14);
    a_.push(x86::r15);
    a_.push(x86::qword_ptr(x86::rdi, offsetof(RunCtl, saved_rsp)));
    a_.sub(x86::rsp, 8);
    a_.mov(x86::qword_ptr(x86::rdi, offsetof(RunCtl, saved_rsp)), x86::rsp);
    a_.mov(CTLR, x86::rdi);
    a_.mov(x86::rbp, x86::rdx);
    a_.mov(AUX, x86::rcx);
    a_.mov(x86::rdi, x86::qword_ptr(x86::rsi, 0));
    a_.mov(x86::rdx, x86::qword_ptr(x86::rsi, 16));
    a_.mov(x86::rcx, x86::qword_ptr(x86::rsi, 24));
    a_.mov(x86::r8, x86::qword_ptr(x86::rsi, 32));
    a_.mov(x86::rsi, x86::qword_ptr(x86::rsi, 8));
    a_.xor_(x86::eax, x86::eax);
    a_.xor_(x86::ebx, x86::ebx);
    a_.xor_(x86::r13d, x86::r13d);
    a_.xor_(x86::r14d, x86::r14d);
    a_.xor_(x86::r15d, x86::r15d);
    indirect_call();
    a_.bind(exit_);
    a_.add(x86::rsp, 8);
    a_.pop(CTL(saved_rsp));
    a_.pop(x86::r15);
    a_.pop(x86::r14);
    a_.pop(x86::r13);
    a_.pop(x86::r12);
    a_.pop(x86::rbx);
    a_.pop(x86::rbp);
    a_.ret();
  }

  void indirect_call() {  // call r11
    if (o_.retpoline)
      a_.call(retpoline_);
    else
      a_.call(AUX);
    uses_retpoline_ |= o_.retpoline;
  }
  void indirect_jump() {  // jmp r11
    if (o_.retpoline)
      a_.jmp(retpoline_);
    else
      a_.jmp(AUX);
    uses_retpoline_ |= o_.retpoline;
  }

  void emit_cold() {
    // Faults and LD_ABS/LD_IND out of the packet end the activation (see the top of the file).
    a_.bind(ldabs_oob_);
    a_.xor_(x86::eax, x86::eax);
    a_.bind(unwind_);
    a_.mov(x86::rsp, CTL(saved_rsp));
    a_.jmp(exit_);

    // After a helper call with flags set: an error, or a tail call (depth 0, body level).
    a_.bind(helper_slow_);
    a_.test(CTL8(flags), kFlagError);
    a_.jnz(unwind_);
    a_.mov(CTL8(flags), 0);
    a_.mov(x86::rdi, CTL(saved_r1));
    for (int r : {0, 2, 3, 4, 5, 6, 7, 8, 9})
      a_.xor_(d(r), d(r));
    a_.mov(AUX, CTL(tail_entry));
    indirect_jump();

    // Checked mode: out-of-line region check. In: r11 = address, r10 = size | write << 8.
    // Out: ZF clear when the access is allowed; every register preserved.
    if (o_.checked) {
      a_.bind(mem_slow_);
      const x86::Gp saved[] = {x86::rax, x86::rdi, x86::rsi, x86::rdx, x86::rcx,
                               x86::r8,  x86::r9,  x86::r10, x86::r11};
      for (const auto& r : saved)
        a_.push(r);  // 9 pushes + return address: alignment kept
      a_.mov(x86::rdi, CTLR);
      a_.mov(x86::rsi, AUX);
      a_.mov(x86::edx, T2.r32());
      a_.mov(x86::rax, asmjit::imm(reinterpret_cast<uint64_t>(&rt_mem_check)));
      a_.call(x86::rax);
      a_.test(x86::al, x86::al);
      for (int i = 8; i >= 0; --i)
        a_.pop(saved[i]);
      a_.ret();
    }

    // Fault sites: record the address and r10, then the site index.
    for (size_t i = 0; i < site_labels_.size(); ++i) {
      a_.bind(site_labels_[i]);
      a_.mov(CTL(fault_addr), AUX);
      a_.mov(CTL(cur_r10), x86::rbp);
      a_.mov(x86::esi, static_cast<uint32_t>(i));
      a_.jmp(fault_common_);
    }
    a_.bind(fault_common_);
    a_.mov(x86::rdi, CTLR);
    a_.mov(x86::rax, asmjit::imm(reinterpret_cast<uint64_t>(&rt_fault)));
    a_.call(x86::rax);
    a_.jmp(unwind_);

    if (uses_retpoline_) {
      // Retpoline for r11: `call retpoline_` is an indirect call, `jmp retpoline_` an indirect jump.
      Label capture = a_.newLabel(), set = a_.newLabel();
      a_.bind(retpoline_);
      a_.call(set);
      a_.bind(capture);
      a_.pause();
      a_.lfence();
      a_.jmp(capture);
      a_.bind(set);
      a_.mov(x86::qword_ptr(x86::rsp), AUX);
      a_.ret();
    }
  }

  // --- checked memory: r11 = address of [base + off]; faults to a site unless allowed ---
  x86::Mem access(uint32_t k, const Insn& in, int base_reg, int size, bool write) {
    if (!o_.checked) return mem_of(q(base_reg), in.off, size);
    a_.lea(AUX, x86::ptr(q(base_reg), in.off));
    Label slow = a_.newLabel(), ok = a_.newLabel();
    // Live stack [r10 - 512, stack_top): (a - (r10 - 512)) <= stack_top + 512 - size - r10, unsigned.
    a_.lea(T2, x86::ptr(AUX, static_cast<int32_t>(kStackSize)));
    a_.sub(T2, x86::rbp);
    a_.mov(T3, x86::qword_ptr(CTLR, static_cast<int32_t>(offsetof(RunCtl, lim) + 8 * size)));
    a_.sub(T3, x86::rbp);
    a_.cmp(T2, T3);
    a_.jbe(ok);
    // The first region (the input, packet or context): most accesses outside the stack.
    a_.mov(T2, AUX);
    a_.sub(T2, CTL(reg_base[0]));
    a_.cmp(T2, x86::qword_ptr(CTLR, lim_offset(0, write, size)));
    a_.jae(slow);
    a_.bind(ok);
    if (o_.spec_barrier) a_.lfence();
    Label site = new_site(Site{SiteKind::Oob, static_cast<uint8_t>(size), write,
                               static_cast<uint8_t>(base_reg), in.off, k, 0, 0});
    slow_paths_.push_back(SlowPath{slow, ok, site, static_cast<uint32_t>(size | (write ? 0x100 : 0))});
    return mem_of(AUX, 0, size);
  }

  static int32_t lim_offset(int region, bool write, int size) {
    return static_cast<int32_t>(offsetof(RunCtl, reg_lim) + 8 * (size + 9 * ((write ? 1 : 0) + 2 * region)));
  }

  struct SlowPath {
    Label entry, back, site;
    uint32_t code;
  };

 public:
  void emit_slow_paths() {
    for (const SlowPath& s : slow_paths_) {
      a_.bind(s.entry);
      a_.mov(T2, AUX);
      a_.sub(T2, CTL(reg_base[1]));
      a_.cmp(T2, x86::qword_ptr(CTLR, lim_offset(1, (s.code >> 8) != 0, static_cast<int>(s.code & 0xff))));
      a_.jb(s.back);
      a_.mov(T2.r32(), s.code);
      a_.call(mem_slow_);
      a_.jz(s.site);
      a_.jmp(s.back);
    }
  }

 private:
  void emit_helper_call(uint32_t pc, uint32_t reg) {
    a_.mov(CTL32(call_pc), pc);
    a_.mov(CTL32(call_reg), reg);
    a_.mov(CTL(cur_r10), x86::rbp);
    a_.mov(T3, CTLR);
    a_.mov(x86::rax, asmjit::imm(reinterpret_cast<uint64_t>(&rt_helper)));
    a_.call(x86::rax);
    a_.test(CTL8(flags), 0xff);
    a_.jnz(helper_slow_);
    for (int r = 1; r <= 5; ++r)
      a_.xor_(d(r), d(r));
  }

  // Local call of the function at r11 (native address) or label `target`.
  void emit_local_call(uint32_t k, const Label* target) {
    Label site = new_site(Site{SiteKind::CallDepth, 0, false, 0, 0, k, 0, 0});
    a_.cmp(x86::rbp, CTL(depth_limit));
    a_.jbe(site);
    a_.push(x86::rbx);
    a_.push(x86::r13);
    a_.push(x86::r14);
    a_.push(x86::r15);
    a_.sub(x86::rsp, 8);
    a_.sub(x86::rbp, kStackSize);
    if (target != nullptr)
      a_.call(*target);
    else
      indirect_call();
    a_.add(x86::rbp, kStackSize);
    a_.add(x86::rsp, 8);
    a_.pop(x86::r15);
    a_.pop(x86::r14);
    a_.pop(x86::r13);
    a_.pop(x86::rbx);
  }

  void emit_shift(const Insn& in, bool is64, AluOp op, x86::Gp count /* 64-bit register */) {
    x86::Gp dst = is64 ? q(in.dst) : d(in.dst);
    x86::Gp cnt = is64 ? count : count.r32();
    auto shx = [&](x86::Gp dd, x86::Gp ss, x86::Gp cc) {
      if (op == AluOp::Lsh)
        a_.shlx(dd, ss, cc);
      else if (op == AluOp::Rsh)
        a_.shrx(dd, ss, cc);
      else
        a_.sarx(dd, ss, cc);
    };
    auto sh_cl = [&](x86::Gp dd) {
      if (op == AluOp::Lsh)
        a_.shl(dd, x86::cl);
      else if (op == AluOp::Rsh)
        a_.shr(dd, x86::cl);
      else
        a_.sar(dd, x86::cl);
    };
    if (bmi2_) {
      shx(dst, dst, cnt);
      return;
    }
    if (count.id() == x86::Gp::kIdCx) {
      sh_cl(dst);
    } else if (kRegId[in.dst] == x86::Gp::kIdCx) {
      a_.mov(T2, x86::rcx);
      a_.mov(x86::rcx, count);
      sh_cl(is64 ? T2 : T2.r32());
      a_.mov(x86::rcx, T2);
    } else {
      a_.mov(T2, x86::rcx);
      a_.mov(x86::rcx, count);
      sh_cl(dst);
      a_.mov(x86::rcx, T2);
    }
  }

  // Division and modulo: divisor in r9.
  void emit_div(const Insn& in, bool is64, AluOp op) {
    const bool sgn = op == AluOp::Sdiv || op == AluOp::Smod;
    const bool mod = op == AluOp::Mod || op == AluOp::Smod;
    x86::Gp dst = q(in.dst);
    x86::Gp dv = is64 ? T3 : T3.r32();
    Label zero = a_.newLabel(), minus1 = a_.newLabel(), done = a_.newLabel();
    a_.test(dv, dv);
    a_.jz(zero);
    if (sgn) {
      a_.cmp(dv, -1);
      a_.je(minus1);
    }
    a_.mov(T2, x86::rax);
    a_.mov(AUX, x86::rdx);
    if (dst.id() != x86::Gp::kIdAx) a_.mov(x86::rax, dst);
    if (sgn) {
      if (is64)
        a_.cqo();
      else
        a_.cdq();
      a_.idiv(dv);
    } else {
      a_.xor_(x86::edx, x86::edx);
      a_.div(dv);
    }
    a_.mov(T3, mod ? x86::rdx : x86::rax);
    a_.mov(x86::rax, T2);
    a_.mov(x86::rdx, AUX);
    a_.mov(dst, T3);
    a_.jmp(done);
    a_.bind(zero);
    if (!mod)
      a_.xor_(d(in.dst), d(in.dst));
    else if (!is64)
      a_.mov(d(in.dst), d(in.dst));
    if (sgn) {
      a_.jmp(done);
      a_.bind(minus1);
      if (mod)
        a_.xor_(d(in.dst), d(in.dst));
      else if (is64)
        a_.neg(dst);
      else
        a_.neg(d(in.dst));
    }
    a_.bind(done);
  }

  void emit_alu(const Insn& in) {
    const OpInfo& info = in.info();
    const bool is64 = info.is64;
    const bool imm = info.form == Form::AluImm;
    x86::Gp dst = is64 ? q(in.dst) : d(in.dst);
    auto src = [&]() -> x86::Gp { return is64 ? q(in.src) : d(in.src); };
    // Second operand as a register: the source, or the immediate (sign-extended) in r11.
    auto operand = [&]() -> x86::Gp {
      if (!imm) return src();
      load_imm(AUX, in.imm);
      return is64 ? AUX : AUX.r32();
    };
    auto binop = [&](auto&& emit_reg, auto&& emit_imm) {
      if (imm && !o_.blinding)
        emit_imm(dst, asmjit::imm(static_cast<int64_t>(in.imm)));
      else
        emit_reg(dst, operand());
    };
    switch (info.alu) {
      case AluOp::Add:
        binop([&](auto x, auto y) { a_.add(x, y); }, [&](auto x, auto y) { a_.add(x, y); });
        return;
      case AluOp::Sub:
        binop([&](auto x, auto y) { a_.sub(x, y); }, [&](auto x, auto y) { a_.sub(x, y); });
        return;
      case AluOp::Or:
        binop([&](auto x, auto y) { a_.or_(x, y); }, [&](auto x, auto y) { a_.or_(x, y); });
        return;
      case AluOp::And:
        binop([&](auto x, auto y) { a_.and_(x, y); }, [&](auto x, auto y) { a_.and_(x, y); });
        return;
      case AluOp::Xor:
        binop([&](auto x, auto y) { a_.xor_(x, y); }, [&](auto x, auto y) { a_.xor_(x, y); });
        return;
      case AluOp::Mul:
        binop([&](auto x, auto y) { a_.imul(x, y); }, [&](auto x, auto y) { a_.imul(x, x, y); });
        return;
      case AluOp::Mov:
        if (imm) {
          if (!o_.blinding) {
            if (is64)
              a_.mov(dst, asmjit::imm(static_cast<int64_t>(in.imm)));
            else
              a_.mov(dst, asmjit::imm(static_cast<uint32_t>(in.imm)));
          } else {
            load_imm(q(in.dst), in.imm);
            if (!is64) a_.mov(dst, dst);
          }
        } else if (is64) {
          if (in.dst != in.src) a_.mov(dst, src());
        } else {
          a_.mov(dst, src());
        }
        return;
      case AluOp::Neg:
        a_.neg(dst);
        return;
      case AluOp::Movsx:
        if (info.ext_bits == 8)
          a_.movsx(dst, b(in.src));
        else if (info.ext_bits == 16)
          a_.movsx(dst, w(in.src));
        else
          a_.movsxd(dst, d(in.src));
        return;
      case AluOp::Lsh:
      case AluOp::Rsh:
      case AluOp::Arsh:
        if (imm) {
          if (!o_.blinding || !bmi2_) {
            uint32_t c = static_cast<uint32_t>(in.imm) & (is64 ? 63 : 31);
            if (info.alu == AluOp::Lsh)
              a_.shl(dst, c);
            else if (info.alu == AluOp::Rsh)
              a_.shr(dst, c);
            else
              a_.sar(dst, c);
            if (!is64 && c == 0) a_.mov(dst, dst);  // a shift by 0 does not zero-extend
            return;
          }
          load_imm(AUX, in.imm);
          emit_shift(in, is64, info.alu, AUX);
          return;
        }
        emit_shift(in, is64, info.alu, q(in.src));
        return;
      case AluOp::Div:
      case AluOp::Sdiv:
      case AluOp::Mod:
      case AluOp::Smod:
        if (imm)
          load_imm(T3, in.imm);
        else
          a_.mov(T3, q(in.src));
        emit_div(in, is64, info.alu);
        return;
      case AluOp::Le:
        if (info.ext_bits == 16)
          a_.movzx(d(in.dst), w(in.dst));
        else if (info.ext_bits == 32)
          a_.mov(d(in.dst), d(in.dst));
        return;
      case AluOp::Be:
      case AluOp::Bswap:
        if (info.ext_bits == 16) {
          a_.rol(w(in.dst), 8);
          a_.movzx(d(in.dst), w(in.dst));
        } else if (info.ext_bits == 32) {
          a_.bswap(d(in.dst));
        } else {
          a_.bswap(q(in.dst));
        }
        return;
      case AluOp::None:
        return;
    }
  }

  void emit_jcc(Cond c, const Label& l) {
    switch (c) {
      case Cond::Eq:
        a_.je(l);
        return;
      case Cond::Ne:
        a_.jne(l);
        return;
      case Cond::Gt:
        a_.ja(l);
        return;
      case Cond::Ge:
        a_.jae(l);
        return;
      case Cond::Lt:
        a_.jb(l);
        return;
      case Cond::Le:
        a_.jbe(l);
        return;
      case Cond::Set:
        a_.jnz(l);
        return;
      case Cond::Sgt:
        a_.jg(l);
        return;
      case Cond::Sge:
        a_.jge(l);
        return;
      case Cond::Slt:
        a_.jl(l);
        return;
      case Cond::Sle:
        a_.jle(l);
        return;
      case Cond::Always:
        a_.jmp(l);
        return;
      case Cond::None:
        return;
    }
  }

  void emit_atomic(uint32_t k, const Insn& in) {
    const OpInfo& info = in.info();
    const int size = info.size;
    const bool is64 = size == 8;
    x86::Mem m = access(k, in, in.dst, size, true);
    x86::Gp src = is64 ? q(in.src) : d(in.src);
    switch (info.atomic) {
      case AtomicOp::Add:
        if (info.fetch)
          a_.lock().xadd(m, src);
        else
          a_.lock().add(m, src);
        return;
      case AtomicOp::Xchg:
        a_.xchg(m, src);
        return;
      case AtomicOp::Cmpxchg:
        a_.lock().cmpxchg(m, src, is64 ? x86::Gp(x86::rax) : x86::Gp(x86::eax));
        if (!is64) a_.mov(x86::eax, x86::eax);
        return;
      case AtomicOp::Or:
      case AtomicOp::And:
      case AtomicOp::Xor: {
        auto op = [&](x86::Gp x, x86::Gp y) {
          if (info.atomic == AtomicOp::Or)
            a_.or_(x, y);
          else if (info.atomic == AtomicOp::And)
            a_.and_(x, y);
          else
            a_.xor_(x, y);
        };
        if (!info.fetch) {
          if (info.atomic == AtomicOp::Or)
            a_.lock().or_(m, src);
          else if (info.atomic == AtomicOp::And)
            a_.lock().and_(m, src);
          else
            a_.lock().xor_(m, src);
          return;
        }
        // Fetch form: a cmpxchg loop on the address in r11; r0 (rax) saved in r10.
        if (!o_.checked) {
          a_.lea(AUX, x86::ptr(q(in.dst), in.off));
          m = mem_of(AUX, 0, size);
        }
        x86::Gp acc = is64 ? x86::Gp(x86::rax) : x86::Gp(x86::eax);
        x86::Gp tmp = is64 ? T3 : T3.r32();
        x86::Gp val = in.src == 0 ? (is64 ? T2 : T2.r32()) : src;
        a_.mov(T2, x86::rax);
        a_.mov(acc, m);
        Label loop = a_.newLabel();
        a_.bind(loop);
        a_.mov(tmp, acc);
        op(tmp, val);
        a_.lock().cmpxchg(m, tmp, acc);
        a_.jnz(loop);
        if (in.src != 0) {
          a_.mov(src, acc);
          a_.mov(x86::rax, T2);
        }
        return;
      }
      case AtomicOp::None:
        return;
    }
  }

  void emit(uint32_t k, const Insn& in) {
    const OpInfo& info = in.info();
    switch (info.form) {
      case Form::AluImm:
      case Form::AluReg:
      case Form::AluNeg:
      case Form::End:
        emit_alu(in);
        return;
      case Form::AddrSpaceCast:
      case Form::MayGoto:
        return;  // refused by compile()
      case Form::Ja:
      case Form::Ja32:
        a_.jmp(labels_[static_cast<size_t>(in.target)]);
        return;
      case Form::JmpImm:
      case Form::JmpReg: {
        const bool is64 = info.is64;
        x86::Gp dst = is64 ? q(in.dst) : d(in.dst);
        if (info.form == Form::JmpReg) {
          x86::Gp src = is64 ? q(in.src) : d(in.src);
          if (info.cond == Cond::Set)
            a_.test(dst, src);
          else
            a_.cmp(dst, src);
        } else if (!o_.blinding) {
          if (info.cond == Cond::Set)
            a_.test(dst, asmjit::imm(static_cast<int64_t>(in.imm)));
          else
            a_.cmp(dst, asmjit::imm(static_cast<int64_t>(in.imm)));
        } else {
          load_imm(AUX, in.imm);
          x86::Gp src = is64 ? AUX : AUX.r32();
          if (info.cond == Cond::Set)
            a_.test(dst, src);
          else
            a_.cmp(dst, src);
        }
        emit_jcc(info.cond, labels_[static_cast<size_t>(in.target)]);
        return;
      }
      case Form::Call:
        a_.mov(AUX.r32(), static_cast<uint32_t>(in.imm));
        a_.mov(CTL(call_id), AUX);
        emit_helper_call(in.pc, kCallImm);
        return;
      case Form::CallLocal:
        emit_local_call(k, &labels_[static_cast<size_t>(in.target)]);
        return;
      case Form::CallKfunc: {
        Label site = new_site(Site{SiteKind::Kfunc, 0, false, 0, 0, k, 0, in.imm});
        a_.jmp(site);
        return;
      }
      case Form::Callx: {
        a_.mov(CTL(call_id), q(in.dst));
        a_.mov(CTL32(call_pc), in.pc);
        a_.mov(CTL32(call_reg), in.dst);
        const x86::Gp saved[] = {x86::rax, x86::rdi, x86::rsi, x86::rdx, x86::rcx, x86::r8};
        for (const auto& r : saved)
          a_.push(r);
        a_.mov(x86::rdi, CTLR);
        a_.mov(x86::rax, asmjit::imm(reinterpret_cast<uint64_t>(&rt_callx)));
        a_.call(x86::rax);
        a_.mov(AUX, x86::rax);
        for (int i = 5; i >= 0; --i)
          a_.pop(saved[i]);
        Label helper = a_.newLabel(), done = a_.newLabel();
        a_.test(AUX, AUX);
        a_.jz(helper);
        emit_local_call(k, nullptr);
        a_.jmp(done);
        a_.bind(helper);
        a_.test(CTL8(flags), kFlagError);
        a_.jnz(unwind_);
        emit_helper_call(in.pc, in.dst);
        a_.bind(done);
        return;
      }
      case Form::Exit:
        a_.ret();
        return;
      case Form::Lddw:
        if (in.op == Op::LddwFunc)
          a_.mov(q(in.dst), asmjit::imm(impl_.func_base() + static_cast<uint64_t>(in.target)));
        else
          load_imm64(q(in.dst), in.imm64);
        return;
      case Form::Ldx:
      case Form::LoadAcquire: {
        const int size = info.size;
        x86::Mem m = access(k, in, in.src, size, false);
        if (info.sign_ext) {
          if (size == 4)
            a_.movsxd(q(in.dst), m);
          else
            a_.movsx(q(in.dst), m);
        } else if (size < 4) {
          a_.movzx(d(in.dst), m);
        } else {
          a_.mov(size == 8 ? q(in.dst) : d(in.dst), m);
        }
        return;
      }
      case Form::St: {
        const int size = info.size;
        x86::Mem m = access(k, in, in.dst, size, true);
        if (!o_.blinding) {
          int64_t v = size == 8   ? static_cast<int64_t>(in.imm)
                      : size == 4 ? static_cast<int64_t>(static_cast<uint32_t>(in.imm))
                      : size == 2 ? static_cast<int64_t>(static_cast<uint16_t>(in.imm))
                                  : static_cast<int64_t>(static_cast<uint8_t>(in.imm));
          a_.mov(m, asmjit::imm(v));
        } else {
          load_imm(T2, in.imm);
          a_.mov(m, sized(T2, size));
        }
        return;
      }
      case Form::Stx:
      case Form::StoreRelease: {
        const int size = info.size;
        x86::Mem m = access(k, in, in.dst, size, true);
        a_.mov(m, sized(q(in.src), size));
        return;
      }
      case Form::Atomic:
        emit_atomic(k, in);
        return;
      case Form::LdAbs:
      case Form::LdInd: {
        const int size = info.size;
        if (!o_.blinding) {
          a_.mov(AUX.r32(), static_cast<uint32_t>(in.imm));
        } else {
          uint32_t key = key32(static_cast<uint32_t>(in.imm));
          a_.mov(AUX.r32(), static_cast<uint32_t>(in.imm) ^ key);
          a_.xor_(AUX.r32(), key);
        }
        if (info.form == Form::LdInd) a_.add(AUX.r32(), d(in.src));
        // r0 = legacy_packet_load(ctl->legacy, k, size), as the interpreter (vm/legacy_packet.h);
        // r1-r5 are zeroed below, the other BPF registers are callee-saved.
        a_.mov(x86::esi, AUX.r32());
        a_.mov(x86::rdi, CTL(legacy));
        a_.mov(x86::edx, size);
        a_.mov(x86::rax, asmjit::imm(reinterpret_cast<uint64_t>(&legacy_packet_load)));
        a_.call(x86::rax);
        a_.test(x86::rax, x86::rax);
        a_.js(ldabs_oob_);
        for (int r = 1; r <= 5; ++r)
          a_.xor_(d(r), d(r));
        return;
      }
    }
  }

  x86::Assembler& a_;
  const Program& p_;
  JitProgram::Impl& impl_;
  const JitOptions& o_;
  bool bmi2_;
  bool metered_ = false;
  bool uses_retpoline_ = false;
  Rng rng_{0};
  std::vector<Label> labels_;
  std::vector<Label> site_labels_;
  std::vector<SlowPath> slow_paths_;
  Label body_, exit_, unwind_, helper_slow_, ldabs_oob_, mem_slow_, fault_common_, retpoline_;
};

// Per-thread stack of unchecked runs (see the top of the file); nested runs on the same thread use
// their own.
struct ThreadStack {
  alignas(64) uint8_t bytes[kStackBytes];
  bool busy = false;
};
thread_local ThreadStack t_stack;

}  // namespace

bool jit_supported() {
#if defined(__x86_64__) && defined(__linux__)
  return true;
#else
  return false;
#endif
}

JitProgram::JitProgram(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JitProgram::~JitProgram() = default;

Result<std::unique_ptr<JitProgram>> JitProgram::compile(const Program& program,
                                                        const HelperTable* helpers,
                                                        const JitOptions& opts) {
  if (!jit_supported())
    return make_error(ErrorCode::kUnsupported, kNoPc, "the JIT needs an x86-64 Linux host");
  BPFVM_TRY(detail::check_program(program));
  if (!opts.checked && !opts.verified)
    return make_error(ErrorCode::kJit, kNoPc,
                      "unchecked JIT code needs a verified program: compile it checked, or verify it first");
  const std::vector<Insn>& insns = program.insns;
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  impl->helpers = helpers;
  const size_t n = insns.size();
  impl->pcs.resize(n);
  impl->is_func.assign(n, 0);
  for (uint32_t s : program.subprogs)
    impl->is_func[s] = 1;
  for (size_t k = 0; k < n; ++k)
    impl->pcs[k] = insns[k].pc;

  static const bool bmi2 = asmjit::CpuInfo::host().hasFeature(asmjit::CpuFeatures::X86::kBMI2);
  asmjit::CodeHolder code;
  code.init(asmjit::Environment::host());
  ErrorRecorder errors;
  code.setErrorHandler(&errors);
  asmjit::StringLogger logger;
  if (opts.disassembly) code.setLogger(&logger);
  x86::Assembler a(&code);
  Compiler c(a, program, *impl, bmi2);
  c.compile();
  c.emit_slow_paths();
  // Subprogram entry labels -> native addresses after relocation.
  std::vector<uint64_t> sub_off;
  if (errors.err != asmjit::kErrorOk)
    return make_error(ErrorCode::kJit, kNoPc, fmt::format("assembler: {}", errors.msg));
  if (code.flatten() != asmjit::kErrorOk || code.resolveUnresolvedLinks() != asmjit::kErrorOk)
    return make_error(ErrorCode::kJit, kNoPc, "assembler: cannot resolve labels");
  const size_t size = code.codeSize();
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t map_size = (size + page - 1) / page * page;
  void* map = mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return make_error(ErrorCode::kJit, kNoPc, "cannot map memory for the code");
  impl->map = map;
  impl->map_size = map_size;
  const uint64_t base = reinterpret_cast<uint64_t>(map);
  if (code.relocateToBase(base) != asmjit::kErrorOk)
    return make_error(ErrorCode::kJit, kNoPc, "assembler: relocation failed");
  impl->code_size = code.codeSize();
  if (impl->code_size > map_size)
    return make_error(ErrorCode::kJit, kNoPc, "assembler: code grew on relocation");
  if (code.copyFlattenedData(map, map_size, asmjit::CopySectionFlags::kPadTargetBuffer) != asmjit::kErrorOk)
    return make_error(ErrorCode::kJit, kNoPc, "assembler: copy failed");
  if (mprotect(map, map_size, PROT_READ | PROT_EXEC) != 0)
    return make_error(ErrorCode::kJit, kNoPc, "cannot make the code executable");
  impl->entry = reinterpret_cast<EntryFn>(base);
  impl->main_body = reinterpret_cast<const void*>(base + code.labelOffsetFromBase(c.label(0)));
  impl->subprogs = program.subprogs;
  for (uint32_t s : impl->subprogs)
    impl->sub_addr.push_back(reinterpret_cast<const void*>(base + code.labelOffsetFromBase(c.label(s))));
  if (opts.disassembly) impl->disasm.assign(logger.data(), logger.dataSize());
  return std::unique_ptr<JitProgram>(new JitProgram(std::move(impl)));
}

namespace {

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
  st.legacy.init(input.legacy_packet, st.regions);
  st.ctl.legacy = st.legacy.get();
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

Result<uint64_t> JitProgram::run(const RunInput& input, Environment& env, RunStats* stats) const {
  return run_code(*impl_,
                  RunArgs{input.args, input.regions, input.resolver, input.tail_calls, input.context,
                          input.legacy_packet},
                  env, stats);
}

// No RunInput (and no allocation of its region vector) on this path: it is the per-call overhead.
Result<uint64_t> JitProgram::run(std::span<uint8_t> mem, Environment& env, RunStats* stats) const {
  const uint64_t args[5] = {reinterpret_cast<uint64_t>(mem.data()), mem.size(), 0, 0, 0};
  const MemRegion region{args[0], mem.size(), true, "input"};
  std::span<const MemRegion> regions;
  if (!mem.empty()) regions = std::span<const MemRegion>(&region, 1);
  return run_code(*impl_, RunArgs{args, regions, nullptr, nullptr, nullptr}, env, stats);
}

std::span<const uint8_t> JitProgram::code() const {
  return {static_cast<const uint8_t*>(impl_->map), impl_->code_size};
}
std::string JitProgram::disassembly() const {
  return impl_->disasm;
}
const JitOptions& JitProgram::options() const {
  return impl_->opts;
}
bool JitProgram::checked() const {
  return impl_->opts.checked;
}

}  // namespace bpfvm::jit
