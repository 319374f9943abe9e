// The program's layout: an entry thunk (C++ -> JIT), then every instruction in program order
// (subprograms are native functions: a local call is `call`, exit is `ret`), then the cold paths
// (fault sites, shared stubs). See jit/jit.cpp for the run-time conventions.
#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "jit/x86/emitter_p.h"
#include "vm/disasm.h"
#include "vm/interp.h"

namespace bpfvm::jit::internal {
namespace {

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

void emit_insn(Emitter& e, const Insn& in) {
  switch (in.info().form) {
    case Form::AluImm:
    case Form::AluReg:
    case Form::AluNeg:
    case Form::End:
      emit_alu(e, in);
      return;
    case Form::AddrSpaceCast:
    case Form::MayGoto:
      return;  // refused by compile()
    case Form::Ja:
    case Form::Ja32:
    case Form::JmpImm:
    case Form::JmpReg:
      emit_jump(e, in);
      return;
    case Form::Call:
      emit_call(e, in);
      return;
    case Form::CallLocal:
      emit_call_local(e, in);
      return;
    case Form::CallKfunc:
      emit_call_kfunc(e, in);
      return;
    case Form::Callx:
      emit_callx(e, in);
      return;
    case Form::Exit:
      emit_exit(e, in);
      return;
    case Form::Lddw:
      emit_lddw(e, in);
      return;
    case Form::Ldx:
    case Form::LoadAcquire:
      emit_load(e, in);
      return;
    case Form::St:
    case Form::Stx:
    case Form::StoreRelease:
      emit_store(e, in);
      return;
    case Form::Atomic:
      emit_atomic(e, in);
      return;
    case Form::LdAbs:
    case Form::LdInd:
      emit_ld_packet(e, in);
      return;
  }
}

}  // namespace

Emitter::Emitter(x86::Assembler& a, const Program& p, JitProgram::Impl& impl, bool bmi2)
    : a_(a), p_(p), impl_(impl), o_(impl.opts), bmi2_(bmi2), blinding_(o_.blinding, o_.blinding_seed) {}

uint64_t Emitter::func_token(const Insn& in) const {
  return impl_.func_base() + static_cast<uint64_t>(in.target);
}

Label Emitter::new_site(const Site& s) {
  impl_.sites.push_back(s);
  site_labels_.push_back(a_.newLabel());
  return site_labels_.back();
}

Label Emitter::call_entry(uint32_t k) {
  if (k == 0) return main_stub_ ? main_stub_label_ : labels_[0];
  auto it = std::lower_bound(funcs_.begin(), funcs_.end(), k,
                             [](const Func& f, uint32_t v) { return f.begin < v; });
  return it->entry;
}

bool Emitter::ja_fusable(size_t k) const {
  const size_t n = p_.insns.size();
  const Insn& in = p_.insns[k];
  if (metered_ || k + 1 >= n || static_cast<size_t>(in.target) != k + 2) return false;
  const Form f = p_.insns[k + 1].info().form;
  return (f == Form::Ja || f == Form::Ja32) && !is_target_[k + 1];
}

const Insn* Emitter::fusable_ja() const {
  return ja_fusable(k_) ? &p_.insns[k_ + 1] : nullptr;
}

void Emitter::set_flags(int reg, bool is64, FlagsFrom from) {
  flags_ = Flags{reg, is64, from};
}

bool Emitter::flags_hold(int reg, bool is64, Cond cond) const {
  const Flags& f = prev_flags_;
  if (f.from == FlagsFrom::None || f.reg != reg || f.is64 != is64) return false;
  return f.from == FlagsFrom::Logic || cond == Cond::Eq || cond == Cond::Ne;
}

namespace {

uint16_t reg_bit(int r) {
  return r >= 0 && r < kNumRegs ? static_cast<uint16_t>(1u << r) : 0;
}

bool is_call(Form f) {
  return f == Form::Call || f == Form::CallLocal || f == Form::CallKfunc || f == Form::Callx;
}

// Code of `in` that leaves the flags alone (unchecked code), and the register it writes (-1: none).
bool keeps_flags(const Insn& in, bool checked, int* writes) {
  const OpInfo& info = in.info();
  *writes = -1;
  if (checked) return false;
  switch (info.form) {
    case Form::AluReg:
      if (info.alu != AluOp::Mov && info.alu != AluOp::Movsx) return false;
      *writes = in.dst;
      return true;
    case Form::Ldx:
    case Form::LoadAcquire:
      *writes = in.dst;
      return true;
    case Form::Stx:
    case Form::StoreRelease:
      return true;
    default:
      return false;
  }
}

constexpr int kCalleeSaved[] = {6, 7, 8, 9};  // BPF registers in rbx, r13, r14, r15

}  // namespace

bool Emitter::calls_out(size_t k) const {
  return is_call(p_.insns[k].info().form) && !inline_lookup(k);
}

// Whether `in` leaves r1 alone (conservatively: straight-line instructions that do not write it,
// and conditional jumps).
namespace {
bool keeps_r1(const Insn& in) {
  const Form f = in.info().form;
  return (plain_step(in) && (reg_effect(in).writes & reg_set(1)) == 0) || f == Form::JmpImm ||
         f == Form::JmpReg;
}
}  // namespace

// Calls of bpf_map_lookup_elem whose r1 is an lddw's map address (the last write of r1 in the
// same basic block), in unchecked code of a verified program: the planner says how to do them.
// The planned code does not read r1, and r1 is dead after a call (the verifier makes r1-r5
// unreadable): when nothing between reads r1 either, the lddw is not emitted.
void Emitter::plan_lookups() {
  if (o_.map_lookups == nullptr || o_.checked || !o_.verified) return;
  const size_t n = p_.insns.size();
  for (size_t k = 0; k < n; ++k) {
    const Insn& in = p_.insns[k];
    if (in.info().form != Form::Call || in.imm != 1 || is_target_[k]) continue;
    bool r1_read = false;
    for (size_t j = k; j-- > 0;) {
      const Insn& def = p_.insns[j];
      if (def.info().form == Form::Lddw && def.dst == 1) {
        if (def.op == Op::Lddw) {
          MapLookupPlan plan = o_.map_lookups->plan(Blinding::plain_imm64(def));
          if (plan.kind != MapLookupPlan::Kind::Helper) {
            if (lookups_.empty()) {
              lookups_.resize(n);
              dead_lddw_.assign(n, 0);
            }
            lookups_[k] = plan;
            dead_lddw_[j] = !r1_read;
            ++impl_.planned_lookups;
          }
        }
        break;
      }
      if (!keeps_r1(def) || is_target_[j]) break;
      r1_read |= def.dst == 1 || def.src == 1;
    }
  }
}

void Emitter::analyse() {
  const size_t n = p_.insns.size();
  metered_ = o_.checked || o_.meter_budget;
  is_target_.assign(n, 0);
  loop_head_.assign(n, 0);
  bool calls = false, helpers = false, packet = false;
  for (size_t k = 0; k < n; ++k) {
    const Insn& in = p_.insns[k];
    const Form f = in.info().form;
    if (detail::has_target(in)) {  // jumps and local calls
      is_target_[static_cast<size_t>(in.target)] = 1;
      if (static_cast<size_t>(in.target) <= k && f != Form::CallLocal)
        loop_head_[static_cast<size_t>(in.target)] = 1;
    }
    if (in.target == 0 && (f == Form::CallLocal || in.op == Op::LddwFunc)) main_stub_ = true;
    referenced_ |= reg_bit(in.dst);
    if (in.src <= kFrameReg) referenced_ |= reg_bit(in.src);
    packet |= f == Form::LdAbs || f == Form::LdInd;
  }
  for (uint32_t s : p_.subprogs)  // function entries (calls land there)
    is_target_[s] = 1;
  plan_lookups();
  for (size_t k = 0; k < n; ++k) {
    const Form f = p_.insns[k].info().form;
    calls |= calls_out(k);
    helpers |= (f == Form::Call && lookup_plan(k) == nullptr) || f == Form::Callx;
  }
  // Callbacks and callx can reach the main program through a (possibly forged) function token.
  main_stub_ |= helpers;
  helpers_ = helpers;
  leaf_ = !metered_ && !calls && !packet;
  impl_.needs_ctl = !leaf_;
  impl_.uses_packet = packet;
  // The thunk saves the callee-saved registers the program names, and zeroes them as the
  // interpreter starts with zeroed registers. With helper calls it saves all of them: a tail call
  // continues in another program's code, which may use any.
  for (int r : kCalleeSaved)
    if ((referenced_ & reg_bit(r)) || o_.checked || helpers) thunk_saved_ |= reg_bit(r);

  for (size_t i = 0; i < p_.subprogs.size(); ++i) {
    Func fn;
    fn.begin = p_.subprogs[i];
    fn.end = i + 1 < p_.subprogs.size() ? p_.subprogs[i + 1] : static_cast<uint32_t>(n);
    bool has_calls = false;
    for (uint32_t k = fn.begin; k < fn.end; ++k) {
      const Insn& in = p_.insns[k];
      for (int r : kCalleeSaved)
        if (in.dst == r || in.src == r) fn.saved |= reg_bit(r);
      // (A legacy packet load calls legacy_packet_load.)
      has_calls |= calls_out(k) || in.info().form == Form::LdAbs || in.info().form == Form::LdInd;
    }
    // At a function's entry rsp is 8 mod 16; calls out of it (helpers, runtime stubs, local calls)
    // need it 0 mod 16.
    const bool aligned = metered_ || has_calls;
    fn.pad = aligned && __builtin_popcount(fn.saved) % 2 == 0;
    fn.entry = a_.newLabel();
    funcs_.push_back(fn);
  }
}

void Emitter::compile() {
  const size_t n = p_.insns.size();
  exit_ = a_.newLabel();
  unwind_ = a_.newLabel();
  helper_slow_ = a_.newLabel();
  ldabs_oob_ = a_.newLabel();
  mem_slow_ = a_.newLabel();
  fault_common_ = a_.newLabel();
  retpoline_ = a_.newLabel();
  main_stub_label_ = a_.newLabel();
  main_entry_ = a_.newLabel();
  analyse();
  // Labels only where code jumps or calls to (each costs the assembler an allocation).
  labels_.resize(n);
  for (size_t k = 0; k < n; ++k)
    if (k == 0 || is_target_[k]) labels_[k] = a_.newLabel();
  plan_fusions();
  plan_hoisting();

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
  if (main_stub_) emit_main_stub();
  for (size_t k = 0; k < n; ++k) {
    k_ = static_cast<uint32_t>(k);
    if (func_ + 1 < funcs_.size() && funcs_[func_ + 1].begin == k) {
      ++func_;
      a_.bind(funcs_[func_].entry);
      emit_prologue(funcs_[func_]);
    }
    if (!loop_of_.empty() && loop_of_[k] >= 0 && loops_[static_cast<size_t>(loop_of_[k])].begin == k)
      materialize(loops_[static_cast<size_t>(loop_of_[k])]);  // the fall-through into the loop
    if (k == 0) {
      a_.bind(main_entry_);
      materialize_run_slots();
    }
    if (loop_head_[k])
      a_.align(asmjit::AlignMode::kCode, 64);  // measured: up to 25 % on a loop; 64 rather than 32: -25 % on
                                               // `sort` (blinded) on a Rocket Lake host
    if (labels_[k].isValid()) a_.bind(labels_[k]);
    if (is_target_[k]) flags_ = Flags{};
    if (skip_ > 0) {  // the ja of a fused jump, the rest of a fused group
      --skip_;
      continue;
    }
    if (metered_ && leader[k]) {
      size_t end = k + 1;
      while (end < n && !leader[end])
        ++end;
      uint32_t len = static_cast<uint32_t>(end - k);
      Label site = new_site(Site{SiteKind::Budget, 0, false, 0, 0, static_cast<uint32_t>(k), len, 0});
      a_.sub(CTL(remaining), len);
      a_.jb(site);
      flags_ = Flags{};
    }
    const Insn& in = p_.insns[k];
    if (o_.disassembly) a_.commentf("; pc %u: %s", in.pc, disassemble_insn(in).c_str());
    // The flags after the previous instruction; this one's code may set them.
    prev_flags_ = flags_;
    flags_ = Flags{};
    if (dead_lddw(k) || folded(k)) continue;  // (the flags stay reset: conservative)
    if (emit_fused()) continue;               // (the flags are what its code left)
    bool restored = false;  // a fused lea's immediate restored through r11 (xor: flags changed)
    const bool fused = fuse_mov_add(&restored) || fuse_mov_shift();
    if (!fused) emit_insn(*this, in);
    int writes = -1;
    if (!restored && flags_.from == FlagsFrom::None && keeps_flags(in, o_.checked, &writes) &&
        writes != prev_flags_.reg)
      flags_ = prev_flags_;
  }
  emit_loop_stubs();
  emit_edge_stubs();
  emit_cold();
  emit_slow_paths();
}

void Emitter::load_imm(x86::Gp reg, Imm32 imm) {
  // A 64-bit register gets the sign-extended immediate; when it is not negative a 32-bit restore
  // (shorter, and it zero-extends) gives the same value.
  const x86::Gp r = reg.isGpq() && imm.negative ? reg : reg.r32();
  if (r.isGpq()) {
    a_.mov(r, asmjit::imm(imm.plain()));
    if (imm.blinded()) a_.xor_(r, asmjit::imm(static_cast<int64_t>(static_cast<int32_t>(imm.key))));
    return;
  }
  a_.mov(r, asmjit::imm(imm.value));
  if (imm.blinded()) a_.xor_(r, asmjit::imm(imm.key));
}

void Emitter::load_imm64(x86::Gp reg, Imm64 imm) {
  switch (imm.width) {
    case Imm64::Width::Zext32:
      a_.mov(reg.r32(), asmjit::imm(static_cast<uint32_t>(imm.value)));
      if (imm.blinded()) a_.xor_(reg.r32(), asmjit::imm(static_cast<uint32_t>(imm.key)));
      return;
    case Imm64::Width::Sext32:
      a_.mov(reg.r64(), asmjit::imm(static_cast<int64_t>(static_cast<int32_t>(imm.value))));
      if (imm.blinded()) a_.xor_(reg.r64(), asmjit::imm(static_cast<int64_t>(static_cast<int32_t>(imm.key))));
      return;
    case Imm64::Width::Full:
      break;
  }
  a_.mov(reg.r64(), asmjit::imm(imm.value));
  if (!imm.blinded()) return;
  a_.mov(AUX, asmjit::imm(imm.key));
  a_.xor_(reg.r64(), AUX);
}

// --- entry thunk: uint64_t entry(RunCtl*, const uint64_t* args, uint64_t r10, const void* target) ---
//
// Full form (programs that call, fault or load from the packet): saves rbp, r12, the callee-saved
// registers the program uses and the outer activation's RunCtl::saved_rsp, records its own stack
// pointer there (for unwinding), sets r12 = RunCtl, r10 and r1-r5, zeroes r0 and the saved
// registers, and calls the main body (directly: `target` is always it) with rsp 8 mod 16 (the body
// runs at 0 mod 16). A second copy (`callback_entry`) calls `target`, a subprogram's prologue, with
// rsp 0 mod 16, as a local call does. Leaf form: saves and sets only the registers the program
// names and calls the main body; no RunCtl.
void Emitter::emit_thunk() {
  const x86::Gp saved_regs[] = {x86::rbx, x86::r13, x86::r14, x86::r15};
  std::vector<x86::Gp> saved;
  for (int i = 0; i < 4; ++i)
    if (thunk_saved_ & reg_bit(kCalleeSaved[i])) saved.push_back(saved_regs[i]);
  const bool r10 = !leaf_ || (referenced_ & reg_bit(kFrameReg));
  auto load_args = [&](bool all) {
    for (int r : {3, 4, 5, 1, 2})  // rsi (r2, the args pointer) last
      if (all || (referenced_ & reg_bit(r))) a_.mov(q(r), x86::qword_ptr(x86::rsi, 8 * (r - 1)));
    a_.xor_(x86::eax, x86::eax);
    for (const auto& r : saved)
      a_.xor_(r.r32(), r.r32());
  };
  if (leaf_) {
    if (r10) a_.push(x86::rbp);
    if (thunk_r12_) a_.push(x86::r12);
    for (const auto& r : saved)
      a_.push(r);
    if (r10) a_.mov(x86::rbp, x86::rdx);
    load_args(false);
    a_.call(main_entry_);
    a_.bind(exit_);
    for (auto it = saved.rbegin(); it != saved.rend(); ++it)
      a_.pop(*it);
    if (thunk_r12_) a_.pop(x86::r12);
    if (r10) a_.pop(x86::rbp);
    a_.ret();
    return;
  }
  const size_t slots = 3 + saved.size();  // rbp, r12, the saved registers, the outer saved_rsp
  auto prologue = [&](bool pad, bool callback) {
    a_.push(x86::rbp);
    a_.push(x86::r12);
    for (const auto& r : saved)
      a_.push(r);
    a_.push(x86::qword_ptr(x86::rdi, offsetof(RunCtl, saved_rsp)));
    a_.mov(x86::qword_ptr(x86::rdi, offsetof(RunCtl, saved_rsp)), x86::rsp);
    if (pad) a_.sub(x86::rsp, 8);
    a_.mov(CTLR, x86::rdi);
    a_.mov(x86::rbp, x86::rdx);
    if (callback) a_.mov(AUX, x86::rcx);
    load_args(true);
    if (callback)
      indirect_call();
    else
      a_.call(main_entry_);  // `entry` always runs the main program
  };
  // Entry rsp is 8 mod 16: `slots` pushes leave it at 8 + 8 slots.
  prologue(slots % 2 == 1, false);
  a_.bind(exit_);
  a_.mov(x86::rsp, CTL(saved_rsp));
  a_.pop(CTL(saved_rsp));
  for (auto it = saved.rbegin(); it != saved.rend(); ++it)
    a_.pop(*it);
  a_.pop(x86::r12);
  a_.pop(x86::rbp);
  a_.ret();
  if (helpers_) {  // callbacks
    callback_entry_ = a_.newLabel();
    a_.bind(callback_entry_);
    prologue(slots % 2 == 0, true);
    a_.jmp(exit_);
  }
}

// Calls of the main program (a function token of instruction 0, or recursion in checked code): its
// callee-saved registers around a call of its body, which runs at rsp 0 mod 16.
void Emitter::emit_main_stub() {
  const Func& f = funcs_[0];
  const x86::Gp saved_regs[] = {x86::rbx, x86::r13, x86::r14, x86::r15};
  a_.bind(main_stub_label_);
  const int n = __builtin_popcount(f.saved);
  for (int i = 0; i < 4; ++i)
    if (f.saved & reg_bit(kCalleeSaved[i])) a_.push(saved_regs[i]);
  if (n % 2 == 1) a_.sub(x86::rsp, 8);
  a_.call(labels_[0]);
  if (n % 2 == 1) a_.add(x86::rsp, 8);
  for (int i = 3; i >= 0; --i)
    if (f.saved & reg_bit(kCalleeSaved[i])) a_.pop(saved_regs[i]);
  a_.ret();
}

void Emitter::indirect_call() {
  if (o_.retpoline)
    a_.call(retpoline_);
  else
    a_.call(AUX);
  uses_retpoline_ |= o_.retpoline;
}

void Emitter::indirect_jump() {
  if (o_.retpoline)
    a_.jmp(retpoline_);
  else
    a_.jmp(AUX);
  uses_retpoline_ |= o_.retpoline;
}

void Emitter::emit_cold() {
  // Faults and LD_ABS/LD_IND out of the packet end the activation (see jit/jit.cpp).
  a_.bind(ldabs_oob_);
  a_.xor_(x86::eax, x86::eax);
  a_.bind(unwind_);
  a_.jmp(exit_);  // which restores rsp from RunCtl::saved_rsp

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

}  // namespace bpfvm::jit::internal
