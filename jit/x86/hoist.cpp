// Blinded immediates of loops in spare registers and red-zone slots (see Emitter::imm in
// emitter_p.h).
//
// A blinded immediate costs two instructions (mov r, imm ^ key; xor r, key) before the one that
// uses it. Off the dependency chains in steady state, they are on them after every branch
// misprediction, and in a loop that already issues at the machine's width they are extra work.
// Restored once per entry into the loop, in a register nothing else in the loop writes, the
// immediate is a plain register operand inside it. Every restore still emits only imm ^ key and
// the key of that instruction, drawn once.
//
// Registers: r10 and r9 (the temporaries of divisions, atomics, packet loads and helper calls, all
// absent from such loops), in leaf code (no calls at all, so no RunCtl) also r12, and r11 (the
// blinding scratch) when it is needed for nothing else: registers no BPF register maps to.
//
// Slots: immediates beyond the registers are stored in the red zone, the 128 bytes below rsp that
// the System V ABI keeps for the running function (signal delivery skips them). Such a loop makes no
// call and moves no rsp, so a slot keeps its value while the loop runs; it is stored again at every
// entry. A slot operand is a load (folded into the instruction): one operation instead of two, but
// with a load's latency, so registers go to the compares first (they resolve branches) and slots
// to moves first. Shift counts and stored values need a register.
#include <algorithm>
#include <cstddef>

#include "jit/x86/emitter_p.h"

