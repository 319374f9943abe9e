// Abstract semantics of each instruction kind: how the state changes, assuming the checks of
// assertions.cpp passed.
#include <fmt/format.h>

#include "helpers/proto.h"
#include "verifier/analyzer.h"

namespace bpfvm::verifier {
namespace {

constexpr int32_t kMaxFixed = 1 << 29;

// Forgets that `r` shares its id with other registers.
void drop_id(RegValue& r) {
  if (r.is_packet() && r.range != kNoRange) {
    int64_t m = int64_t{r.range} - r.fixed;
    r.range = m < -kMaxFixed ? kNoRange : static_cast<int32_t>(std::min<int64_t>(m, INT32_MAX));
  }
  r.fixed = 0;
  r.id = 0;
  r.link = kLinkFull;
}

RegValue loaded_scalar(uint32_t size, bool sign_ext) {
  if (sign_ext && size < 8) {
    int64_t lim = int64_t{1} << (size * 8 - 1);
    return RegValue::scalar(Scalar::srange(-lim, lim - 1));
  }
  return RegValue::scalar(Scalar::of_size(size));
}

}  // namespace

uint32_t Analyzer::fresh_id(State& s, uint32_t idx) {
  uint32_t id = idx + 2;  // never 0 (none) nor kPacketBaseId
  s.for_each_value([id](RegValue& r) {
    if (r.id == id) drop_id(r);
  });
  return id;
}

bool Analyzer::exec(uint32_t idx, State& s) {
  const Insn& in = prog_.insns[idx];
  const OpInfo& info = in.info();
  switch (info.form) {
    case Form::AluImm:
    case Form::AluReg:
    case Form::AluNeg:
    case Form::End: {
      if (passes_.empty()) return exec_alu(idx, s);
      const RegValue dst = s.reg(in.dst), src = s.reg(in.src);
      if (!exec_alu(idx, s)) return false;
      track_ghost(in, dst, src, s.reg(in.dst));
      return true;
    }
    case Form::Lddw:
      return exec_lddw(idx, s);
    case Form::Ldx:
    case Form::LoadAcquire:
      return exec_load(idx, s, in.dst, in.src, in.off, info.size, info.sign_ext);
    case Form::St:
      return exec_store(idx, s, in.dst, in.off, info.size,
                        RegValue::scalar(Scalar::constant(static_cast<uint64_t>(int64_t{in.imm}))), -1);
    case Form::Stx:
    case Form::StoreRelease:
      if (!check_init(idx, s, in.src)) return false;
      return exec_store(idx, s, in.dst, in.off, info.size, s.reg(in.src), in.src);
    case Form::Atomic:
      return exec_atomic(idx, s);
    case Form::LdAbs:
    case Form::LdInd:
      return exec_ldabs(idx, s);
    case Form::Call:
      return exec_helper(idx, s);
    case Form::CallLocal:
      return call_local(idx, s);
    default:
      fail(ErrorKind::Unsupported, idx, s, {},
           fmt::format("instruction '{}' is not supported by the verifier", info.mnemonic));
      return false;
  }
}

// Loop ghosts through an ALU instruction (see Ghost in regtype.h): copies keep the link (a 32-bit
// copy keeps it on the low 32 bits), adding or subtracting a bounded scalar moves its delta, any
// other operation ends it.
void Analyzer::track_ghost(const Insn& in, const RegValue& dst, const RegValue& src, RegValue& out) {
  const OpInfo& info = in.info();
  const bool reg = info.src_reg && info.form == Form::AluReg;
  Ghost g;
  auto on_low32 = [&](Ghost x) {
    if (!info.is64) x.loc |= kGhost32;
    return x;
  };
  // The step added, as a signed range on the operation's width.
  auto step = [&](const RegValue& v, int64_t& lo, int64_t& hi) {
    if (v.kind != RegKind::Scalar) return false;
    lo = info.is64 ? v.v.smin : v.v.s32min;
    hi = info.is64 ? v.v.smax : v.v.s32max;
    return lo >= INT32_MIN && hi <= INT32_MAX;
  };
  // Pointers' ghosts follow their offset: a link survives only while the value keeps its kind.
  if (info.alu == AluOp::Mov && info.form == Form::AluReg) {
    if (out.kind == src.kind) g = on_low32(src.ghost);
  } else if (info.alu == AluOp::Add || info.alu == AluOp::Sub) {
    const RegValue imm = RegValue::scalar(Scalar::constant(static_cast<uint64_t>(int64_t{in.imm})));
    const RegValue* base = &dst;
    const RegValue* k = reg ? &src : &imm;
    if (dst.ghost.loop == 0 && info.alu == AluOp::Add && reg && src.ghost.loop != 0) base = &src, k = &dst;
    int64_t lo, hi;
    if (base->ghost.loop != 0 && out.kind == base->kind && step(*k, lo, hi)) {
      if (info.alu == AluOp::Sub) std::swap(lo, hi), lo = -lo, hi = -hi;
      const int64_t dlo = base->ghost.dlo + lo, dhi = base->ghost.dhi + hi;
      if (dlo >= INT32_MIN && dhi <= INT32_MAX) {
        g = on_low32(base->ghost);
        g.dlo = static_cast<int32_t>(dlo);
        g.dhi = static_cast<int32_t>(dhi);
      }
    }
  }
  out.ghost = out.is_init() ? g : Ghost{};
}

// The link (id, fixed, link kind) of `dst` after a scalar ALU instruction whose destination held
// `old` and whose source operand is `src`; `dst` holds the new value without a link.
void Analyzer::link_alu(const Insn& in,
                        const RegValue& old,
                        const RegValue& src,
                        RegValue& dst,
                        State& s,
                        uint32_t idx) {
  const OpInfo& info = in.info();
  const AluOp op = info.alu;
  auto keep = [&](const RegValue& from, int64_t add, uint8_t link) {
    const int64_t f = int64_t{from.fixed} + add;
    if (add < -kMaxFixed || add > kMaxFixed || f < -kMaxFixed || f > kMaxFixed) return;
    dst.id = from.id;
    dst.fixed = static_cast<int32_t>(f);
    dst.link = link;
  };
  const bool reg = info.form == Form::AluReg;
  if (op == AluOp::Mov && !info.is64 && reg) {
    // w1 = w6: the low half of r6's value, zero-extended.
    if (src.kind != RegKind::Scalar || src.v.is_const() || src.link == kLinkHigh32 || in.src == in.dst)
      return;
    RegValue& from = s.reg(in.src);
    if (from.id == 0) {
      from.id = fresh_id(s, idx);
      from.fixed = 0;
      from.link = kLinkFull;
    }
    keep(from, 0, kLinkLow32);
    return;
  }
  if (old.id == 0 || (old.link == kLinkHigh32 && op != AluOp::Rsh)) return;
  if ((op == AluOp::Add || op == AluOp::Sub) && !reg && src.v.is_const()) {
    const int64_t c = static_cast<int64_t>(src.v.value());
    if (info.is64 && old.link == kLinkFull) keep(old, op == AluOp::Add ? c : -c, kLinkFull);
    // 32 bits: the low half moves by c (mod 2^32), the result is zero-extended.
    if (!info.is64) keep(old, static_cast<int32_t>(op == AluOp::Add ? c : -c), kLinkLow32);
    return;
  }
  if (info.is64 && !reg && in.imm == 32 && op == AluOp::Lsh && old.link != kLinkHigh32)
    keep(old, 0, kLinkHigh32);
  else if (info.is64 && !reg && in.imm == 32 && op == AluOp::Rsh && old.link == kLinkHigh32)
    keep(old, 0, kLinkLow32);
}

bool Analyzer::exec_alu(uint32_t idx, State& s) {
  const Insn& in = prog_.insns[idx];
  const OpInfo& info = in.info();
  AluOp op = info.alu;
  bool unary = info.form == Form::AluNeg || info.form == Form::End;
  bool reads_dst = op != AluOp::Mov && op != AluOp::Movsx;
  if (reads_dst && !check_init(idx, s, in.dst)) return false;
  if (info.src_reg && !unary && !check_init(idx, s, in.src)) return false;
  RegValue src = info.src_reg && !unary
                     ? s.reg(in.src)
                     : RegValue::scalar(Scalar::constant(static_cast<uint64_t>(int64_t{in.imm})));
  RegValue& dst = s.reg(in.dst);
  unsigned ext = info.ext_bits ? info.ext_bits : static_cast<unsigned>(in.imm);
  if (op == AluOp::Mov && info.is64) {
    // Linked scalars (the kernel's scalar ids): a copy shares an id with its source, so that
    // bounds a branch proves on one of them hold for every copy (registers and spills).
    if (info.src_reg && src.kind == RegKind::Scalar && !src.v.is_const() && in.src != in.dst) {
      if (src.id == 0) {
        uint32_t id = fresh_id(s, idx);
        s.reg(in.src).id = id;
        src.id = id;
      }
    }
    s.reg(in.dst) = src;
    return true;
  }
  if (!src.is_pointer() && (!reads_dst || !dst.is_pointer())) {
    const Scalar& a = reads_dst ? dst.v : src.v;
    const RegValue old = dst;
    dst = RegValue::scalar(alu(op, info.is64, a, src.v, ext));
    // Linked scalars: `r2 = r1; r2 += c` keeps r2 linked to r1 with the offset c (the kernel's
    // BPF_ADD_CONST), so that a bound proven on either carries to the other. 32-bit copies and
    // adds, and the `<<= 32; >>= 32` zero-extension idiom, keep a link on the low halves.
    link_alu(in, old, src, dst, s, idx);
    return true;
  }
  const char* opname = info.mnemonic.data();
  if (!info.is64) return exec_alu32_pointer(idx, s, src);
  if (dst.kind == RegKind::TruncPtr || src.kind == RegKind::TruncPtr) {
    fail(ErrorKind::BadPointerArithmetic, idx, s, {in.dst, in.src},
         fmt::format("64-bit '{}' on the low half of a pointer is prohibited (its result would hold address "
                     "bits); only 32-bit add/sub and differences of packet pointers are defined",
                     opname));
    return false;
  }
  // Pointer arithmetic.
  if (unary || (op != AluOp::Add && op != AluOp::Sub)) {
    fail(ErrorKind::BadPointerArithmetic, idx, s, {in.dst, in.src},
         fmt::format("'{}' on a pointer is prohibited (only 64-bit add/sub of a scalar)", opname));
    return false;
  }
  if (dst.is_pointer() && src.is_pointer()) {
    auto packet_family = [](const RegValue& r) { return r.is_packet() || r.kind == RegKind::PacketEnd; };
    // data_end - data and friends: the same packet, but the distance is not an offset difference.
    if (op == AluOp::Sub && packet_family(dst) && packet_family(src) && dst.kind != src.kind) {
      dst = RegValue::scalar(Scalar::top());
      return true;
    }
    // Offsets subtract exactly within one region: the packet, one stack frame, one map value (the
    // same lookup: pointers of one map but of different lookups may point into different entries,
    // and interchangeable maps share an index, see canon_map_).
    bool same = op == AluOp::Sub && dst.kind == src.kind &&
                (dst.is_packet() || (dst.kind == RegKind::Stack && dst.frame == src.frame) ||
                 (dst.kind == RegKind::MapValue && dst.map == src.map && dst.id != 0 && dst.id == src.id));
    if (!same) {
      fail(
          ErrorKind::BadPointerArithmetic, idx, s, {in.dst, in.src},
          "arithmetic between two pointers is prohibited (except subtracting pointers into the same region)");
      return false;
    }
    dst = RegValue::scalar(alu(AluOp::Sub, true, dst.v, src.v));
    return true;
  }
  if (!dst.is_pointer() && op == AluOp::Sub) {
    fail(ErrorKind::BadPointerArithmetic, idx, s, {in.dst, in.src},
         "subtracting a pointer from a scalar is prohibited");
    return false;
  }
  RegValue ptr = dst.is_pointer() ? dst : src;
  const Scalar& k = dst.is_pointer() ? src.v : dst.v;
  int pr = dst.is_pointer() ? in.dst : in.src;
  if (!ptr.allows_arithmetic()) {
    fail(ErrorKind::BadPointerArithmetic, idx, s, {pr},
         fmt::format("arithmetic on a {} pointer is prohibited{}", reg_kind_name(ptr.kind),
                     ptr.is_nullable() ? " before its null check" : ""));
    return false;
  }
  RegValue r = ptr;
  r.v = alu(op, true, ptr.v, k);
  if (r.is_packet()) {
    if (k.is_const()) {
      int64_t d = static_cast<int64_t>(k.value());
      int64_t f = op == AluOp::Add ? int64_t{r.fixed} + d : int64_t{r.fixed} - d;
      if (f < -kMaxFixed || f > kMaxFixed) {
        r.id = 0, r.fixed = 0, r.range = kNoRange;
      } else {
        r.fixed = static_cast<int32_t>(f);
      }
    } else {
      // A variable offset: the pointer gets its own id, and the proven range carries over, rebased
      // on it: data_end >= ptr - fixed + range and the new pointer is ptr + k with k <= k.smax (or
      // ptr - k with k >= k.smin), so data_end >= new + (range - fixed - k.smax) (resp. + k.smin).
      int32_t range = kNoRange;
      if (ptr.range != kNoRange && k.smin >= -kMaxFixed && k.smax <= kMaxFixed) {
        const int64_t m = int64_t{ptr.range} - ptr.fixed + (op == AluOp::Add ? -k.smax : k.smin);
        if (m >= -kMaxFixed) range = static_cast<int32_t>(std::min<int64_t>(m, INT32_MAX));
      }
      r.id = fresh_id(s, idx);
      r.fixed = 0;
      r.range = range;
    }
  }
  s.reg(in.dst) = r;
  return true;
}

// 32-bit ALU with a pointer operand. The low half of an address is a truncated pointer (TruncPtr):
// mov32 of a pointer, add32/sub32 of a scalar to one. It is never dereferenced and may not leave
// the program (stores outside the stack, helper arguments, the return value are pointer leaks).
// The difference of two of them into the packet is a scalar: `w3 = w_end; w3 -= w_data`, what
// clang emits for (u32)(data_end - data) with alu32. Any other operation is refused: its result
// would expose address bits. (Privileged Linux turns these results into unknown scalars and
// refuses add32 on a pointer; unprivileged Linux refuses all of them.)
bool Analyzer::exec_alu32_pointer(uint32_t idx, State& s, const RegValue& src) {
  const Insn& in = prog_.insns[idx];
  const OpInfo& info = in.info();
  const AluOp op = info.alu;
  const bool unary = info.form == Form::AluNeg || info.form == Form::End;
  RegValue& dst = s.reg(in.dst);
  const bool dst_ptr = op != AluOp::Mov && dst.is_pointer();
  if (op == AluOp::Mov) {
    dst = truncated(src);
    return true;
  }
  if (!unary && (op == AluOp::Add || op == AluOp::Sub)) {
    if (dst_ptr && !src.is_pointer()) {
      RegValue t = truncated(dst);
      t.v = alu(op, true, t.v, src.v);  // the offset modulo 2^32 is what matters
      dst = t;
      return true;
    }
    if (!dst_ptr && op == AluOp::Add) {
      RegValue t = truncated(src);
      t.v = alu(AluOp::Add, true, t.v, dst.v);
      dst = t;
      return true;
    }
    if (dst_ptr && op == AluOp::Sub) {
      const RegValue a = truncated(dst), b = truncated(src);
      auto in_packet = [](RegKind k) {
        return k == RegKind::Packet || k == RegKind::PacketMeta || k == RegKind::PacketEnd;
      };
      if (in_packet(a.base) && in_packet(b.base)) {
        // Offsets from the same start (data, data_meta or data_end) subtract exactly; between two
        // starts the distance depends on the packet: any 32-bit value.
        dst = RegValue::scalar(a.base == b.base ? alu(AluOp::Sub, false, a.v, b.v)
                                                : Scalar::urange(0, UINT32_MAX));
        return true;
      }
      fail(ErrorKind::BadPointerArithmetic, idx, s, {in.dst, in.src},
           fmt::format("'{}' of two pointers (or their low halves) is only defined within the packet: the "
                       "result would hold address bits",
                       info.mnemonic));
      return false;
    }
  }
  fail(ErrorKind::BadPointerArithmetic, idx, s, {in.dst, in.src},
       fmt::format("32-bit '{}' on a pointer (or its low half) is prohibited: the result would hold address "
                   "bits; only mov32, add32/sub32 of a scalar and the distance between packet pointers are "
                   "allowed",
                   info.mnemonic));
  return false;
}

bool Analyzer::exec_lddw(uint32_t idx, State& s) {
  const Insn& in = prog_.insns[idx];
  RegValue& d = s.reg(in.dst);
  auto src = static_cast<LddwSrc>(in.src);
  switch (src) {
    case LddwSrc::Imm64:
      d = RegValue::scalar(Scalar::constant(in.imm64));
      return true;
    case LddwSrc::MapFd:
    case LddwSrc::MapIdx:
    case LddwSrc::MapValue:
    case LddwSrc::MapIdxValue: {
      uint32_t m = static_cast<uint32_t>(in.imm);
      if (m >= opts_.maps.size()) {
        fail(ErrorKind::InvalidMapRef, idx, s, {},
             fmt::format("map index {} is out of range ({} maps)", m, opts_.maps.size()));
        return false;
      }
      if (src == LddwSrc::MapFd || src == LddwSrc::MapIdx) {
        // Interchangeable maps share one index, so that a pointer to either joins (see canon_map_).
        d = RegValue::pointer(RegKind::MapPtr);
        d.map = canon_map_[m];
        return true;
      }
      uint32_t off = static_cast<uint32_t>(in.imm64 >> 32);
      const MapDef& md = maps_[m];
      if (md.type != MapType::Array || off >= md.value_size) {
        fail(ErrorKind::InvalidMapRef, idx, s, {},
             fmt::format(
                 "direct value access needs an array map and an offset below its value size (map '{}', "
                 "offset {})",
                 md.name, off));
        return false;
      }
      d = RegValue::pointer(RegKind::MapValue, off);
      d.map = canon_map_[m];
      return true;
    }
    case LddwSrc::Func:
      d = RegValue::pointer(RegKind::Func);
      d.map = static_cast<uint32_t>(in.target);
      return true;
    default:
      fail(ErrorKind::Unsupported, idx, s, {}, "lddw of a BTF id is not supported");
      return false;
  }
}

bool Analyzer::exec_load(uint32_t idx,
                         State& s,
                         int dst,
                         int base,
                         int32_t off,
                         uint32_t size,
                         bool sign_ext) {
  if (!check_init(idx, s, base)) return false;
  Access a;
  if (!check_access(idx, s, base, off, size, false, false, &a)) return false;
  RegValue v = loaded_scalar(size, sign_ext);
  if (a.kind == RegKind::Stack) {
    const StackFrame& st = s.frames()[a.frame].stack;
    const int lo = static_cast<int>(a.lo);
    if (a.const_off ? st.load_exposes_pointer(lo, static_cast<int>(size), sign_ext)
                    : st.holds_pointer(lo, static_cast<int>(a.hi - a.lo))) {
      fail(ErrorKind::PointerLeak, idx, s, {base},
           fmt::format("this {}-byte read of the stack would give address bits as a scalar: the bytes hold "
                       "(part of) a spilled pointer (only whole fills, or the low half of an 8-byte spill, "
                       "are allowed)",
                       size));
      return false;
    }
    if (a.const_off) v = st.load(lo, static_cast<int>(size), sign_ext);
  } else if (a.kind == RegKind::Ctx && a.field != FieldKind::Scalar) {
    switch (a.field) {
      case FieldKind::Sock:
      case FieldKind::SockOrNull:
        v = RegValue::pointer(a.field == FieldKind::Sock ? RegKind::Sock : RegKind::SockOrNull);
        v.id = fresh_id(s, idx);  // copies share the null check
        break;
      case FieldKind::FlowKeys:
        v = RegValue::pointer(RegKind::Mem);
        v.size = kFlowKeysSize;
        break;
      default:
        v = RegValue::pointer(a.field == FieldKind::Packet      ? RegKind::Packet
                              : a.field == FieldKind::PacketEnd ? RegKind::PacketEnd
                                                                : RegKind::PacketMeta);
        v.id = kPacketBaseId;
    }
  }
  s.reg(dst) = v;
  return true;
}

bool Analyzer::exec_store(uint32_t idx,
                          State& s,
                          int base,
                          int32_t off,
                          uint32_t size,
                          const RegValue& val,
                          int src) {
  if (!check_init(idx, s, base)) return false;
  Access a;
  if (!check_access(idx, s, base, off, size, true, false, &a)) return false;
  if (val.is_pointer()) {
    if (a.kind != RegKind::Stack) {
      fail(ErrorKind::PointerLeak, idx, s, {base, src},
           fmt::format("storing a {} pointer into {} memory leaks it", reg_kind_name(val.kind),
                       reg_kind_name(a.kind)));
      return false;
    }
    if (size != 8 || !a.const_off) {
      fail(ErrorKind::PointerLeak, idx, s, {base, src},
           "pointers may only be spilled whole (8 bytes, constant offset)");
      return false;
    }
  }
  if (a.kind == RegKind::Stack) {
    RegValue v = val;
    // A spilled scalar stays linked to the register it came from (as a register copy would).
    if (a.const_off && size == 8 && src >= 0 && v.kind == RegKind::Scalar && !v.v.is_const() && v.id == 0) {
      v.id = fresh_id(s, idx);
      s.reg(src).id = v.id;
    }
    StackFrame& st = s.frames()[a.frame].stack;
    if (a.const_off)
      st.store(static_cast<int>(a.lo), static_cast<int>(size), &v);
    else
      st.store_somewhere(static_cast<int>(a.lo), static_cast<int>(a.hi));
  }
  return true;
}

bool Analyzer::exec_atomic(uint32_t idx, State& s) {
  const Insn& in = prog_.insns[idx];
  const OpInfo& info = in.info();
  if (!check_init(idx, s, in.dst) || !check_init(idx, s, in.src)) return false;
  if (s.reg(in.src).is_pointer()) {
    fail(ErrorKind::PointerLeak, idx, s, {in.src}, "atomic operations take a scalar operand");
    return false;
  }
  if (info.atomic == AtomicOp::Cmpxchg && !check_init(idx, s, 0)) return false;
  RegKind k = s.reg(in.dst).kind;
  if (k != RegKind::Stack && k != RegKind::MapValue && k != RegKind::Mem &&
      !(k == RegKind::Ctx && ctx_.raw)) {
    fail(ErrorKind::InvalidMemAccess, idx, s, {in.dst},
         fmt::format("atomic operation on a {} pointer is not allowed", reg_kind_name(k)));
    return false;
  }
  Access a;
  if (!check_access(idx, s, in.dst, in.off, info.size, false, false, &a)) return false;
  if (!check_access(idx, s, in.dst, in.off, info.size, true, false, &a)) return false;
  if (a.kind == RegKind::Stack) {
    StackFrame& st = s.frames()[a.frame].stack;
    if (st.holds_pointer(static_cast<int>(a.lo), static_cast<int>(a.hi - a.lo))) {
      fail(ErrorKind::PointerLeak, idx, s, {in.dst},
           "an atomic operation on a spilled pointer would turn address bits into a scalar");
      return false;
    }
    if (a.const_off)
      st.store(static_cast<int>(a.lo), static_cast<int>(info.size), nullptr);
    else
      st.store_somewhere(static_cast<int>(a.lo), static_cast<int>(a.hi));
  }
  if (info.atomic == AtomicOp::Cmpxchg)
    s.reg(0) = RegValue::scalar(Scalar::of_size(info.size));
  else if (info.fetch)
    s.reg(in.src) = RegValue::scalar(Scalar::of_size(info.size));
  return true;
}

bool Analyzer::exec_ldabs(uint32_t idx, State& s) {
  const Insn& in = prog_.insns[idx];
  const OpInfo& info = in.info();
  if (!ctx_.ld_abs) {
    fail(ErrorKind::Unsupported, idx, s, {},
         fmt::format("legacy packet loads are not allowed in {} programs", ctx_.name));
    return false;
  }
  if (!check_init(idx, s, 6)) return false;
  if (s.reg(6).kind != RegKind::Ctx) {
    fail(ErrorKind::BadHelperArg, idx, s, {6}, "legacy packet loads need the context in r6");
    return false;
  }
  if (info.form == Form::LdInd) {
    if (!check_init(idx, s, in.src)) return false;
    if (s.reg(in.src).is_pointer()) {
      fail(ErrorKind::BadPointerArithmetic, idx, s, {in.src},
           "the index of a legacy packet load must be a scalar");
      return false;
    }
  }
  for (int r = 1; r <= 5; ++r)
    s.reg(r) = RegValue::uninit();
  s.reg(0) = RegValue::scalar(Scalar::of_size(info.size));
  return true;
}

void Analyzer::exec_cond(uint32_t idx, State& fall, State& taken) {
  const Insn& in = prog_.insns[idx];
  const OpInfo& info = in.info();
  if (!check_init(idx, fall, in.dst) || (info.src_reg && !check_init(idx, fall, in.src))) {
    fall.set_bottom();
    taken.set_bottom();
    return;
  }
  taken = fall;
  Cond cond = info.cond;
  bool is64 = info.is64;
  RegValue imm = RegValue::scalar(Scalar::constant(static_cast<uint64_t>(int64_t{in.imm})));
  auto apply = [&](State& st, bool tk) {
    RegValue& a = st.reg(in.dst);
    RegValue bcopy = info.src_reg ? st.reg(in.src) : imm;
    RegValue& b = info.src_reg ? st.reg(in.src) : bcopy;
    if (a.kind == RegKind::Scalar && b.kind == RegKind::Scalar) {
      refine(cond, tk, is64, a.v, b.v);
      if (a.v.is_bottom() || b.v.is_bottom()) {
        st.set_bottom();
        return;
      }
      // Linked scalars equal the refined one up to their offsets (`fixed`): they get its bounds,
      // shifted.
      const RegValue ra = a, rb = b;
      bool b_is_reg = info.src_reg, empty = false;
      auto shifted = [](const RegValue& from, const RegValue& to) {
        const int64_t d = int64_t{to.fixed} - from.fixed;
        const Scalar k = Scalar::constant(static_cast<uint64_t>(d));
        if (from.link == kLinkHigh32 || to.link == kLinkHigh32) return Scalar::top();
        if (from.link == kLinkFull && to.link == kLinkFull)
          return d == 0 ? from.v : alu(AluOp::Add, true, from.v, k);
        // A zero-extended low half: the other's low half, moved by d.
        const Scalar low = alu(AluOp::Add, false, from.v, k);
        if (to.link == kLinkLow32) return low;
        // From a low half to a full value: only its low 32 bits are known.
        Scalar c;
        c.t = Tnum{low.t.value & 0xffffffffu, low.t.mask | ~uint64_t{0xffffffff}};
        c.u32min = low.u32min, c.u32max = low.u32max, c.s32min = low.s32min, c.s32max = low.s32max;
        c.sync();
        return c;
      };
      st.for_each_value([&](RegValue& r) {
        if (r.kind != RegKind::Scalar || r.id == 0) return;
        if (r.id == ra.id) r.v = r.v.meet(shifted(ra, r));
        if (b_is_reg && r.id == rb.id) r.v = r.v.meet(shifted(rb, r));
        empty |= r.v.is_bottom();
      });
      if (empty) st.set_bottom();
      return;
    }
    bool eqne = cond == Cond::Eq || cond == Cond::Ne;
    auto is_zero = [](const RegValue& r) { return r.kind == RegKind::Scalar && r.v.is_zero(); };
    RegValue* p = nullptr;
    if (is64 && eqne && is_zero(b))
      p = &a;
    else if (is64 && eqne && is_zero(a))
      p = &b;
    // (The low half of a pointer may be 0: nothing to learn from comparing it.)
    if (p && p->is_pointer() && p->kind != RegKind::TruncPtr) {
      bool is_null = (cond == Cond::Eq) == tk;
      if (!p->is_nullable()) {
        if (is_null) st.set_bottom();  // pointers of these kinds are never NULL
        return;
      }
      RegValue target = *p;
      auto matches = [&](const RegValue& r) {
        return r.is_nullable() && ((target.id != 0 && r.id == target.id) || &r == p);
      };
      if (is_null) {
        if (target.ref) st.release(target.ref);
        st.for_each_value([&](RegValue& r) {
          if (matches(r)) r = RegValue::scalar(Scalar::constant(0));
        });
      } else {
        st.for_each_value([&](RegValue& r) {
          if (matches(r)) r.kind = checked_kind(r.kind);
        });
      }
      return;
    }
    // Packet bounds: pkt vs pkt_end, meta vs data.
    if (!is64 || eqne || cond == Cond::Set) return;
    RegValue* ptr = nullptr;
    Cond c = cond;
    auto is_end_for = [](const RegValue& x, const RegValue& end) {
      if (x.kind == RegKind::Packet) return end.kind == RegKind::PacketEnd;
      if (x.kind == RegKind::PacketMeta) return end.kind == RegKind::Packet && end.v.is_zero();
      return false;
    };
    if (is_end_for(a, b)) {
      ptr = &a;
    } else if (is_end_for(b, a)) {
      ptr = &b;
      c = swap_cond(c);
    } else {
      return;
    }
    // Now `ptr c end`. Which outcome proves ptr <= end (strict: ptr < end)?
    bool proves = false, strict = false;
    switch (c) {
      case Cond::Gt:
        proves = !tk;
        break;
      case Cond::Ge:
        proves = !tk, strict = true;
        break;
      case Cond::Lt:
        proves = tk, strict = true;
        break;
      case Cond::Le:
        proves = tk;
        break;
      default:
        return;
    }
    if (!proves) return;
    RegValue t = *ptr;
    int32_t nr = t.fixed + (strict ? 1 : 0);
    auto upd = [&](RegValue& r) {
      if (r.range == kNoRange || r.range < nr) r.range = nr;
    };
    if (t.id != 0) {
      st.for_each_value([&](RegValue& r) {
        if (r.kind == t.kind && r.id == t.id) upd(r);
      });
    } else {
      upd(*ptr);
    }
  };
  apply(fall, false);
  apply(taken, true);
  fall.trail().push(in.pc, false);
  taken.trail().push(in.pc, true);
}

}  // namespace bpfvm::verifier
