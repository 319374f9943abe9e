// Calls and exit. Helper calls go through rt_helper (the helper table and its HelperCall), with
// r1-r5 where the System V ABI wants them; they zero r1-r5 afterwards, as the interpreter does.
// A local call is a native `call` with its own 512-byte frame: the caller checks the depth (it
// follows from r10, so the limit is one compare), moves r10 down one frame and calls; the callee's
// prologue saves the registers of r6-r9 (rbx, r13-r15) that it names, plus 8 bytes of padding when
// it calls out and needs rsp 16-byte aligned, and its exits restore them (the interpreter's Frame
// keeps the caller's r6-r9). The main program's callee-saved registers are the thunk's.
#include <bit>
#include <cstddef>

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

// Local call of the function at r11 (native address) or `target` (its call_entry label).
void emit_local_call(Emitter& e, const Label* target) {
  x86::Assembler& a = e.as();
  Label site = e.new_site(Site{SiteKind::CallDepth, 0, false, 0, 0, e.index(), 0, 0});
  a.cmp(x86::rbp, CTL(depth_limit));
  a.jbe(site);
  a.sub(x86::rbp, kStackSize);
  if (target != nullptr)
    a.call(*target);
  else
    e.indirect_call();
  a.add(x86::rbp, kStackSize);
}

const x86::Gp kSavedRegs[] = {x86::rbx, x86::r13, x86::r14, x86::r15};  // BPF r6-r9

}  // namespace

void Emitter::emit_prologue(const Func& f) {
  for (int i = 0; i < 4; ++i)
    if (f.saved & (1u << (6 + i))) a_.push(kSavedRegs[i]);
  if (f.pad) a_.sub(x86::rsp, 8);
}

void Emitter::emit_epilogue(const Func& f) {
  if (f.pad) a_.add(x86::rsp, 8);
  for (int i = 3; i >= 0; --i)
    if (f.saved & (1u << (6 + i))) a_.pop(kSavedRegs[i]);
}

// bpf_map_lookup_elem without the helper (vm/map_lookup.h); r2 points to the key (verified). Array:
// r0 = index < max_entries ? base + index * stride : 0, inline (rax and rdi as scratch);
// Direct: r0 = fn(obj, key), a native call. r1-r5 are left as they are, not zeroed as after the
// helper: the verifier makes them unreadable after a call, and only verified code has plans.
namespace {
void emit_map_lookup(Emitter& e, const MapLookupPlan& p) {
  x86::Assembler& a = e.as();
  if (p.kind == MapLookupPlan::Kind::Direct) {
    a.mov(x86::rdi, asmjit::imm(reinterpret_cast<uint64_t>(p.obj)));
    a.mov(x86::rax, asmjit::imm(reinterpret_cast<uint64_t>(p.fn)));
    a.call(x86::rax);
    return;
  }
  // Without blinding the map's numbers are immediates; blinded code reads them from the map's
  // ArrayLayout (whose address, the host's, is not the program's to choose) instead.
  const ArrayLayout& l = *p.array;
  const bool blind = e.blinding().enabled();
  const bool pow2 = std::has_single_bit(l.stride);
  const uint32_t shift = pow2 ? static_cast<uint32_t>(std::countr_zero(l.stride)) : 0;
  const bool scaled = pow2 && l.stride <= 8;  // index * stride as an address's scaled index
  auto field = [](size_t off) { return x86::qword_ptr(x86::rdi, static_cast<int32_t>(off)); };
  Label null = a.newLabel(), done = a.newLabel();
  if (blind) a.mov(x86::rdi, asmjit::imm(reinterpret_cast<uint64_t>(&l)));
  a.mov(x86::eax, x86::dword_ptr(x86::rsi));  // the u32 key, zero-extended
  if (blind)
    a.cmp(x86::rax, field(offsetof(ArrayLayout, max_entries)));
  else
    a.cmp(x86::eax, asmjit::imm(static_cast<uint32_t>(l.max_entries)));
  a.jae(null);
  if (e.opts().spec_barrier) a.lfence();
  if (!scaled) {  // rax = index * stride (a shift count below 64 is no useful immediate)
    if (pow2)
      a.shl(x86::rax, shift);
    else if (blind)
      a.imul(x86::rax, field(offsetof(ArrayLayout, stride)));
    else
      a.imul(x86::rax, x86::rax, asmjit::imm(static_cast<int32_t>(l.stride)));
  }
  const uint32_t s = scaled ? shift : 0;
  if (!blind && l.base <= INT32_MAX) {  // the base as the address's disp32
    a.lea(x86::rax, x86::ptr_abs(l.base, x86::rax, s));
  } else {
    if (blind)
      a.mov(x86::rdi, field(offsetof(ArrayLayout, base)));
    else
      a.mov(x86::rdi, asmjit::imm(l.base));
    a.lea(x86::rax, x86::ptr(x86::rdi, x86::rax, s));
  }
  a.jmp(done);
  a.bind(null);
  a.xor_(x86::eax, x86::eax);
  a.bind(done);
}
}  // namespace

void emit_call(Emitter& e, const Insn& in) {
  if (const MapLookupPlan* p = e.lookup_plan(e.index())) {
    emit_map_lookup(e, *p);
    return;
  }
  x86::Assembler& a = e.as();
  e.load_imm(AUX.r32(), e.imm(in));  // the helper number, zero-extended
  a.mov(CTL(call_id), AUX);
  emit_helper_call(e, in.pc, kCallImm);
}

void emit_call_local(Emitter& e, const Insn& in) {
  const Label target = e.call_entry(static_cast<uint32_t>(in.target));
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
  if (!e.in_main()) e.emit_epilogue(e.func());
  e.as().ret();
}

}  // namespace bpfvm::jit::internal
