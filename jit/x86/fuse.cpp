// Fusions: short sequences of BPF instructions emitted as fewer x86 instructions, in unchecked code
// without budget metering (the verifier proved every access, and no block is charged per
// instruction). Those after the first rely on register liveness (jit/liveness.h): a value that no
// later instruction reads need not be computed.
//
//  - mov + add (clang's three-operand add): one lea; mov + shift by a register, or by an immediate
//    that its loop holds in a register: one BMI2 shlx/shrx/sarx (no liveness needed).
//  - Indexed loads: `[lsh idx, 0-3;] base; add ptr, idx; ldx dst, [ptr + off]`, where base is
//    `lddw ptr, table` or `mov ptr, reg` and ptr is dead after the load (or its destination): one
//    load from [table + idx * scale + off]. A table lookup (CRC) or a packet byte at a variable
//    offset saves the shift's and the add's latency. The shift is kept, after the load, when idx is
//    read later. Unblinded tables below 2 GiB become a displacement.
//  - Commuted operations: `op a, b; ...; mov b, a` (op commutative, a dead after the mov, nothing
//    between touching a or b): `op b, a` in place; the mov goes. Loop-carried values (a checksum, a
//    CRC) lose a move per iteration.
//  - Sunk constants: `mov r, imm; ...; jcc` where r is read only on the taken edge (an error code
//    set before a bounds check): the mov moves into a stub on that edge, out of the hot path. A
//    `mov r, imm` whose value nothing reads is dropped.
//  - Byte pairs: two byte loads from adjacent addresses, one shifted by 8 and or-ed with the other
//    (clang's reading of a 16-bit big-endian field it cannot load whole): one 16-bit load, and a
//    rotate by 8 for the big-endian order, when the low byte's register is dead afterwards.
//  - Redundant masks: `and r, 31; ...; lsh32 x, r` (63 for 64-bit shifts; any mask keeping those
//    bits) with r dead after the shift: the shift masks its count itself (BPF, and x86's shifts),
//    so the and goes (clang's rotate idiom).
#include <algorithm>

#include "jit/liveness.h"
#include "jit/x86/emitter_p.h"
#include "vm/disasm.h"

