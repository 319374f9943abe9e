// The program's layout: an entry thunk (C++ -> JIT), then every instruction in program order
// (subprograms are native functions: a local call is `call`, exit is `ret`), then the cold paths
// (fault sites, shared stubs). See jit/jit.cpp for the run-time conventions.
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

void Emitter::compile() {
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
    k_ = static_cast<uint32_t>(k);
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
    emit_insn(*this, p_.insns[k]);
  }
  emit_cold();
  emit_slow_paths();
}

void Emitter::load_imm(x86::Gp reg, Imm32 imm) {
  a_.mov(reg, asmjit::imm(imm.plain()));
  if (imm.blinded()) a_.xor_(reg, asmjit::imm(static_cast<int64_t>(static_cast<int32_t>(imm.key))));
}

void Emitter::load_imm64(x86::Gp reg, Imm64 imm) {
  a_.mov(reg, asmjit::imm(imm.value));
  if (!imm.blinded()) return;
  a_.mov(AUX, asmjit::imm(imm.key));
  a_.xor_(reg, AUX);
}

// --- entry thunk: uint64_t entry(RunCtl*, const uint64_t* args, uint64_t r10, const void* target) ---
void Emitter::emit_thunk() {
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

}  // namespace bpfvm::jit::internal
