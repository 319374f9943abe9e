// The fixpoint driver: functions in weak topological order, loops iterated one iteration at a time
// until their back edges carry no state (termination proof), calls analyzed in the caller's
// context, reports.
#include "verifier/verifier.h"

#include <fmt/format.h>

#include <chrono>

#include "verifier/analyzer.h"
#include "vm/disasm.h"

namespace bpfvm::verifier {

Analyzer::Analyzer(const Program& p, const VerifyOptions& o, const Cfg& cfg)
    : prog_(p),
      opts_(o),
      cfg_(cfg),
      ctx_(context_for(o.type, o.raw_ctx_size)),
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
      if (a.type == b.type && a.key_size == b.key_size && a.value_size == b.value_size &&
          a.read_only == b.read_only && a.inner.empty() && b.inner.empty()) {
        c = j;
        break;
      }
    }
    canon_map_.push_back(c);
  }
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
  }
  return "?";
}

void Analyzer::fail(ErrorKind k,
                    uint32_t idx,
                    const State& s,
                    std::initializer_list<int> regs,
                    std::string msg) {
  uint32_t pc = prog_.insns[idx].pc;
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

void Analyzer::propagate(FuncRun& fr, uint32_t block, State&& s) {
  if (s.bottom()) return;
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
  if (steps_ > opts_.max_steps) {
    std::string where = loop_stack_.empty()
                            ? std::string("in straight-line paths")
                            : fmt::format("iterating the loop at pc {}", prog_.insns[loop_stack_.back()].pc);
    fail(ErrorKind::TooComplex, bb.first, s, {},
         fmt::format("the analysis budget of {} instruction steps ran out {}", opts_.max_steps, where));
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
        fr.exit.join_with(s);
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

void Analyzer::run_loop(FuncRun& fr, uint32_t item) {
  const Function& f = cfg_.funcs[fr.func];
  const WtoItem& w = f.wto[item];
  uint32_t local = w.block - f.first_block;
  uint32_t head_insn = cfg_.blocks[w.block].first;
  State s = take_joined(fr.pending, local, live_states_);
  loop_stack_.push_back(head_insn);
  uint32_t iter = 0;
  while (!s.bottom() && !aborted_) {
    if (++iter > opts_.max_loop_iterations) {
      fail(ErrorKind::UnboundedLoop, head_insn, s, {},
           fmt::format("the loop at pc {} may not terminate: no bound found within {} iterations",
                       prog_.insns[head_insn].pc, opts_.max_loop_iterations));
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
      fail(ErrorKind::UnboundedLoop, head_insn, s, {},
           fmt::format("the loop at pc {} may not terminate: an iteration ends in the state it started from",
                       prog_.insns[head_insn].pc));
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
