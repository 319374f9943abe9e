// Calls and exit. Helper calls go through rt_helper (the helper table and its HelperCall), with
// r1-r5 where the System V ABI wants them; they zero r1-r5 afterwards, as the interpreter does.
// A local call is a native `call` with its own 512-byte frame: it pushes r6-r9 (rbx, r13-r15) and
// 8 bytes of padding, moves r10 down one frame and calls; the return restores them (the
// interpreter's Frame). The call depth follows from r10, so its limit is one compare.
#include "jit/x86/emitter_p.h"

namespace bpfvm::jit::internal {
namespace {

void emit_helper_call(Emitter& e, uint32_t pc, uint32_t reg) {
  x86::Assembler& a = e.as();
  a.mov(CTL32(call_pc), pc);
  a.mov(CTL32(call_reg), reg);
  a.mov(CTL(cur_r10), x86::rbp);
  a.mov(T3, CTLR);
  a.mov(x86::rax, asmjit::imm(reinterpret_cast<uint64_t>(&rt_helper)));
  a.call(x86::rax);
  a.test(CTL8(flags), 0xff);
  a.jnz(e.helper_slow());
  for (int r = 1; r <= 5; ++r)
    a.xor_(d(r), d(r));
}

// Local call of the function at r11 (native address) or label `target`.
void emit_local_call(Emitter& e, const Label* target) {
  x86::Assembler& a = e.as();
  Label site = e.new_site(Site{SiteKind::CallDepth, 0, false, 0, 0, e.index(), 0, 0});
  a.cmp(x86::rbp, CTL(depth_limit));
  a.jbe(site);
  a.push(x86::rbx);
  a.push(x86::r13);
  a.push(x86::r14);
  a.push(x86::r15);
  a.sub(x86::rsp, 8);
  a.sub(x86::rbp, kStackSize);
  if (target != nullptr)
    a.call(*target);
  else
    e.indirect_call();
  a.add(x86::rbp, kStackSize);
  a.add(x86::rsp, 8);
  a.pop(x86::r15);
  a.pop(x86::r14);
  a.pop(x86::r13);
  a.pop(x86::rbx);
}

}  // namespace

void emit_call(Emitter& e, const Insn& in) {
  x86::Assembler& a = e.as();
  a.mov(AUX.r32(), Blinding::helper_number(in));
  a.mov(CTL(call_id), AUX);
  emit_helper_call(e, in.pc, kCallImm);
}

void emit_call_local(Emitter& e, const Insn& in) {
  const Label target = e.target(in);
  emit_local_call(e, &target);
}

void emit_call_kfunc(Emitter& e, const Insn& in) {
  Label site = e.new_site(Site{SiteKind::Kfunc, 0, false, 0, 0, e.index(), 0, Blinding::kfunc_id(in)});
  e.as().jmp(site);
}

// callx dst: a function token (a local call) or a helper number (a helper call), resolved by rt_callx.
void emit_callx(Emitter& e, const Insn& in) {
  x86::Assembler& a = e.as();
  a.mov(CTL(call_id), q(in.dst));
  a.mov(CTL32(call_pc), in.pc);
  a.mov(CTL32(call_reg), in.dst);
  const x86::Gp saved[] = {x86::rax, x86::rdi, x86::rsi, x86::rdx, x86::rcx, x86::r8};
  for (const auto& r : saved)
    a.push(r);
  a.mov(x86::rdi, CTLR);
  a.mov(x86::rax, asmjit::imm(reinterpret_cast<uint64_t>(&rt_callx)));
  a.call(x86::rax);
  a.mov(AUX, x86::rax);
  for (int i = 5; i >= 0; --i)
    a.pop(saved[i]);
  Label helper = a.newLabel(), done = a.newLabel();
  a.test(AUX, AUX);
  a.jz(helper);
  emit_local_call(e, nullptr);
  a.jmp(done);
  a.bind(helper);
  a.test(CTL8(flags), kFlagError);
  a.jnz(e.unwind());
  emit_helper_call(e, in.pc, in.dst);
  a.bind(done);
}

void emit_exit(Emitter& e, const Insn&) {
  e.as().ret();
}

}  // namespace bpfvm::jit::internal