namespace bpfvm::jit::internal {
namespace {

constexpr int kRedZoneSlots = 16;  // 128 bytes

bool is_jump(Form f) {
  return f == Form::Ja || f == Form::Ja32 || f == Form::JmpImm || f == Form::JmpReg;
}

bool is_shift(AluOp op) {
  return op == AluOp::Lsh || op == AluOp::Rsh || op == AluOp::Arsh;
}

// Instructions whose code uses r9-r11 for themselves, or calls out (which clobbers them and the
// red zone).
bool clobbers_temporaries(const Insn& in) {
  const OpInfo& info = in.info();
  switch (info.form) {
    case Form::Call:
    case Form::CallLocal:
    case Form::CallKfunc:
    case Form::Callx:
    case Form::LdAbs:
    case Form::LdInd:
    case Form::Atomic:
    case Form::AddrSpaceCast:
    case Form::MayGoto:
      return true;
    case Form::AluImm:
    case Form::AluReg:
      return info.alu == AluOp::Div || info.alu == AluOp::Sdiv || info.alu == AluOp::Mod ||
             info.alu == AluOp::Smod;
    default:
      return false;
  }
}

// Whether the code of `in` restores its immediate `v` (a blinded value with no immediate-free
// form), so that a register or a slot holding it saves the restore.
bool restores(const Insn& in, const Imm32& v) {
  return v.blinded() && !v.is(0) && !(in.info().form == Form::AluImm && alu_free_form(in, v));
}

// A blinded immediate of a loop that would be restored in a register.
struct Cand {
  uint32_t k;
  int rank;       // 3: a compare (feeds a branch) or a lea's add, 2: an operand, 1: a mov (restores in place)
  bool reg_only;  // a shift count or a stored value: no memory operand
};

}  // namespace

Imm32 Emitter::imm(const Insn& in) {
  const size_t k = static_cast<size_t>(&in - p_.insns.data());
  if (k < imms_.size() && imms_[k]) return *imms_[k];
  const OpInfo& info = in.info();
  Imm32 v = info.form == Form::AluImm && is_shift(info.alu) ? blinding_.shift_count(in, info.is64)
                                                            : blinding_.imm(in);
  if (k < imms_.size()) imms_[k] = v;
  return v;
}

std::optional<x86::Gp> Emitter::hoisted_at(size_t k) const {
  if (k >= hoisted_reg_.size() || hoisted_reg_[k] < 0) return std::nullopt;
  return x86::gpq(static_cast<uint32_t>(hoisted_reg_[k]));
}

std::optional<x86::Mem> Emitter::hoisted_slot_at(size_t k, int bytes) const {
  if (k < run_slot_.size() && run_slot_[k] >= 0)
    return x86::ptr(CTLR,
                    static_cast<int32_t>(offsetof(RunCtl, consts) + 8 * static_cast<size_t>(run_slot_[k])),
                    static_cast<uint32_t>(bytes));
  if (k >= hoisted_slot_.size() || hoisted_slot_[k] < 0) return std::nullopt;
  return x86::ptr(x86::rsp, -8 * (hoisted_slot_[k] + 1), static_cast<uint32_t>(bytes));
}

Label Emitter::jump_label(int32_t to) {
  const size_t t = static_cast<size_t>(to);
  if (loop_of_.empty() || loop_of_[t] < 0 || loop_of_[t] == loop_of_[k_]) return labels_[t];
  Loop& loop = loops_[static_cast<size_t>(loop_of_[t])];
  for (const auto& [target, label] : loop.stubs)
    if (target == t) return label;
  loop.stubs.emplace_back(static_cast<uint32_t>(t), a_.newLabel());
  return loop.stubs.back().second;
}

std::vector<x86::Gp> Emitter::spare_registers() {
  std::vector<x86::Gp> regs = {T2, T3};
  if (leaf_) regs.push_back(CTLR);  // no RunCtl in leaf code
  return regs;
}

// Whether the code from instruction t runs into an exit before any jump: then a backward jump to t
// closes no cycle (compilers place a loop's exit block inside its span).
bool Emitter::exits_straight(uint32_t t) const {
  for (size_t k = t; k < p_.insns.size(); ++k) {
    const Form f = p_.insns[k].info().form;
    if (f == Form::Exit) return true;
    if (is_jump(f) || f == Form::Callx || (f == Form::Call && !inline_lookup(k))) return false;
  }
  return false;
}

void Emitter::plan_hoisting() {
  const size_t n = p_.insns.size();
  // Without blinding only the counts of mov + shift pairs are hoisted (fuse_mov_shift).
  if (o_.checked || !bmi2_) return;
  imms_.assign(n, std::nullopt);
  loop_of_.assign(n, -1);
  hoisted_reg_.assign(n, -1);
  hoisted_slot_.assign(n, -1);
  const std::vector<x86::Gp> spare = spare_registers();

  // Loops: the span from a backward jump's target to the last backward jump to it, within one
  // function and not starting at the function's entry (calls land there).
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  for (const Func& f : funcs_) {
    std::vector<uint32_t> last(f.end - f.begin, 0);  // by target: the last backward jump to it
    for (uint32_t k = f.begin; k < f.end; ++k) {
      const Insn& in = p_.insns[k];
      if (!is_jump(in.info().form)) continue;
      const uint32_t t = static_cast<uint32_t>(in.target);
      if (t <= k && t > f.begin) last[t - f.begin] = std::max(last[t - f.begin], k);
    }
    for (uint32_t t = f.begin; t < f.end; ++t)
      if (last[t - f.begin] != 0 && !exits_straight(t)) spans.emplace_back(t, last[t - f.begin]);
  }
  std::vector<uint8_t> in_loop(n, 0);
  for (const auto& [begin, end] : spans)
    std::fill(in_loop.begin() + begin, in_loop.begin() + end + 1, 1);
  // Innermost (shortest) first; loops do not overlap.
  std::stable_sort(spans.begin(), spans.end(),
                   [](const auto& x, const auto& y) { return x.second - x.first < y.second - y.first; });
  std::vector<uint8_t> taken(n, 0);
  for (const auto& [begin, end] : spans) {
    bool ok = true;
    for (uint32_t k = begin; k <= end && ok; ++k)
      ok = !taken[k] && (inline_lookup(k) || !clobbers_temporaries(p_.insns[k]));
    if (!ok) continue;
    std::vector<Cand> cands;
    bool aux_busy = false;
    for (uint32_t k = begin; k <= end; ++k) {
      const Insn& in = p_.insns[k];
      const OpInfo& info = in.info();
      // Blinded 64-bit values are restored through r11 (inline map lookups do not use it).
      if (info.form == Form::Lddw && !dead_lddw(k)) aux_busy = true;
      if (info.form != Form::AluImm && info.form != Form::JmpImm && info.form != Form::St) continue;
      if (imm_unused(k)) continue;  // emitted apart (fuse.cpp), if at all
      const Imm32 v = imm(in);
      if (info.form == Form::St && v.is(0)) aux_busy = true;  // stored from a zeroed r11
      // The shift of a mov + shift pair is one shlx/shrx/sarx with its count in a register.
      const bool shift3 = info.form == Form::AluImm && k > begin && shift_pair(k - 1);
      if (!restores(in, v) && !shift3) continue;
      const bool mov = info.form == Form::AluImm && info.alu == AluOp::Mov;
      const bool reg_only = info.form == Form::St || (info.form == Form::AluImm && is_shift(info.alu));
      // The add of a mov + add pair is one lea with its immediate in a register, two instructions
      // with it in a slot: as worth a register as a compare.
      const bool lea = k > begin && lea_pair(k - 1);
      cands.push_back(Cand{k, info.form == Form::JmpImm || lea || shift3 ? 3 : mov ? 1 : 2, reg_only});
    }
    if (cands.empty()) continue;

    // Registers: register-only immediates first, then by rank; slots for the rest, moves first.
    // With r11 among the registers, every immediate must get a register or a slot (a mov restores
    // in place).
    std::vector<Cand> by_reg = cands;
    std::stable_sort(by_reg.begin(), by_reg.end(), [](const Cand& x, const Cand& y) {
      return x.reg_only != y.reg_only ? x.reg_only : x.rank > y.rank;
    });
    auto plan = [&](const std::vector<x86::Gp>& regs, std::vector<std::pair<uint32_t, x86::Gp>>* in_reg,
                    std::vector<uint32_t>* in_slot) {
      in_reg->clear();
      in_slot->clear();
      std::vector<Cand> rest;
      for (const Cand& c : by_reg)
        if (in_reg->size() < regs.size())
          in_reg->emplace_back(c.k, regs[in_reg->size()]);
        else
          rest.push_back(c);
      std::stable_sort(rest.begin(), rest.end(),
                       [](const Cand& x, const Cand& y) { return x.rank < y.rank; });
      bool all = true;
      for (const Cand& c : rest) {
        if (!c.reg_only && in_slot->size() < kRedZoneSlots)
          in_slot->push_back(c.k);
        else
          all &= c.rank == 1;
      }
      return all;
    };
    std::vector<std::pair<uint32_t, x86::Gp>> in_reg;
    std::vector<uint32_t> in_slot;
    std::vector<x86::Gp> regs = spare;
    regs.push_back(AUX);
    if (aux_busy || !plan(regs, &in_reg, &in_slot)) {
      regs.pop_back();
      plan(regs, &in_reg, &in_slot);
    }

    Loop loop;
    loop.begin = begin;
    loop.end = end;
    for (const auto& [k, reg] : in_reg) {
      loop.consts.emplace_back(k, reg);
      hoisted_reg_[k] = static_cast<int8_t>(reg.id());
      if (reg.id() == x86::Gp::kIdR12) thunk_r12_ = true;  // callee-saved: the leaf thunk saves it
    }
    for (size_t i = 0; i < in_slot.size(); ++i) {
      loop.slots.push_back(in_slot[i]);
      hoisted_slot_[in_slot[i]] = static_cast<int8_t>(i);
    }
    for (uint32_t k = begin; k <= end; ++k) {
      taken[k] = 1;
      loop_of_[k] = static_cast<int32_t>(loops_.size());
    }
    loops_.push_back(std::move(loop));
  }
  plan_run_slots(in_loop);
}

// Run slots: in code with a run control block (r12), the blinded immediates that run often and
// that no loop hoisted (loops with calls, subprograms called from loops or as callbacks) are
// restored once per run into RunCtl::consts, at the main program's entry, and read from there as
// memory operands. Only where the program has a loop or a callback: else subprograms run once or
// so, and a restore per run would cost more than a restore per use.
void Emitter::plan_run_slots(const std::vector<uint8_t>& in_loop) {
  if (leaf_) return;
  const size_t n = p_.insns.size();
  bool repeats = std::any_of(in_loop.begin(), in_loop.end(), [](uint8_t x) { return x != 0; });
  for (const Insn& in : p_.insns)
    repeats |= in.op == Op::LddwFunc;
  if (!repeats) return;
  const uint32_t sub_begin = funcs_.size() > 1 ? funcs_[1].begin : static_cast<uint32_t>(n);
  run_slot_.assign(n, -1);
  for (size_t k = 0; k < n && run_slots_.size() < kRunSlots; ++k) {
    if (!in_loop[k] && k < sub_begin) continue;
    if (hoisted_reg_[k] >= 0 || hoisted_slot_[k] >= 0 || imm_unused(k)) continue;
    const Insn& in = p_.insns[k];
    const OpInfo& info = in.info();
    if (info.form != Form::AluImm && info.form != Form::JmpImm) continue;
    if (info.form == Form::AluImm &&
        (is_shift(info.alu) || info.alu == AluOp::Div || info.alu == AluOp::Sdiv || info.alu == AluOp::Mod ||
         info.alu == AluOp::Smod))
      continue;  // shift counts need a register; divisions restore their divisor themselves
    if (!restores(in, imm(in))) continue;
    run_slot_[k] = static_cast<int8_t>(run_slots_.size());
    run_slots_.push_back(static_cast<uint32_t>(k));
  }
  impl_.run_slots = static_cast<uint32_t>(run_slots_.size());
}

void Emitter::materialize_run_slots() {
  for (size_t i = 0; i < run_slots_.size(); ++i) {
    load_imm(AUX, *imms_[run_slots_[i]]);
    a_.mov(x86::qword_ptr(CTLR, static_cast<int32_t>(offsetof(RunCtl, consts) + 8 * i)), AUX);
  }
}

void Emitter::materialize(const Loop& loop) {
  // Slots first: they go through r11, which may be one of the registers.
  for (size_t i = 0; i < loop.slots.size(); ++i) {
    load_imm(AUX, *imms_[loop.slots[i]]);
    a_.mov(x86::qword_ptr(x86::rsp, -8 * static_cast<int32_t>(i + 1)), AUX);
  }
  for (const auto& [k, reg] : loop.consts)
    load_imm(reg, *imms_[k]);
}

void Emitter::emit_loop_stubs() {
  for (const Loop& loop : loops_)
    for (const auto& [target, label] : loop.stubs) {
      a_.bind(label);
      materialize(loop);
      a_.jmp(labels_[target]);
    }
}

}  // namespace bpfvm::jit::internal
