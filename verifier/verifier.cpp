// The fixpoint driver: functions in weak topological order; loops proven by an invariant (widening
// and narrowing at their heads) with a ranking argument, or else iterated one iteration at a time
// until their back edges carry no state; calls analyzed in the caller's context; reports.
#include "verifier/verifier.h"

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>

#include "verifier/analyzer.h"
#include "vm/disasm.h"

namespace bpfvm::verifier {

Analyzer::Analyzer(const Program& p, const VerifyOptions& o, const Cfg& cfg)
    : prog_(p),
      opts_(o),
      cfg_(cfg),
      ctx_(context_for(o.type, o.raw_ctx_size, o.section)),
      stack_depth_(cfg.funcs.size(), 0),
      maps_(o.maps),
      inner_map_(o.maps.size(), -1) {
  // The inner map definition of each map of maps gets its own index after the object's maps.
  for (uint32_t i = 0; i < o.maps.size(); ++i) {
    if (o.maps[i].inner.empty()) continue;
    inner_map_[i] = static_cast<int32_t>(maps_.size());
    MapDef in = o.maps[i].inner.front();
    in.name = o.maps[i].name + ".inner";
    maps_.push_back(std::move(in));
  }
  // The kernel makes devmap entries read-only to programs (BPF_F_RDONLY_PROG at creation).
  for (MapDef& m : maps_)
    if (m.type == MapType::Devmap || m.type == MapType::DevmapHash) m.read_only = true;
  for (uint32_t i = 0; i < maps_.size(); ++i) {
    const MapDef& a = maps_[i];
    uint32_t c = i;
    for (uint32_t j = 0; j < i; ++j) {
      const MapDef& b = maps_[j];
      // (Arrays: also their size, which tells when a lookup always finds its element.)
      const bool array = a.type == MapType::Array || a.type == MapType::PercpuArray;
      if (a.type == b.type && a.key_size == b.key_size && a.value_size == b.value_size &&
          a.read_only == b.read_only && a.inner.empty() && b.inner.empty() &&
          (!array || (a.max_entries == b.max_entries && a.map_flags == b.map_flags))) {
        c = j;
        break;
      }
    }
    canon_map_.push_back(c);
  }
  // Widening thresholds: every constant the program compares with or moves into a register.
  for (const Insn& in : p.insns) {
    const Form form = in.info().form;
    if (form == Form::JmpImm || (form == Form::AluImm && in.info().alu == AluOp::Mov))
      thresholds_.add(static_cast<uint64_t>(int64_t{in.imm}));
    else if (form == Form::Lddw && in.src == 0)
      thresholds_.add(in.imm64);
  }
  thresholds_.finish();
}

std::string Analyzer::map_name(uint32_t m) const {
  return m < maps_.size() && !maps_[m].name.empty() ? maps_[m].name : fmt::format("#{}", m);
}

std::string Analyzer::format_reg(const RegValue& r) const {
  auto off = [&]() { return r.v.to_string(); };
  switch (r.kind) {
    case RegKind::Uninit:
      return "uninit";
    case RegKind::Scalar:
      return r.v.is_const() ? off() : r.v.to_string();
    case RegKind::Ctx:
      return fmt::format("ctx(off={})", off());
    case RegKind::Stack:
      if (r.v.is_const())
        return fmt::format("fp{}{}", r.frame ? fmt::format("[{}]", r.frame) : "",
                           static_cast<int64_t>(r.v.value()));
      return fmt::format("fp{}(off={})", r.frame ? fmt::format("[{}]", r.frame) : "", off());
    case RegKind::MapPtr:
    case RegKind::MapPtrOrNull:
      return fmt::format("{}({}{})", reg_kind_name(r.kind), map_name(r.map),
                         r.id ? fmt::format(",id={}", r.id) : "");
    case RegKind::MapValue:
    case RegKind::MapValueOrNull: {
      const MapDef* m = r.map < maps_.size() ? &maps_[r.map] : nullptr;
      return fmt::format("{}(map={},ks={},vs={},off={}{})", reg_kind_name(r.kind), map_name(r.map),
                         m ? m->key_size : 0, m ? m->value_size : 0, off(),
                         r.id ? fmt::format(",id={}", r.id) : "");
    }
    case RegKind::Packet:
    case RegKind::PacketMeta: {
      std::string s = fmt::format("{}(off={}", reg_kind_name(r.kind), off());
      if (r.range != kNoRange) s += fmt::format(",r={}", int64_t{r.range} - r.fixed);
      return s + ")";
    }
    case RegKind::PacketEnd:
      return "pkt_end";
    case RegKind::Mem:
    case RegKind::MemOrNull:
      return fmt::format("{}(sz={},off={}{})", reg_kind_name(r.kind), r.size, off(),
                         r.ref ? fmt::format(",ref={}", r.ref) : "");
    case RegKind::Func:
      return fmt::format("func(pc={})", r.map < prog_.insns.size() ? prog_.insns[r.map].pc : 0);
    case RegKind::Sock:
    case RegKind::SockOrNull:
      return fmt::format("{}({}{})", reg_kind_name(r.kind), off(), r.id ? fmt::format(",id={}", r.id) : "");
    case RegKind::TruncPtr:
      return fmt::format("trunc_ptr({},off={})",
                         r.base == RegKind::Uninit ? "unknown" : reg_kind_name(r.base), off());
  }
  return "?";
}

void Analyzer::fail(ErrorKind k,
                    uint32_t idx,
                    const State& s,
                    std::initializer_list<int> regs,
                    std::string msg) {
  uint32_t pc = prog_.insns[idx].pc;
  // In a widening pass, an error only tells that this candidate invariant does not prove the loop
  // (the budget running out ends the whole analysis, so it is reported at once).
  if (!passes_.empty() && k != ErrorKind::TooComplex) {
    LoopPass& lp = *passes_.back();
    if (!lp.failed) lp.first_error = fmt::format("{} at pc {}: {}", error_kind_name(k), pc, msg);
    lp.failed = true;
    if (opts_.collect_log)
      result_.log += fmt::format("{}: (in the widening pass) {}: {}\n", pc, error_kind_name(k), msg);
    return;
  }
  if (!reported_.insert(uint64_t{pc} << 8 | static_cast<uint8_t>(k)).second) return;
  Diagnostic d;
  d.kind = k;
  d.pc = pc;
  d.insn = disassemble_insn(prog_.insns[idx]);
  if (!s.bottom()) {
    for (int r : regs) {
      if (r < 0 || r >= kNumRegs) continue;
      if (!d.regs.empty()) d.regs += " ";
      d.regs += fmt::format("R{}={}", r, format_reg(s.reg(r)));
    }
    d.path = s.trail().to_string();
  }
  d.message = std::move(msg);
  d.hint = error_kind_hint(k);
  if (opts_.collect_log) result_.log += fmt::format("{}: error: {}: {}\n", pc, error_kind_name(k), d.message);
  result_.errors.push_back(std::move(d));
}

// --log: the kernel's style. A block entry shows the whole state (every initialized register and
// every initialized stack slot of the current frame); an instruction shows the registers it changed.
void Analyzer::log_block_entry(uint32_t idx, const State& s) {
  std::string line = fmt::format("from block entry {}:", prog_.insns[idx].pc);
  if (s.frames().size() > 1) line += fmt::format(" frame{}", s.frames().size() - 1);
  for (int r = 0; r < kNumRegs; ++r)
    if (s.reg(r).is_init()) line += fmt::format(" R{}={}", r, format_reg(s.reg(r)));
  const StackFrame& st = s.cur().stack;
  for (int off = -static_cast<int>(kStackSize); off < 0; off += 8) {
    int init = 0;
    for (int k = 0; k < 8; ++k)
      init += st.byte(off + k) != ByteKind::Uninit;
    if (init == 0) continue;
    if (st.byte(off) == ByteKind::Spill)
      line += fmt::format(" fp{}={}", off, format_reg(st.spill(off)));
    else
      line += fmt::format(" fp{}={}", off, init == 8 ? "init" : fmt::format("{}/8 init", init));
  }
  result_.log += line + "\n";
}

void Analyzer::log_insn(uint32_t idx, const State& before, const State& after, const char* note) {
  std::string line = fmt::format("{}: {}", prog_.insns[idx].pc, disassemble_insn(prog_.insns[idx]));
  if (!after.bottom() && after.frames().size() == before.frames().size()) {
    std::string changed;
    for (int r = 0; r < kNumRegs; ++r)
      if (!(after.reg(r) == before.reg(r)) && after.reg(r).is_init())
        changed += fmt::format(" R{}={}", r, format_reg(after.reg(r)));
    if (!changed.empty()) line += " ;" + changed;
  }
  result_.log += line + note + "\n";
}

bool Analyzer::step(uint32_t idx, State& s) {
  if (!opts_.collect_log) return exec(idx, s) && !s.bottom();
  const State before = s;
  const bool ok = exec(idx, s) && !s.bottom();
  log_insn(idx, before, s, ok ? "" : " (path ends)");
  return ok;
}

// How much joining two states loses, roughly: registers whose kinds differ (an initialized register
// joined with an uninitialized one, or pointers of different kinds, become unusable).
static int shape_distance(const State& a, const State& b) {
  if (a.frames().size() != b.frames().size()) return INT32_MAX;
  int d = 0;
  for (size_t f = 0; f < a.frames().size(); ++f)
    for (int r = 0; r < kNumRegs; ++r)
      d += a.frames()[f].regs[r].kind != b.frames()[f].regs[r].kind;
  return d;
}

Analyzer::LoopPass* Analyzer::pass_of(const FuncRun& fr) {
  for (auto it = passes_.rbegin(); it != passes_.rend(); ++it)
    if ((*it)->fr == &fr) return *it;
  return nullptr;
}

void Analyzer::add_exit(FuncRun& fr, State&& s) {
  LoopPass* lp = pass_of(fr);
  (lp ? lp->fexit : fr.exit).join_with(s);
}

void Analyzer::propagate(FuncRun& fr, uint32_t block, State&& s) {
  if (s.bottom()) return;
  if (LoopPass* lp = pass_of(fr); lp && !lp->in_loop[block - lp->first_block]) {
    lp->exits.emplace_back(block, std::move(s));
    return;
  }
  CountedVector<State>& ds = fr.pending[block - cfg_.funcs[fr.func].first_block];
  // Subsumed by a disjunct already there: nothing new.
  for (const State& d : ds) {
    State j = d;
    j.join_with(s);
    if (j.same_as(d)) return;
  }
  if (ds.size() < std::max<uint32_t>(opts_.max_disjuncts, 1)) {
    ds.push_back(std::move(s));
    result_.stats.peak_states = std::max(result_.stats.peak_states, ++live_states_);
    return;
  }
  // Full: join with the disjunct of the most similar shape.
  size_t best = 0;
  int best_d = INT32_MAX;
  for (size_t i = 0; i < ds.size(); ++i) {
    int d = shape_distance(ds[i], s);
    if (d < best_d) best = i, best_d = d;
  }
  ds[best].join_with(s);
}

static CountedVector<State> take(CountedVector<CountedVector<State>>& pending, uint32_t local, size_t& live) {
  CountedVector<State> s = std::move(pending[local]);
  pending[local].clear();
  live -= s.size();
  return s;
}

static State take_joined(CountedVector<CountedVector<State>>& pending, uint32_t local, size_t& live) {
  State s;
  for (State& d : take(pending, local, live))
    s.join_with(d);
  return s;
}

void Analyzer::run_block(FuncRun& fr, uint32_t b, State s) {
  if (s.bottom() || aborted_) return;
  const BasicBlock& bb = cfg_.blocks[b];
  steps_ += bb.last - bb.first + 1;
  const size_t held = state_memory().live - mem_base_;
  if (steps_ > opts_.max_steps || held > opts_.max_state_bytes) {
    std::string where = loop_stack_.empty()
                            ? std::string("in straight-line paths")
                            : fmt::format("iterating the loop at pc {}", prog_.insns[loop_stack_.back()].pc);
    std::string what =
        steps_ > opts_.max_steps
            ? fmt::format("the analysis budget of {} instruction steps ran out", opts_.max_steps)
            : fmt::format("the analysis held more than {:.1f} MiB of abstract states",
                          static_cast<double>(opts_.max_state_bytes) / (1 << 20));
    fail(ErrorKind::TooComplex, bb.first, s, {}, fmt::format("{} {}", what, where));
    aborted_ = true;
    return;
  }
  if (opts_.collect_log) log_block_entry(bb.first, s);
  for (uint32_t i = bb.first; i < bb.last; ++i)
    if (!step(i, s)) return;
  const Insn& in = prog_.insns[bb.last];
  const Form form = in.info().form;
  if (opts_.collect_log && (form == Form::Exit || form == Form::Ja || form == Form::Ja32))
    log_insn(bb.last, s, s, "");
  switch (in.info().form) {
    case Form::Exit:
      if (s.frames().size() == 1) {
        check_exit(bb.last, s);
      } else if (check_subprog_exit(bb.last, s)) {
        add_exit(fr, std::move(s));
      }
      return;
    case Form::Ja:
    case Form::Ja32:
      propagate(fr, cfg_.block_of[in.target], std::move(s));
      return;
    case Form::JmpImm:
    case Form::JmpReg: {
      State taken;
      exec_cond(bb.last, s, taken);
      if (opts_.collect_log)
        result_.log += fmt::format("{}: {} ; {}\n", in.pc, disassemble_insn(in),
                                   taken.bottom() ? "always falls through"
                                   : s.bottom()   ? "always taken"
                                                  : "both ways");
      propagate(fr, cfg_.block_of[in.target], std::move(taken));
      if (bb.last + 1 < prog_.insns.size()) propagate(fr, cfg_.block_of[bb.last + 1], std::move(s));
      return;
    }
    default:
      if (!step(bb.last, s)) return;
      if (bb.last + 1 < prog_.insns.size()) propagate(fr, cfg_.block_of[bb.last + 1], std::move(s));
      return;
  }
}

namespace {

// Loops: the first iterations are analysed one by one (exact, and they give widening a state that
// has settled); then an invariant is sought (widen_loop); if it does not prove the loop, the
// iterations go on one by one.
constexpr uint32_t kUnrolledBeforeWidening = 4;
constexpr int kJoinPasses = 1;       // passes that join before widening starts
constexpr int kThresholdPasses = 6;  // widening steps to thresholds; later ones go to the limits
constexpr int kNarrowPasses = 2;     // descending passes after the invariant is found
constexpr int kMaxPasses = 14;

// Removes the ghosts of the loop at `depth` and of loops nested in it.
void strip_ghosts(State& s, uint8_t depth) {
  s.for_each_value([depth](RegValue& r) {
    if (r.ghost.loop >= depth) r.ghost = Ghost{};
  });
}

// At the head of the loop at `depth`: every value of the loop's frame not already linked to an
// enclosing loop becomes linked to its own location with delta 0.
void stamp_ghosts(State& s, uint8_t depth) {
  Frame& f = s.cur();
  for (int r = 0; r < kNumRegs; ++r)
    if (f.regs[r].is_init() && f.regs[r].ghost.loop == 0) f.regs[r].ghost = Ghost{depth, uint8_t(r), 0, 0};
  for (int slot = 0; slot < StackFrame::kSlots; ++slot)
    if (RegValue* v = f.stack.spill_in_slot(slot); v && v->ghost.loop == 0)
      v->ghost = Ghost{depth, uint8_t(kGhostSlot0 + slot), 0, 0};
}

const RegValue* at_location(const State& s, int loc) {
  if (loc < kNumRegs) return &s.cur().regs[loc];
  return s.cur().stack.spill_in_slot(loc - kGhostSlot0);
}

std::string location_name(int loc) {
  if (loc < kNumRegs) return fmt::format("r{}", loc);
  return fmt::format("the stack slot at fp{}", (loc - kGhostSlot0) * 8 - static_cast<int>(kStackSize));
}

// The termination argument of a loop: a location whose value moves strictly in one direction on
// every path back to the head, by at least `step`, without wrapping, inside the range the head
// invariant gives it. The loop then runs at most `trips` iterations.
struct Ranking {
  int loc = -1;
  uint64_t trips = UINT64_MAX;
  std::string what;
};

std::optional<Ranking> find_ranking(const State& head, const CountedVector<State>& back, uint8_t depth) {
  if (back.empty()) return Ranking{-1, 1, "the body never returns to the head"};
  std::optional<Ranking> best;
  for (int loc = 0; loc < kGhostSlot0 + StackFrame::kSlots; ++loc) {
    if (loc >= kNumRegs && loc < kGhostSlot0) continue;
    const RegValue* h = at_location(head, loc);
    if (!h || !h->is_init()) continue;
    int64_t dmin = INT64_MAX, dmax = INT64_MIN;
    bool linked = true, low32 = false;
    for (const State& b : back) {
      const RegValue* v = at_location(b, loc);
      if (!v || v->ghost.loop != depth || (v->ghost.loc & ~kGhost32) != loc) {
        linked = false;
        break;
      }
      low32 |= (v->ghost.loc & kGhost32) != 0;
      dmin = std::min<int64_t>(dmin, v->ghost.dlo);
      dmax = std::max<int64_t>(dmax, v->ghost.dhi);
    }
    if (!linked || (dmin < 1 && dmax > -1)) continue;
    const bool up = dmin >= 1;
    const uint64_t step = up ? uint64_t(dmin) : uint64_t(-dmax),
                   reach = up ? uint64_t(dmax) : uint64_t(-dmin);
    const Scalar& v = h->v;
    // Unsigned, then signed view of the value on its width (signed: offsets from the minimum).
    struct View {
      uint64_t lo, hi, max;
      const char* name;
    };
    const View views[2] = {
        low32 ? View{v.u32min, v.u32max, UINT32_MAX, "u32"} : View{v.umin, v.umax, UINT64_MAX, "u64"},
        low32 ? View{uint64_t(int64_t{v.s32min} - INT32_MIN), uint64_t(int64_t{v.s32max} - INT32_MIN),
                     UINT32_MAX, "s32"}
              : View{uint64_t(v.smin) ^ (uint64_t{1} << 63), uint64_t(v.smax) ^ (uint64_t{1} << 63),
                     UINT64_MAX, "s64"},
    };
    for (const View& w : views) {
      // The last move may go `reach` past the bound the head invariant gives: it must not wrap.
      if (w.lo > w.hi || reach > (up ? w.max - w.hi : w.lo)) continue;
      const uint64_t trips = (w.hi - w.lo) / step + 1;
      if (best && trips >= best->trips) continue;
      best = Ranking{
          loc, trips,
          fmt::format("{} {} by {} per iteration within its {} range at the head (at most {} iterations)",
                      location_name(loc), up ? "grows" : "shrinks",
                      step == reach ? fmt::format("{}", step) : fmt::format("{} to {}", step, reach), w.name,
                      trips)};
    }
  }
  return best;
}

bool includes(const State& big, const State& small) {
  State j = big;
  j.join_with(small);
  return j.same_as(big);
}

}  // namespace

bool Analyzer::widen_loop(FuncRun& fr, uint32_t item, const State& entry, std::string* why) {
  const Function& f = cfg_.funcs[fr.func];
  const WtoItem& w = f.wto[item];
  const uint32_t local = w.block - f.first_block;
  const uint32_t head_pc = prog_.insns[cfg_.blocks[w.block].first].pc;
  if (loop_stack_.size() >= kGhost32) {
    *why = "loops nest too deeply to look for an invariant";
    return false;
  }
  const auto depth = static_cast<uint8_t>(loop_stack_.size());
  std::vector<bool> in_loop(f.num_blocks, false);
  for (uint32_t i = item; i < w.end; ++i)
    in_loop[f.wto[i].block - f.first_block] = true;
  const auto saved_depth = stack_depth_;
  const auto saved_chains = chains_;

  // The best pass so far: one over a head state that it proved inductive (entry and every back
  // edge included), with what it found and the call facts it recorded.
  struct Good {
    std::unique_ptr<LoopPass> pass;
    CountedVector<State> back;
    State head;
    std::vector<int64_t> stack_depth;
    std::set<std::vector<uint32_t>> chains;
  };
  std::optional<Good> good;
  static const Thresholds kNoThresholds;
  State h = entry;
  int widenings = 0, narrowings = 0;
  for (int pass = 1; !aborted_; ++pass) {
    if (pass > kMaxPasses) {
      if (!good) *why = fmt::format("no invariant found within {} widening passes", kMaxPasses);
      break;
    }
    if (opts_.collect_log)
      result_.log +=
          fmt::format("-- loop at pc {}: {} pass {}\n", head_pc, good ? "narrowing" : "widening", pass);
    stack_depth_ = saved_depth;
    chains_ = saved_chains;
    auto lp = std::make_unique<LoopPass>();
    lp->fr = &fr;
    lp->first_block = f.first_block;
    lp->in_loop = in_loop;
    passes_.push_back(lp.get());
    State st = h;
    stamp_ghosts(st, depth);
    run_block(fr, w.block, std::move(st));
    run_items(fr, item + 1, w.end);
    passes_.pop_back();
    CountedVector<State> back = take(fr.pending, local, live_states_);
    State next = entry;
    for (const State& b : back) {
      State c = b;
      strip_ghosts(c, depth);
      next.join_with(c);
    }
    if (includes(h, next)) {
      const bool stable = next.same_as(h);
      good = Good{std::move(lp), std::move(back), std::move(h), stack_depth_, chains_};
      if (stable || narrowings++ >= kNarrowPasses) break;
      h = std::move(next);  // narrowing: the image of an invariant, tried as the next candidate
      continue;
    }
    if (good) break;  // the narrowed candidate is not inductive: keep the last invariant
    if (pass <= kJoinPasses)
      h.join_with(next);
    else
      h.join_with(next, widenings++ < kThresholdPasses ? &thresholds_ : &kNoThresholds);
  }
  stack_depth_ = saved_depth;
  chains_ = saved_chains;
  if (aborted_) return true;  // the budget ran out (reported): the loop ends here
  if (!good) return false;
  if (good->pass->failed) {
    *why = "the invariant found does not prove the body safe (" + good->pass->first_error + ")";
    return false;
  }
  std::optional<Ranking> rank = find_ranking(good->head, good->back, depth);
  if (!rank) {
    *why = "no register or stack slot moves monotonically toward a bound on every path through the loop";
    return false;
  }
  if (rank->trips > opts_.max_loop_bound) {
    *why = fmt::format("{}: more than the limit of {}", rank->what, opts_.max_loop_bound);
    return false;
  }
  stack_depth_ = std::move(good->stack_depth);
  chains_ = std::move(good->chains);
  if (opts_.collect_log)
    result_.log += fmt::format("-- loop at pc {}: terminates: {}\n", head_pc, rank->what);
  ++result_.stats.loops_proven;
  result_.stats.max_loop_bound = std::max(result_.stats.max_loop_bound, rank->trips);
  for (auto& [b, st] : good->pass->exits) {
    strip_ghosts(st, depth);
    propagate(fr, b, std::move(st));
  }
  if (!good->pass->fexit.bottom()) {
    strip_ghosts(good->pass->fexit, depth);
    add_exit(fr, std::move(good->pass->fexit));
  }
  return true;
}

void Analyzer::run_loop(FuncRun& fr, uint32_t item) {
  const Function& f = cfg_.funcs[fr.func];
  const WtoItem& w = f.wto[item];
  uint32_t local = w.block - f.first_block;
  uint32_t head_insn = cfg_.blocks[w.block].first;
  State s = take_joined(fr.pending, local, live_states_);
  loop_stack_.push_back(head_insn);
  uint32_t iter = 0;
  std::string why;
  while (!s.bottom() && !aborted_) {
    if (iter == kUnrolledBeforeWidening) {
      if (widen_loop(fr, item, s, &why)) break;
      if (opts_.collect_log)
        result_.log += fmt::format("-- loop at pc {}: not proven by an invariant ({}); iterating on\n",
                                   prog_.insns[head_insn].pc, why);
    }
    if (++iter > opts_.max_loop_iterations) {
      fail(ErrorKind::UnboundedLoop, head_insn, s, {},
           fmt::format("the loop at pc {} may not terminate: no bound found within {} iterations{}",
                       prog_.insns[head_insn].pc, opts_.max_loop_iterations,
                       why.empty() ? "" : " (" + why + ")"));
      break;
    }
    result_.stats.max_loop_iterations = std::max(result_.stats.max_loop_iterations, iter);
    if (opts_.collect_log)
      result_.log += fmt::format("-- loop at pc {}: iteration {}\n", prog_.insns[head_insn].pc, iter);
    State prev = s;
    run_block(fr, w.block, std::move(s));
    run_items(fr, item + 1, w.end);
    s = take_joined(fr.pending, local, live_states_);
    if (!s.bottom() && s.same_as(prev)) {
      fail(
          ErrorKind::UnboundedLoop, head_insn, s, {},
          fmt::format("the loop at pc {} may not terminate: an iteration ends in the state it started from{}",
                      prog_.insns[head_insn].pc, why.empty() ? "" : " (" + why + ")"));
      break;
    }
  }
  loop_stack_.pop_back();
}

void Analyzer::run_items(FuncRun& fr, uint32_t begin, uint32_t end) {
  const Function& f = cfg_.funcs[fr.func];
  for (uint32_t i = begin; i < end && !aborted_; ++i) {
    const WtoItem& w = f.wto[i];
    if (w.head) {
      run_loop(fr, i);
      i = w.end - 1;
    } else {
      for (State& d : take(fr.pending, w.block - f.first_block, live_states_))
        run_block(fr, w.block, std::move(d));
    }
  }
}

State Analyzer::analyze_function(uint32_t func, State entry) {
  const Function& f = cfg_.funcs[func];
  FuncRun fr{func, CountedVector<CountedVector<State>>(f.num_blocks), State()};
  propagate(fr, f.first_block, std::move(entry));
  run_items(fr, 0, static_cast<uint32_t>(f.wto.size()));
  for (CountedVector<State>& p : fr.pending)
    live_states_ -= p.size();
  return std::move(fr.exit);
}

bool Analyzer::call_function(uint32_t idx, uint32_t entry, State& s, const RegValue (&args)[5], State* out) {
  if (s.frames().size() >= static_cast<size_t>(kMaxCallDepth)) {
    fail(ErrorKind::CallDepth, idx, s, {},
         fmt::format("the call nests {} frames (limit {})", s.frames().size() + 1, kMaxCallDepth));
    return false;
  }
  if (entry >= prog_.insns.size()) {
    fail(ErrorKind::Unsupported, idx, s, {}, "call target outside the program");
    return false;
  }
  std::vector<uint32_t> chain;
  for (const Frame& fr : s.frames())
    chain.push_back(cfg_.func_of_insn(fr.entry));
  chain.push_back(cfg_.func_of_insn(entry));
  chain.push_back(idx);
  chains_.insert(std::move(chain));
  State e = s;
  Frame nf;
  nf.entry = entry;
  nf.callsite = idx;
  for (int r = 0; r < 5; ++r)
    nf.regs[r + 1] = args[r];
  nf.regs[kFrameReg] = RegValue::pointer(RegKind::Stack);
  nf.regs[kFrameReg].frame = static_cast<uint8_t>(s.frames().size());
  e.frames().push_back(std::move(nf));
  if (opts_.collect_log)
    result_.log += fmt::format("-- call from pc {} to pc {} (frame {})\n", prog_.insns[idx].pc,
                               prog_.insns[entry].pc, s.frames().size());
  *out = analyze_function(cfg_.func_of_insn(entry), std::move(e));
  if (opts_.collect_log) result_.log += fmt::format("-- return to pc {}\n", prog_.insns[idx].pc);
  return !aborted_;
}

bool Analyzer::call_local(uint32_t idx, State& s) {
  const Insn& in = prog_.insns[idx];
  RegValue args[5];
  for (int r = 0; r < 5; ++r)
    args[r] = s.reg(r + 1);
  State out;
  if (!call_function(idx, static_cast<uint32_t>(in.target), s, args, &out)) return false;
  if (out.bottom()) {
    s.set_bottom();
    return false;
  }
  RegValue r0 = out.reg(0);
  out.frames().pop_back();
  s = std::move(out);
  s.reg(0) = r0;
  for (int r = 1; r <= 5; ++r)
    s.reg(r) = RegValue::uninit();
  return true;
}

VerifyResult Analyzer::run() {
  auto t0 = std::chrono::steady_clock::now();
  StateMemory& mem = state_memory();
  const size_t mem_base = mem.live, peak_before = mem.peak;
  mem_base_ = mem_base;
  mem.peak = mem.live;
  State init;
  init.frames().emplace_back();
  Frame& f = init.cur();
  f.regs[1] = RegValue::pointer(RegKind::Ctx);
  if (ctx_.r2_is_size) f.regs[2] = RegValue::scalar(Scalar::constant(ctx_.size));
  f.regs[kFrameReg] = RegValue::pointer(RegKind::Stack);
  analyze_function(0, std::move(init));
  // Combined stack of every call chain (the kernel's MAX_BPF_STACK rule: each frame rounded up to 32).
  if (!aborted_) {
    auto frame_size = [&](uint32_t fn) { return (std::max<int64_t>(stack_depth_[fn], 1) + 31) / 32 * 32; };
    int64_t main_depth = frame_size(0);
    if (main_depth > kStackSize) {
      State none;
      fail(ErrorKind::StackSize, 0, none, {}, fmt::format("the program uses {} bytes of stack", main_depth));
    }
    for (const auto& chain : chains_) {
      int64_t total = 0;
      for (size_t i = 0; i + 1 < chain.size(); ++i)
        total += frame_size(chain[i]);
      if (total > kStackSize) {
        State none;
        fail(ErrorKind::StackSize, chain.back(), none, {},
             fmt::format("the call chain of {} functions uses {} bytes of stack (limit {})", chain.size() - 1,
                         total, kStackSize));
      }
    }
  }
  for (const Function& fn : cfg_.funcs) {
    for (uint32_t u : fn.unreachable) {
      Diagnostic d;
      d.kind = ErrorKind::Unreachable;
      d.pc = prog_.insns[u].pc;
      d.insn = disassemble_insn(prog_.insns[u]);
      d.message = "instruction is unreachable";
      d.hint = error_kind_hint(ErrorKind::Unreachable);
      result_.warnings.push_back(std::move(d));
    }
  }
  std::sort(result_.errors.begin(), result_.errors.end(),
            [](const Diagnostic& a, const Diagnostic& b) { return a.pc < b.pc; });
  result_.accepted = result_.errors.empty();
  result_.stats.insns_analysed = steps_;
  result_.stats.peak_state_bytes = mem.peak - mem_base;
  mem.peak = std::max(peak_before, mem.peak);
  result_.stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return std::move(result_);
}

Result<VerifyResult> verify(const Program& program, const VerifyOptions& opts) {
  if (program.insns.empty()) return make_error(ErrorCode::kVerifier, kNoPc, "empty program");
  auto cfg = build_cfg(program);
  if (!cfg) {
    // Too large to order: a verdict, not an input error.
    VerifyResult r;
    Diagnostic d;
    d.kind = ErrorKind::TooComplex;
    d.pc = cfg.error().pc == kNoPc ? 0 : cfg.error().pc;
    d.message = cfg.error().msg;
    d.hint = error_kind_hint(ErrorKind::TooComplex);
    r.errors.push_back(std::move(d));
    return r;
  }
  Analyzer a(program, opts, *cfg);
  return a.run();
}

}  // namespace bpfvm::verifier
