// Loads, stores, atomics, lddw, the legacy packet loads, and the bounds checks of checked code.
//
// Checked mode: every load, store and atomic computes its address in r11 and compares it with the
// live stack inline ([r10 - 512, stack_top)) and then with the run's first region; anything else
// goes to an out-of-line path (the second region inline, then a shared stub that asks the same
// regions and resolver as the checked interpreter).
#include "jit/x86/emitter_p.h"

namespace bpfvm::jit::internal {

int32_t Emitter::lim_offset(int region, bool write, int size) {
  return static_cast<int32_t>(offsetof(RunCtl, reg_lim) + 8 * (size + 9 * ((write ? 1 : 0) + 2 * region)));
}

x86::Mem Emitter::access(const Insn& in, int base_reg, int size, bool write) {
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
  Label site = new_site(Site{SiteKind::Oob, static_cast<uint8_t>(size), write, static_cast<uint8_t>(base_reg),
                             in.off, k_, 0, 0});
  slow_paths_.push_back(SlowPath{slow, ok, site, static_cast<uint32_t>(size | (write ? 0x100 : 0))});
  return mem_of(AUX, 0, size);
}

void Emitter::emit_slow_paths() {
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

void emit_lddw(Emitter& e, const Insn& in) {
  if (in.op == Op::LddwFunc)
    e.as().mov(q(in.dst), asmjit::imm(e.func_token(in)));
  else
    e.load_imm64(q(in.dst), e.blinding().imm64(in));
}

void emit_load(Emitter& e, const Insn& in) {
  x86::Assembler& a = e.as();
  const OpInfo& info = in.info();
  const int size = info.size;
  x86::Mem m = e.access(in, in.src, size, false);
  if (info.sign_ext) {
    if (size == 4)
      a.movsxd(q(in.dst), m);
    else
      a.movsx(q(in.dst), m);
  } else if (size < 4) {
    a.movzx(d(in.dst), m);
  } else {
    a.mov(size == 8 ? q(in.dst) : d(in.dst), m);
  }
}

void emit_store(Emitter& e, const Insn& in) {
  x86::Assembler& a = e.as();
  const OpInfo& info = in.info();
  const int size = info.size;
  x86::Mem m = e.access(in, in.dst, size, true);
  if (info.form != Form::St) {
    a.mov(m, sized(q(in.src), size));
    return;
  }
  const Imm32 v = e.imm(in);
  if (!v.blinded()) {
    const int64_t x = size == 8   ? v.plain()
                      : size == 4 ? static_cast<int64_t>(v.value)
                      : size == 2 ? static_cast<int64_t>(static_cast<uint16_t>(v.value))
                                  : static_cast<int64_t>(static_cast<uint8_t>(v.value));
    a.mov(m, asmjit::imm(x));
  } else if (auto h = e.hoisted()) {
    a.mov(m, sized(*h, size));
  } else {
    // The value in a scratch register: checked code's address is in r11 (m), unchecked code's in
    // a BPF register (and r10 may hold a loop's immediate, hoist.cpp).
    const x86::Gp t = e.opts().checked ? T2 : AUX;
    if (v.is(0))
      a.xor_(t.r32(), t.r32());
    else
      e.load_imm(size == 8 ? t : t.r32(), v);
    a.mov(m, sized(t, size));
  }
}

void emit_atomic(Emitter& e, const Insn& in) {
  x86::Assembler& a = e.as();
  const OpInfo& info = in.info();
  const int size = info.size;
  const bool is64 = size == 8;
  x86::Mem m = e.access(in, in.dst, size, true);
  x86::Gp src = is64 ? q(in.src) : d(in.src);
  switch (info.atomic) {
    case AtomicOp::Add:
      if (info.fetch)
        a.lock().xadd(m, src);
      else
        a.lock().add(m, src);
      return;
    case AtomicOp::Xchg:
      a.xchg(m, src);
      return;
    case AtomicOp::Cmpxchg:
      a.lock().cmpxchg(m, src, is64 ? x86::Gp(x86::rax) : x86::Gp(x86::eax));
      if (!is64) a.mov(x86::eax, x86::eax);
      return;
    case AtomicOp::Or:
    case AtomicOp::And:
    case AtomicOp::Xor: {
      auto op = [&](x86::Gp x, x86::Gp y) {
        if (info.atomic == AtomicOp::Or)
          a.or_(x, y);
        else if (info.atomic == AtomicOp::And)
          a.and_(x, y);
        else
          a.xor_(x, y);
      };
      if (!info.fetch) {
        if (info.atomic == AtomicOp::Or)
          a.lock().or_(m, src);
        else if (info.atomic == AtomicOp::And)
          a.lock().and_(m, src);
        else
          a.lock().xor_(m, src);
        return;
      }
      // Fetch form: a cmpxchg loop on the address in r11; r0 (rax) saved in r10.
      if (!e.opts().checked) {
        a.lea(AUX, x86::ptr(q(in.dst), in.off));
        m = mem_of(AUX, 0, size);
      }
      x86::Gp acc = is64 ? x86::Gp(x86::rax) : x86::Gp(x86::eax);
      x86::Gp tmp = is64 ? T3 : T3.r32();
      x86::Gp val = in.src == 0 ? (is64 ? T2 : T2.r32()) : src;
      a.mov(T2, x86::rax);
      a.mov(acc, m);
      Label loop = a.newLabel();
      a.bind(loop);
      a.mov(tmp, acc);
      op(tmp, val);
      a.lock().cmpxchg(m, tmp, acc);
      a.jnz(loop);
      if (in.src != 0) {
        a.mov(src, acc);
        a.mov(x86::rax, T2);
      }
      return;
    }
    case AtomicOp::None:
      return;
  }
}

// LD_ABS / LD_IND: r0 = the packet's bytes at imm (+ src) in network order, with the kernel's
// sk_buff offsets (a call to legacy_packet_load, as the kernel's own rewrite calls a helper); out
// of the packet ends the run with r0 = 0. Like helper calls, they zero r1-r5.
void emit_ld_packet(Emitter& e, const Insn& in) {
  x86::Assembler& a = e.as();
  const OpInfo& info = in.info();
  const int size = info.size;
  const Imm32 v = e.imm(in);
  a.mov(AUX.r32(), v.value);
  if (v.blinded()) a.xor_(AUX.r32(), v.key);
  if (info.form == Form::LdInd) a.add(AUX.r32(), d(in.src));
  // r0 = legacy_packet_load(ctl->legacy, k, size), as the interpreter (vm/legacy_packet.h); r1-r5
  // are zeroed below, the other BPF registers are callee-saved.
  a.mov(x86::esi, AUX.r32());
  a.mov(x86::rdi, CTL(legacy));
  a.mov(x86::edx, size);
  a.mov(x86::rax, asmjit::imm(reinterpret_cast<uint64_t>(&legacy_packet_load)));
  a.call(x86::rax);
  a.test(x86::rax, x86::rax);
  a.js(e.ldabs_oob());
  for (int r = 1; r <= 5; ++r)
    a.xor_(d(r), d(r));
}

}  // namespace bpfvm::jit::internal