namespace bpfvm::jit::internal {
namespace {

bool commutes(AluOp op) {
  return op == AluOp::Add || op == AluOp::Mul || op == AluOp::And || op == AluOp::Or || op == AluOp::Xor;
}

bool is_cond_jump(const Insn& in) {
  const Form f = in.info().form;
  return f == Form::JmpImm || f == Form::JmpReg;
}

bool is_mov64(const Insn& in) {
  const OpInfo& i = in.info();
  return i.form == Form::AluReg && i.alu == AluOp::Mov && i.is64;
}

}  // namespace

// `mov dst, src` followed by `add dst, imm` or `add dst, reg` of the same width (clang's idiom for
// a three-operand add, which BPF lacks), the add reached only from the mov: one lea, which leaves
// the flags alone. Unchecked, unmetered code only. The immediate is plain (blinding off), in its
// loop's register, or restored in r11; 0 and +-1 (immediate-free forms) and immediates in memory
// slots keep the two instructions. A 32-bit lea computes the 64-bit sum and keeps its low half,
// zero-extended: add32's result.
bool Emitter::lea_pair(size_t k) const {
  if (!fusable_span(k, k + 1)) return false;
  const Insn& mov = p_.insns[k];
  const Insn& add = p_.insns[k + 1];
  const OpInfo& mi = mov.info();
  const OpInfo& ai = add.info();
  return mi.form == Form::AluReg && mi.alu == AluOp::Mov && ai.alu == AluOp::Add && ai.is64 == mi.is64 &&
         add.dst == mov.dst && (ai.form == Form::AluReg || ai.form == Form::AluImm);
}

bool Emitter::fuse_mov_add(bool* restored) {
  const size_t k = k_;
  if (!lea_pair(k)) return false;
  const Insn& mov = p_.insns[k];
  const Insn& add = p_.insns[k + 1];
  const OpInfo& mi = mov.info();
  const OpInfo& ai = add.info();
  const x86::Gp dst = mi.is64 ? q(mov.dst) : d(mov.dst);
  const x86::Gp base = q(mov.src);
  x86::Mem addr;
  if (ai.form == Form::AluReg) {
    addr = x86::ptr(base, q(add.src == mov.dst ? mov.src : add.src));
  } else {
    const Imm32 v = imm(add);
    if (alu_free_form(add, v)) return false;
    const size_t a = k + 1;
    if (!v.blinded()) {
      addr = x86::ptr(base, static_cast<int32_t>(v.value));
    } else if (auto h = hoisted_at(a)) {
      addr = x86::ptr(base, *h);
    } else if (hoisted_slot_at(a, 8)) {
      return false;
    } else {
      load_imm(mi.is64 ? AUX : AUX.r32(), v);
      addr = x86::ptr(base, AUX);
      *restored = true;
    }
  }
  if (o_.disassembly)
    a_.commentf("; pc %u: %s (with the mov: one lea)", add.pc, disassemble_insn(add).c_str());
  a_.lea(dst, addr);
  skip_ = 1;
  return true;
}

bool Emitter::shift_pair(size_t k) const {
  if (!bmi2_ || !fusable_span(k, k + 1)) return false;
  const Insn& mov = p_.insns[k];
  const Insn& sh = p_.insns[k + 1];
  const OpInfo& mi = mov.info();
  const OpInfo& si = sh.info();
  return mi.form == Form::AluReg && mi.alu == AluOp::Mov && mov.dst != mov.src && sh.dst == mov.dst &&
         si.is64 == mi.is64 && (si.form == Form::AluReg || si.form == Form::AluImm) &&
         (si.alu == AluOp::Lsh || si.alu == AluOp::Rsh || si.alu == AluOp::Arsh);
}

// mov dst, src; shift dst, count  ->  shlx/shrx/sarx dst, src, count: one instruction fewer.
bool Emitter::fuse_mov_shift() {
  const size_t k = k_;
  if (!shift_pair(k)) return false;
  const Insn& mov = p_.insns[k];
  const Insn& sh = p_.insns[k + 1];
  const OpInfo& si = sh.info();
  x86::Gp count;
  if (si.form == Form::AluReg) {
    count = q(sh.src == mov.dst ? mov.src : sh.src);  // (the count read after the mov)
  } else if (auto h = hoisted_at(k + 1)) {
    count = *h;
  } else {
    return false;
  }
  if (o_.disassembly)
    a_.commentf("; pc %u: %s (with the mov: one shift)", sh.pc, disassemble_insn(sh).c_str());
  const bool is64 = si.is64;
  emit_shift3(a_, si.alu, is64 ? q(mov.dst) : d(mov.dst), is64 ? q(mov.src) : d(mov.src),
              is64 ? count : count.r32());
  ++impl_.fusions.shifts;
  skip_ = 1;
  return true;
}

bool Emitter::fusable_span(size_t first, size_t last) const {
  if (!o_.fuse || o_.checked || metered_ || last >= p_.insns.size()) return false;
  for (size_t j = first; j <= last; ++j)
    if ((j > first && is_target_[j]) || fused(j)) return false;
  return true;
}

bool Emitter::fused(size_t k) const {
  return k < fused_.size() && fused_[k] != Fused::None;
}

bool Emitter::folded(size_t k) const {
  return k < fused_.size() &&
         (fused_[k] == Fused::Elided || fused_[k] == Fused::Sunk || fused_[k] == Fused::Dropped);
}

bool Emitter::imm_unused(size_t k) const {
  if (k >= fused_.size() || fused_[k] == Fused::None || fused_[k] == Fused::Commute) return false;
  if (fused_[k] != Fused::Group) return true;  // elided, dropped, or restored in place in a stub
  // A group's shift is emitted (after the load) when its index is read later.
  auto g = std::upper_bound(groups_.begin(), groups_.end(), k,
                            [](size_t v, const IndexedLoad& x) { return v < x.first; });
  return !(g != groups_.begin() && std::prev(g)->shift == static_cast<int32_t>(k) &&
           std::prev(g)->keep_shift);
}

std::optional<Emitter::IndexedLoad> Emitter::match_indexed_load(size_t k) const {
  const size_t n = p_.insns.size();
  IndexedLoad m;
  m.first = static_cast<uint32_t>(k);
  size_t i = k;
  if (i + 2 < n) {
    const Insn& sh = p_.insns[i];
    const OpInfo& si = sh.info();
    if (si.form == Form::AluImm && si.alu == AluOp::Lsh && si.is64 && Blinding::index_scale(sh) <= 3) {
      m.shift = static_cast<int32_t>(i);
      ++i;
    }
  }
  if (i + 2 >= n) return std::nullopt;
  m.base = static_cast<uint32_t>(i);
  m.add = m.base + 1;
  m.load = m.base + 2;
  const Insn& base = p_.insns[m.base];
  const Insn& add = p_.insns[m.add];
  const Insn& load = p_.insns[m.load];
  const int ptr = base.dst;
  const bool lddw = base.info().form == Form::Lddw && base.op != Op::LddwFunc && !dead_lddw(m.base);
  if (!lddw && !(is_mov64(base) && base.src != base.dst)) return std::nullopt;
  const int idx = add.src;
  if (add.info().form != Form::AluReg || add.info().alu != AluOp::Add || !add.info().is64 || add.dst != ptr ||
      idx == ptr || idx == kFrameReg || ptr == kFrameReg || (!lddw && base.src == idx))
    return std::nullopt;
  if (m.shift >= 0 && p_.insns[static_cast<size_t>(m.shift)].dst != idx) return std::nullopt;
  if (load.info().form != Form::Ldx || load.info().sign_ext || load.src != ptr) return std::nullopt;
  if (!fusable_span(k, m.load)) return std::nullopt;
  if (load.dst != ptr && live_->live_after(m.load, ptr)) return std::nullopt;
  // Without a shift the group is two instructions on a mov base (lea_pair's), three on a table.
  m.keep_shift = m.shift >= 0 && load.dst != idx && live_->live_after(m.load, idx);
  return m;
}

// ldxb h, [b + o]; lsh h, 8; ldxb l, [b + o + 1]; or h, l (the loads in any order before the or,
// the shift after h's load; 32- or 64-bit): h = the big-endian 16-bit value at b + o, when l is dead
// after the or (little-endian when l's byte comes first in memory). The base must be unchanged when
// the second load reads it.
std::optional<Emitter::BytePair> Emitter::match_byte_pair(size_t k) const {
  if (!fusable_span(k, k + 3)) return std::nullopt;
  const Insn& orr = p_.insns[k + 3];
  if (orr.info().form != Form::AluReg || orr.info().alu != AluOp::Or) return std::nullopt;
  const int h = orr.dst, l = orr.src;
  if (h == l) return std::nullopt;
  int load_h = -1, load_l = -1, shift = -1;
  for (int i = 0; i < 3; ++i) {
    const Insn& in = p_.insns[k + static_cast<size_t>(i)];
    const OpInfo& info = in.info();
    if (info.form == Form::Ldx && info.size == 1 && !info.sign_ext && in.dst == h && load_h < 0)
      load_h = i;
    else if (info.form == Form::Ldx && info.size == 1 && !info.sign_ext && in.dst == l && load_l < 0)
      load_l = i;
    else if (info.form == Form::AluImm && info.alu == AluOp::Lsh && in.dst == h && Blinding::shifts_by(in, 8))
      shift = i;
    else
      return std::nullopt;
  }
  if (load_h < 0 || load_l < 0 || shift < load_h) return std::nullopt;
  const Insn& lh = p_.insns[k + static_cast<size_t>(load_h)];
  const Insn& ll = p_.insns[k + static_cast<size_t>(load_l)];
  const int b = lh.src;
  if (ll.src != b) return std::nullopt;
  // The base is read by both loads: neither what runs between them may write it.
  if (load_l > load_h && b == h) return std::nullopt;  // h's load or shift came first
  if (load_l < load_h && b == l) return std::nullopt;
  BytePair m;
  m.first = static_cast<uint32_t>(k);
  m.dst = h;
  m.base = b;
  if (ll.off == static_cast<int32_t>(lh.off) + 1) {
    m.off = lh.off;
    m.swap = true;
  } else if (lh.off == static_cast<int32_t>(ll.off) + 1) {
    m.off = ll.off;
  } else {
    return std::nullopt;
  }
  if (live_->live_after(k + 3, l)) return std::nullopt;
  return m;
}

void Emitter::plan_fusions() {
  const size_t n = p_.insns.size();
  if (!o_.fuse || o_.checked || metered_) return;
  fused_.assign(n, Fused::None);
  live_ = std::make_unique<Liveness>(p_);
  const Liveness& live = *live_;
  auto& stats = impl_.fusions;
  for (size_t k = 0; k < n; ++k) {
    if (auto m = match_indexed_load(k)) {
      for (size_t j = k; j <= m->load; ++j)
        fused_[j] = Fused::Group;
      groups_.push_back(*m);
      ++stats.indexed_loads;
    } else if (auto bp = match_byte_pair(k)) {
      for (size_t j = k; j <= k + 3; ++j)
        fused_[j] = Fused::Pair;
      pairs_.push_back(*bp);
      ++stats.byte_pairs;
      k += 3;
    }
  }
  for (size_t k = 0; k < n; ++k) {
    const Insn& in = p_.insns[k];
    const OpInfo& info = in.info();
    if (fused(k) || (k > 0 && lea_pair(k - 1)) || lea_pair(k)) continue;
    if (info.form == Form::AluReg && commutes(info.alu) && in.dst != in.src && in.dst != kFrameReg &&
        in.src != kFrameReg) {
      // op a, b; ...; mov b, a  ->  op b, a
      const size_t j = next_touching(k, static_cast<RegSet>(reg_set(in.dst) | reg_set(in.src)), 8);
      if (j == n) continue;
      const Insn& mv = p_.insns[j];
      const OpInfo& mi = mv.info();
      if (mi.form == Form::AluReg && mi.alu == AluOp::Mov && mi.is64 == info.is64 && mv.dst == in.src &&
          mv.src == in.dst && !fused(j) && !lea_pair(j) && !live.live_after(j, in.dst)) {
        fused_[k] = Fused::Commute;
        fused_[j] = Fused::Elided;
        ++stats.commuted;
      }
      continue;
    }
    if (info.form == Form::AluImm && info.alu == AluOp::And && in.dst != kFrameReg) {
      // and r, 31|63; ...; shift x, r with r dead after it: the shift masks its count anyway.
      const size_t j = next_touching(k, reg_set(in.dst), 8);
      if (j == n) continue;
      const Insn& sh = p_.insns[j];
      const OpInfo& si = sh.info();
      if (si.form == Form::AluReg &&
          (si.alu == AluOp::Lsh || si.alu == AluOp::Rsh || si.alu == AluOp::Arsh) && sh.src == in.dst &&
          sh.dst != in.dst && !fused(j) && Blinding::keeps_bits(in, si.is64 ? 63 : 31) &&
          !live.live_after(j, in.dst)) {
        fused_[k] = Fused::Dropped;
        ++stats.masks;
      }
      continue;
    }
    if (info.form != Form::AluImm || info.alu != AluOp::Mov || in.dst == kFrameReg) continue;
    // mov r, imm: dropped when dead; sunk into the taken edge of the first conditional jump after
    // it when only that edge reads r.
    if (!live.live_after(k, in.dst)) {
      fused_[k] = Fused::Dropped;
      ++stats.dropped;
      continue;
    }
    const RegSet r = reg_set(in.dst);
    const size_t j = next_touching(k, r, 16);
    if (j < n && is_cond_jump(p_.insns[j]) && (reg_effect(p_.insns[j]).reads & r) == 0 && j + 1 < n &&
        (live.before(j + 1) & r) == 0 && !ja_fusable(j)) {
      fused_[k] = Fused::Sunk;
      sunk_.emplace_back(static_cast<uint32_t>(j), static_cast<uint32_t>(k));
      ++stats.sunk;
    }
  }
}

size_t Emitter::next_touching(size_t k, RegSet regs, size_t limit) const {
  const size_t n = p_.insns.size();
  for (size_t j = k + 1; j < n && j <= k + limit; ++j) {
    if (is_target_[j]) return n;
    const Insn& in = p_.insns[j];
    const RegEffect e = reg_effect(in);
    if (!plain_step(in) || ((e.reads | e.writes) & regs) != 0) return j;
  }
  return n;
}

bool Emitter::emit_fused() {
  const size_t k = k_;
  if (k >= fused_.size()) return false;
  if (fused_[k] == Fused::Commute) {
    Insn swapped = p_.insns[k];
    std::swap(swapped.dst, swapped.src);
    if (o_.disassembly) a_.commentf("; (computed in %%r%u: the mov after it copies it there)", swapped.dst);
    emit_alu(*this, swapped);
    return true;
  }
  if (fused_[k] == Fused::Pair) {
    auto bp = std::lower_bound(pairs_.begin(), pairs_.end(), k,
                               [](const BytePair& g, size_t v) { return g.first < v; });
    if (bp == pairs_.end() || bp->first != k) return false;  // not its first instruction: not reached
    if (o_.disassembly)
      for (size_t j = k + 1; j <= k + 3; ++j)
        a_.commentf("; pc %u: %s (one 16-bit load with the above)", p_.insns[j].pc,
                    disassemble_insn(p_.insns[j]).c_str());
    a_.movzx(d(bp->dst), x86::word_ptr(q(bp->base), bp->off));
    if (bp->swap) a_.rol(w(bp->dst), 8);
    flags_ = Flags{};
    skip_ = 3;
    return true;
  }
  if (fused_[k] != Fused::Group) return false;
  auto m = std::lower_bound(groups_.begin(), groups_.end(), k,
                            [](const IndexedLoad& g, size_t v) { return g.first < v; });
  if (m == groups_.end() || m->first != k) return false;  // not its first instruction: not reached
  const Insn& base = p_.insns[m->base];
  const Insn& add = p_.insns[m->add];
  const Insn& load = p_.insns[m->load];
  const uint32_t scale = m->shift >= 0 ? Blinding::index_scale(p_.insns[static_cast<size_t>(m->shift)]) : 0;
  if (o_.disassembly)
    for (size_t j = k + 1; j <= m->load; ++j)
      a_.commentf("; pc %u: %s (one load with the above)", p_.insns[j].pc,
                  disassemble_insn(p_.insns[j]).c_str());
  const x86::Gp idx = q(add.src);
  x86::Mem mem;
  if (base.info().form == Form::Lddw) {
    const Imm64 v = blinding_.imm64(base);
    const int64_t disp = static_cast<int64_t>(v.value) + load.off;
    if (!v.blinded() && disp >= INT32_MIN && disp <= INT32_MAX) {
      mem = x86::ptr(static_cast<uint64_t>(disp), idx, scale);  // absolute, no base register
    } else {
      load_imm64(q(base.dst), v);
      mem = x86::ptr(q(base.dst), idx, scale, load.off);
    }
  } else {
    mem = x86::ptr(q(base.src), idx, scale, load.off);
  }
  const int size = load.info().size;
  mem.setSize(static_cast<uint32_t>(size));
  if (size < 4)
    a_.movzx(d(load.dst), mem);
  else
    a_.mov(size == 8 ? q(load.dst) : d(load.dst), mem);
  if (m->keep_shift) {
    k_ = static_cast<uint32_t>(m->shift);
    emit_alu(*this, p_.insns[k_]);
    k_ = static_cast<uint32_t>(k);
  }
  flags_ = Flags{};
  skip_ = static_cast<uint32_t>(m->load - k);
  return true;
}

Label Emitter::taken_label(int32_t to) {
  const Label dest = jump_label(to);
  auto it = std::lower_bound(sunk_.begin(), sunk_.end(), std::pair<uint32_t, uint32_t>{k_, 0});
  if (it == sunk_.end() || it->first != k_) return dest;
  edge_stubs_.push_back(EdgeStub{a_.newLabel(), dest, k_});
  return edge_stubs_.back().entry;
}

void Emitter::emit_edge_stubs() {
  for (const EdgeStub& s : edge_stubs_) {
    a_.bind(s.entry);
    auto it = std::lower_bound(sunk_.begin(), sunk_.end(), std::pair<uint32_t, uint32_t>{s.jump, 0});
    for (; it != sunk_.end() && it->first == s.jump; ++it) {
      k_ = it->second;
      const Insn& def = p_.insns[k_];
      if (o_.disassembly)
        a_.commentf("; pc %u: %s (sunk: read only here)", def.pc, disassemble_insn(def).c_str());
      emit_alu(*this, def);
    }
    a_.jmp(s.dest);
  }
}

}  // namespace bpfvm::jit::internal
