#include "jit/liveness.h"

namespace bpfvm::jit::internal {
namespace {

constexpr RegSet kArgs = 0b111110;         // r1-r5
constexpr RegSet kCallerSaved = 0b111111;  // r0-r5: a call returns r0 and leaves r1-r5 unreadable
constexpr RegSet kAll = 0x7ff;

// The successors of instruction k (at most two); returns how many.
int successors(const Program& p, size_t k, size_t out[2]) {
  const Insn& in = p.insns[k];
  const size_t n = p.insns.size();
  int count = 0;
  auto add = [&](int64_t t) {
    if (t >= 0 && static_cast<size_t>(t) < n) out[count++] = static_cast<size_t>(t);
  };
  switch (in.info().form) {
    case Form::Exit:
      break;
    case Form::Ja:
    case Form::Ja32:
      add(in.target);
      break;
    case Form::JmpImm:
    case Form::JmpReg:
      add(static_cast<int64_t>(k) + 1);
      if (static_cast<size_t>(in.target) != k + 1) add(in.target);
      break;
    default:
      add(static_cast<int64_t>(k) + 1);
  }
  return count;
}

}  // namespace

RegEffect reg_effect(const Insn& in) {
  const OpInfo& info = in.info();
  const RegSet dst = reg_set(in.dst);
  const RegSet src = reg_set(in.src);
  switch (info.form) {
    case Form::AluImm:
      return {info.alu == AluOp::Mov ? RegSet{0} : dst, dst};
    case Form::AluReg:
      return {static_cast<RegSet>((info.alu == AluOp::Mov || info.alu == AluOp::Movsx ? 0 : dst) | src), dst};
    case Form::AluNeg:
    case Form::End:
      return {dst, dst};
    case Form::Ja:
    case Form::Ja32:
      return {};
    case Form::JmpImm:
      return {dst, 0};
    case Form::JmpReg:
      return {static_cast<RegSet>(dst | src), 0};
    case Form::Call:
    case Form::CallLocal:
    case Form::CallKfunc:
      return {kArgs, kCallerSaved};
    case Form::Callx:
      return {static_cast<RegSet>(kArgs | dst), kCallerSaved};
    case Form::Exit:
      return {reg_set(0), 0};
    case Form::Lddw:
      return {0, dst};
    case Form::Ldx:
    case Form::LoadAcquire:
      return {src, dst};
    case Form::St:
      return {dst, 0};
    case Form::Stx:
    case Form::StoreRelease:
      return {static_cast<RegSet>(dst | src), 0};
    case Form::Atomic:  // cmpxchg reads r0; what the fetch forms write is not counted (conservative)
      return {static_cast<RegSet>(dst | src | reg_set(0)), 0};
    case Form::LdAbs:  // the context in r6; r0 is written (or the run ends)
      return {reg_set(6), reg_set(0)};
    case Form::LdInd:
      return {static_cast<RegSet>(reg_set(6) | src), reg_set(0)};
    case Form::AddrSpaceCast:
    case Form::MayGoto:
      break;
  }
  return {kAll, 0};
}

bool plain_step(const Insn& in) {
  switch (in.info().form) {
    case Form::AluImm:
    case Form::AluReg:
    case Form::AluNeg:
    case Form::End:
    case Form::Ldx:
    case Form::St:
    case Form::Stx:
    case Form::Lddw:
      return true;
    default:
      return false;
  }
}

Liveness::Liveness(const Program& p) : p_(p), out_(p.insns.size(), 0) {
  const size_t n = p.insns.size();
  std::vector<RegEffect> eff(n);
  std::vector<RegSet> in(n);
  // Predecessors, as compressed rows: preds[first[k], first[k + 1]).
  std::vector<uint32_t> first(n + 1, 0), preds;
  size_t s[2];
  for (size_t k = 0; k < n; ++k) {
    eff[k] = reg_effect(p.insns[k]);
    in[k] = eff[k].reads;
    for (int i = successors(p, k, s); i-- > 0;)
      ++first[s[i] + 1];
  }
  for (size_t k = 0; k < n; ++k)
    first[k + 1] += first[k];
  preds.resize(first[n]);
  {
    std::vector<uint32_t> fill(first.begin(), first.end() - 1);
    for (size_t k = 0; k < n; ++k)
      for (int i = successors(p, k, s); i-- > 0;)
        preds[fill[s[i]]++] = static_cast<uint32_t>(k);
  }
  // Worklist, seeded in reverse order (most straight-line code settles in one sweep). A register
  // set only grows, so every instruction is revisited at most 11 times per predecessor edge.
  std::vector<uint32_t> work;
  std::vector<uint8_t> queued(n, 1);
  work.reserve(n);
  for (size_t k = 0; k < n; ++k)
    work.push_back(static_cast<uint32_t>(k));
  while (!work.empty()) {
    const size_t k = work.back();
    work.pop_back();
    queued[k] = 0;
    RegSet out = 0;
    for (int i = successors(p, k, s); i-- > 0;)
      out |= in[s[i]];
    out_[k] = out;
    const RegSet live = static_cast<RegSet>(eff[k].reads | (out & ~eff[k].writes));
    if (live == in[k]) continue;
    in[k] = live;
    for (uint32_t j = first[k]; j < first[k + 1]; ++j)
      if (!queued[preds[j]]) {
        queued[preds[j]] = 1;
        work.push_back(preds[j]);
      }
  }
}

RegSet Liveness::before(size_t k) const {
  const RegEffect e = reg_effect(p_.insns[k]);
  return static_cast<RegSet>(e.reads | (out_[k] & ~e.writes));
}

}  // namespace bpfvm::jit::internal
