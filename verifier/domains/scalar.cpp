#include "verifier/domains/scalar.h"

#include <fmt/format.h>

#include <algorithm>

#include "vm/alu.h"

namespace bpfvm::verifier {
namespace {

constexpr uint64_t kSign64 = uint64_t{1} << 63;
constexpr uint64_t kHi = 0xffffffff00000000ull;
constexpr int64_t kS64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kS64Max = std::numeric_limits<int64_t>::max();

template <class T>
void raise(T& v, T lo) {
  if (v < lo) v = lo;
}
template <class T>
void lower(T& v, T hi) {
  if (v > hi) v = hi;
}

}  // namespace

Scalar Scalar::constant(uint64_t v) {
  Scalar s;
  s.t = Tnum::constant(v);
  s.umin = s.umax = v;
  s.smin = s.smax = static_cast<int64_t>(v);
  s.u32min = s.u32max = static_cast<uint32_t>(v);
  s.s32min = s.s32max = static_cast<int32_t>(v);
  return s;
}

Scalar Scalar::urange(uint64_t lo, uint64_t hi) {
  Scalar s;
  s.umin = lo, s.umax = hi;
  s.sync();
  return s;
}

Scalar Scalar::srange(int64_t lo, int64_t hi) {
  Scalar s;
  s.smin = lo, s.smax = hi;
  s.sync();
  return s;
}

Scalar Scalar::of_size(unsigned bytes) {
  if (bytes >= 8) return top();
  return urange(0, (uint64_t{1} << (8 * bytes)) - 1);
}

void Scalar::sync() {
  for (int round = 0; round < 2 && !is_bottom(); ++round) {
    // Bounds from known bits (__update_reg_bounds).
    Tnum t32 = t.subreg();
    raise(s32min, static_cast<int32_t>(t32.value | (t32.mask & 0x80000000u)));
    lower(s32max, static_cast<int32_t>(t32.value | (t32.mask & 0x7fffffffu)));
    raise(u32min, static_cast<uint32_t>(t32.value));
    lower(u32max, static_cast<uint32_t>(t32.value | t32.mask));
    raise(smin, static_cast<int64_t>(t.value | (t.mask & kSign64)));
    lower(smax, static_cast<int64_t>(t.value | (t.mask & ~kSign64)));
    raise(umin, t.value);
    lower(umax, t.value | t.mask);
    if (is_bottom()) return;
    // Signed <-> unsigned within each width (__reg_deduce_bounds).
    if (static_cast<int32_t>(u32min) <= static_cast<int32_t>(u32max)) {
      raise(s32min, static_cast<int32_t>(u32min));
      lower(s32max, static_cast<int32_t>(u32max));
    }
    if (static_cast<uint32_t>(s32min) <= static_cast<uint32_t>(s32max)) {
      raise(u32min, static_cast<uint32_t>(s32min));
      lower(u32max, static_cast<uint32_t>(s32max));
    }
    if (static_cast<int64_t>(umin) <= static_cast<int64_t>(umax)) {
      raise(smin, static_cast<int64_t>(umin));
      lower(smax, static_cast<int64_t>(umax));
    }
    if (static_cast<uint64_t>(smin) <= static_cast<uint64_t>(smax)) {
      raise(umin, static_cast<uint64_t>(smin));
      lower(umax, static_cast<uint64_t>(smax));
    }
    if (is_bottom()) return;
    // 64 -> 32: a range inside one 2^32 block bounds the low half.
    if ((umin >> 32) == (umax >> 32)) {
      raise(u32min, static_cast<uint32_t>(umin));
      lower(u32max, static_cast<uint32_t>(umax));
      if (static_cast<int32_t>(umin) <= static_cast<int32_t>(umax)) {
        raise(s32min, static_cast<int32_t>(umin));
        lower(s32max, static_cast<int32_t>(umax));
      }
    }
    if ((smin >> 32) == (smax >> 32)) {
      raise(u32min, static_cast<uint32_t>(smin));
      lower(u32max, static_cast<uint32_t>(smax));
      if (static_cast<int32_t>(smin) <= static_cast<int32_t>(smax)) {
        raise(s32min, static_cast<int32_t>(smin));
        lower(s32max, static_cast<int32_t>(smax));
      }
    }
    if (is_bottom()) return;
    // 32 -> 64: within one block the low half bounds the value.
    if ((umin >> 32) == (umax >> 32)) {
      raise(umin, (umin & kHi) | u32min);
      lower(umax, (umax & kHi) | u32max);
    }
    if ((smin >> 32) == (smax >> 32)) {
      raise(smin, static_cast<int64_t>((static_cast<uint64_t>(smin) & kHi) | u32min));
      lower(smax, static_cast<int64_t>((static_cast<uint64_t>(smax) & kHi) | u32max));
    }
    if (is_bottom()) return;
    // Known bits from bounds (__reg_bound_offset).
    Tnum r = Tnum::range(umin, umax);
    if (t.disjoint(r)) return set_bottom();
    t = t.intersect(r);
    if (smin >= 0 || smax < 0) {
      Tnum rs = Tnum::range(static_cast<uint64_t>(smin), static_cast<uint64_t>(smax));
      if (t.disjoint(rs)) return set_bottom();
      t = t.intersect(rs);
    }
    Tnum r32 = Tnum::range(u32min, u32max);
    Tnum lo{r32.value, kHi | r32.mask};
    if (t.disjoint(lo)) return set_bottom();
    t = t.intersect(lo);
  }
}

Scalar Scalar::join(const Scalar& o) const {
  if (is_bottom()) return o;
  if (o.is_bottom()) return *this;
  Scalar r;
  r.t = t.join(o.t);
  r.smin = std::min(smin, o.smin), r.smax = std::max(smax, o.smax);
  r.umin = std::min(umin, o.umin), r.umax = std::max(umax, o.umax);
  r.s32min = std::min(s32min, o.s32min), r.s32max = std::max(s32max, o.s32max);
  r.u32min = std::min(u32min, o.u32min), r.u32max = std::max(u32max, o.u32max);
  return r;
}

void Thresholds::add(uint64_t v) {
  for (uint64_t x : {v - 1, v, v + 1}) {
    u64.push_back(x);
    s64.push_back(static_cast<int64_t>(x));
    u32.push_back(static_cast<uint32_t>(x));
    s32.push_back(static_cast<int32_t>(x));
  }
}

namespace {

template <class T>
void sort_unique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// The smallest threshold >= v, else the type's maximum.
template <class T>
T up_to(const std::vector<T>& th, T v) {
  auto it = std::lower_bound(th.begin(), th.end(), v);
  return it == th.end() ? std::numeric_limits<T>::max() : *it;
}

// The largest threshold <= v, else the type's minimum.
template <class T>
T down_to(const std::vector<T>& th, T v) {
  auto it = std::upper_bound(th.begin(), th.end(), v);
  return it == th.begin() ? std::numeric_limits<T>::min() : *(it - 1);
}

template <class T>
void widen_bounds(const std::vector<T>& th, T old_lo, T old_hi, T& lo, T& hi) {
  if (lo < old_lo) lo = down_to(th, lo);
  if (hi > old_hi) hi = up_to(th, hi);
}

}  // namespace

void Thresholds::finish() {
  sort_unique(u64);
  sort_unique(s64);
  sort_unique(u32);
  sort_unique(s32);
}

Scalar Scalar::widen(const Scalar& o, const Thresholds& th) const {
  if (is_bottom() || o.is_bottom()) return join(o);
  Scalar r = join(o);
  widen_bounds(th.u64, umin, umax, r.umin, r.umax);
  widen_bounds(th.s64, smin, smax, r.smin, r.smax);
  widen_bounds(th.u32, u32min, u32max, r.u32min, r.u32max);
  widen_bounds(th.s32, s32min, s32max, r.s32min, r.s32max);
  // The known bits must not pull the widened bounds back (a counter's tnum loses one bit per
  // doubling, which would make the chain 64 steps long): they give up what the new ranges span.
  // Known low bits (alignment) stay known.
  if (!(r.t == t) && r.t.mask != 0) {
    const uint64_t low = (uint64_t{1} << std::countr_zero(r.t.mask)) - 1, hi32 = ~uint64_t{0xffffffff};
    auto cover = [&](Tnum c) { return Tnum{(c.value & ~low) | (r.t.value & low), c.mask & ~low}; };
    const Tnum lo32 = Tnum::range(r.u32min, r.u32max);
    r.t = r.t.join(cover(Tnum::range(r.umin, r.umax)))
              .join(cover(Tnum{(r.t.value & hi32) | lo32.value, (r.t.mask & hi32) | lo32.mask}));
  }
  r.sync();
  return r;
}

bool Scalar::includes(const Scalar& o) const {
  if (o.is_bottom()) return true;
  if (is_bottom()) return false;
  return t.includes(o.t) && smin <= o.smin && o.smax <= smax && umin <= o.umin && o.umax <= umax &&
         s32min <= o.s32min && o.s32max <= s32max && u32min <= o.u32min && o.u32max <= u32max;
}

Scalar Scalar::meet(const Scalar& o) const {
  Scalar r;
  if (t.disjoint(o.t)) {
    r.set_bottom();
    return r;
  }
  r.t = t.intersect(o.t);
  r.smin = std::max(smin, o.smin), r.smax = std::min(smax, o.smax);
  r.umin = std::max(umin, o.umin), r.umax = std::min(umax, o.umax);
  r.s32min = std::max(s32min, o.s32min), r.s32max = std::min(s32max, o.s32max);
  r.u32min = std::max(u32min, o.u32min), r.u32max = std::min(u32max, o.u32max);
  r.sync();
  return r;
}

Scalar Scalar::zext32() const {
  Scalar r;
  if (is_bottom()) {
    r.set_bottom();
    return r;
  }
  r.t = t.subreg();
  r.umin = u32min, r.umax = u32max;
  r.smin = u32min, r.smax = u32max;
  r.u32min = u32min, r.u32max = u32max;
  r.s32min = s32min, r.s32max = s32max;
  r.sync();
  return r;
}

Scalar Scalar::sext32() const {
  Scalar r;
  if (is_bottom()) {
    r.set_bottom();
    return r;
  }
  r.t = t.sext(32);
  r.smin = s32min, r.smax = s32max;
  r.u32min = u32min, r.u32max = u32max;
  r.s32min = s32min, r.s32max = s32max;
  r.sync();
  return r;
}

std::string Scalar::to_string() const {
  if (is_bottom()) return "scalar(bottom)";
  if (is_const()) return fmt::format("{}", static_cast<int64_t>(t.value));
  std::string s;
  auto add = [&s](std::string part) {
    if (!s.empty()) s += ",";
    s += part;
  };
  if (smin != kS64Min && static_cast<uint64_t>(smin) != umin) add(fmt::format("smin={}", smin));
  if (smax != kS64Max && static_cast<uint64_t>(smax) != umax) add(fmt::format("smax={}", smax));
  if (umin != 0) add(fmt::format("umin={}", umin));
  if (umax != UINT64_MAX) add(fmt::format("umax={}", umax));
  if (umax > UINT32_MAX) {
    if (u32min != 0) add(fmt::format("u32_min={}", u32min));
    if (u32max != UINT32_MAX) add(fmt::format("u32_max={}", u32max));
  }
  if (t.mask != ~uint64_t{0} && Tnum::range(umin, umax) != t)
    add(fmt::format("var_off=(0x{:x}; 0x{:x})", t.value, t.mask));
  return "scalar(" + s + ")";
}

// --- ALU --------------------------------------------------------------------------------------

namespace {

Scalar finish(Scalar r) {
  r.sync();
  return r;
}

Scalar with_tnum(Tnum t) {
  Scalar r;
  r.t = t;
  return finish(r);
}

// Low `bytes` bytes, zero-extended.
Scalar truncate(const Scalar& a, unsigned bytes) {
  if (bytes >= 8) return a;
  if (bytes == 4) return a.zext32();
  unsigned bits = bytes * 8;
  uint64_t m = (uint64_t{1} << bits) - 1;
  Scalar r = Scalar::of_size(bytes);
  r.t = a.t.cast(bytes);
  if ((a.umin >> bits) == (a.umax >> bits)) {
    r.umin = a.umin & m;
    r.umax = a.umax & m;
  }
  return finish(r);
}

Scalar add64(const Scalar& a, const Scalar& b) {
  Scalar r;
  r.t = a.t + b.t;
  uint64_t lo, hi;
  if (!__builtin_add_overflow(a.umin, b.umin, &lo) && !__builtin_add_overflow(a.umax, b.umax, &hi))
    r.umin = lo, r.umax = hi;
  int64_t slo, shi;
  if (!__builtin_add_overflow(a.smin, b.smin, &slo) && !__builtin_add_overflow(a.smax, b.smax, &shi))
    r.smin = slo, r.smax = shi;
  uint64_t ulo32 = uint64_t{a.u32min} + b.u32min, uhi32 = uint64_t{a.u32max} + b.u32max;
  if ((ulo32 >> 32) == (uhi32 >> 32)) r.u32min = uint32_t(ulo32), r.u32max = uint32_t(uhi32);
  int64_t slo32 = int64_t{a.s32min} + b.s32min, shi32 = int64_t{a.s32max} + b.s32max;
  if (slo32 >= INT32_MIN && shi32 <= INT32_MAX) r.s32min = int32_t(slo32), r.s32max = int32_t(shi32);
  return finish(r);
}

Scalar sub64(const Scalar& a, const Scalar& b) {
  Scalar r;
  r.t = a.t - b.t;
  if (a.umin >= b.umax) r.umin = a.umin - b.umax, r.umax = a.umax - b.umin;
  int64_t slo, shi;
  if (!__builtin_sub_overflow(a.smin, b.smax, &slo) && !__builtin_sub_overflow(a.smax, b.smin, &shi))
    r.smin = slo, r.smax = shi;
  if (a.u32min >= b.u32max) r.u32min = a.u32min - b.u32max, r.u32max = a.u32max - b.u32min;
  int64_t slo32 = int64_t{a.s32min} - b.s32max, shi32 = int64_t{a.s32max} - b.s32min;
  if (slo32 >= INT32_MIN && shi32 <= INT32_MAX) r.s32min = int32_t(slo32), r.s32max = int32_t(shi32);
  return finish(r);
}

Scalar mul64(const Scalar& a, const Scalar& b) {
  Scalar r;
  r.t = a.t * b.t;
  uint64_t lo, hi;
  if (!__builtin_mul_overflow(a.umin, b.umin, &lo) && !__builtin_mul_overflow(a.umax, b.umax, &hi))
    r.umin = lo, r.umax = hi;
  int64_t p[4];
  bool ovf = __builtin_mul_overflow(a.smin, b.smin, &p[0]) | __builtin_mul_overflow(a.smin, b.smax, &p[1]) |
             __builtin_mul_overflow(a.smax, b.smin, &p[2]) | __builtin_mul_overflow(a.smax, b.smax, &p[3]);
  if (!ovf) {
    r.smin = *std::min_element(p, p + 4);
    r.smax = *std::max_element(p, p + 4);
  }
  return finish(r);
}

Scalar shift_count(const Scalar& b, unsigned mask, bool* known) {
  *known = b.is_const();
  return Scalar::constant(b.value() & mask);
}

Scalar alu64(AluOp op, const Scalar& a, const Scalar& b, unsigned ext_bits, unsigned shift_mask) {
  switch (op) {
    case AluOp::Add:
      return add64(a, b);
    case AluOp::Sub:
      return sub64(a, b);
    case AluOp::Neg:
      return sub64(Scalar::constant(0), a);
    case AluOp::Mul:
      return mul64(a, b);
    case AluOp::Div:
      if (b.is_zero()) return Scalar::constant(0);
      if (a.is_const() && b.is_const()) return Scalar::constant(alu::div64(a.value(), b.value()));
      if (b.umin == 0) return Scalar::urange(0, a.umax);
      return Scalar::urange(a.umin / b.umax, a.umax / b.umin);
    case AluOp::Mod:
      if (b.is_zero()) return a;
      if (a.is_const() && b.is_const()) return Scalar::constant(alu::mod64(a.value(), b.value()));
      if (b.umin > a.umax) return a;
      if (b.umin == 0) return Scalar::urange(0, a.umax);
      return Scalar::urange(0, std::min(a.umax, b.umax - 1));
    case AluOp::Sdiv: {
      if (a.is_const() && b.is_const()) return Scalar::constant(alu::sdiv64(a.value(), b.value()));
      if (a.smin == kS64Min) return Scalar::top();
      int64_t m = std::max(-a.smin, a.smax);
      if (m < 0) m = 0;
      return Scalar::srange(-m, m);
    }
    case AluOp::Smod:
      if (a.is_const() && b.is_const()) return Scalar::constant(alu::smod64(a.value(), b.value()));
      return Scalar::srange(std::min<int64_t>(a.smin, 0), std::max<int64_t>(a.smax, 0));
    case AluOp::Or: {
      Scalar r;
      r.t = a.t | b.t;
      r.umin = std::max(a.umin, b.umin);
      return finish(r);
    }
    case AluOp::And: {
      Scalar r;
      r.t = a.t & b.t;
      r.umax = std::min(a.umax, b.umax);
      if (a.smin >= 0 || b.smin >= 0) r.smin = 0;
      return finish(r);
    }
    case AluOp::Xor:
      return with_tnum(a.t ^ b.t);
    case AluOp::Lsh: {
      bool known;
      uint64_t k = shift_count(b, shift_mask, &known).value();
      if (!known) return Scalar::top();
      if (k == 0) return a;
      Scalar r;
      r.t = a.t.lshift(unsigned(k));
      if ((a.umax >> (64 - k)) == 0) r.umin = a.umin << k, r.umax = a.umax << k;
      return finish(r);
    }
    case AluOp::Rsh: {
      bool known;
      uint64_t k = shift_count(b, shift_mask, &known).value();
      if (!known) return Scalar::urange(0, a.umax);
      Scalar r;
      r.t = a.t.rshift(unsigned(k));
      r.umin = a.umin >> k, r.umax = a.umax >> k;
      return finish(r);
    }
    case AluOp::Arsh: {
      bool known;
      uint64_t k = shift_count(b, shift_mask, &known).value();
      if (!known) return Scalar::srange(a.smin < 0 ? a.smin : 0, a.smax >= 0 ? a.smax : -1);
      Scalar r;
      r.t = a.t.arshift(unsigned(k));
      r.smin = a.smin >> k, r.smax = a.smax >> k;
      return finish(r);
    }
    case AluOp::Mov:
      return b;
    case AluOp::Movsx: {
      unsigned w = ext_bits ? ext_bits : 32;
      int64_t lo = -(int64_t{1} << (w - 1)), hi = (int64_t{1} << (w - 1)) - 1;
      if (b.smin >= lo && b.smax <= hi) return b;
      Scalar r;
      r.t = b.t.sext(w);
      r.smin = lo, r.smax = hi;
      return finish(r);
    }
    default:
      return Scalar::top();
  }
}

Scalar byte_op(AluOp op, const Scalar& a, unsigned width) {
  unsigned bytes = width / 8;
  if (op == AluOp::Le) return truncate(a, bytes);
  // Be and Bswap swap the low `bytes` bytes (on a little-endian host be == bswap).
  if (a.is_const()) {
    uint64_t v = __builtin_bswap64(a.value());
    return Scalar::constant(bytes >= 8 ? v : v >> (64 - width));
  }
  Scalar r = Scalar::of_size(bytes);
  r.t = a.t.bswap(bytes);
  return finish(r);
}

}  // namespace

Scalar alu(AluOp op, bool is64, const Scalar& a, const Scalar& b, unsigned ext_bits) {
  if (a.is_bottom() || b.is_bottom()) {
    Scalar r;
    r.set_bottom();
    return r;
  }
  if (op == AluOp::Le || op == AluOp::Be || op == AluOp::Bswap)
    return byte_op(op, a, ext_bits ? ext_bits : 64);
  if (is64) return alu64(op, a, b, ext_bits, 63);
  bool sign = op == AluOp::Sdiv || op == AluOp::Smod || op == AluOp::Arsh || op == AluOp::Movsx;
  Scalar a64 = sign ? a.sext32() : a.zext32();
  Scalar b64 = sign ? b.sext32() : b.zext32();
  return alu64(op, a64, b64, ext_bits, 31).zext32();
}

// --- Branch refinement --------------------------------------------------------------------------

Cond swap_cond(Cond c) {
  switch (c) {
    case Cond::Gt:
      return Cond::Lt;
    case Cond::Ge:
      return Cond::Le;
    case Cond::Lt:
      return Cond::Gt;
    case Cond::Le:
      return Cond::Ge;
    case Cond::Sgt:
      return Cond::Slt;
    case Cond::Sge:
      return Cond::Sle;
    case Cond::Slt:
      return Cond::Sgt;
    case Cond::Sle:
      return Cond::Sge;
    default:
      return c;
  }
}

namespace {

Cond negate(Cond c) {
  switch (c) {
    case Cond::Eq:
      return Cond::Ne;
    case Cond::Ne:
      return Cond::Eq;
    case Cond::Gt:
      return Cond::Le;
    case Cond::Le:
      return Cond::Gt;
    case Cond::Ge:
      return Cond::Lt;
    case Cond::Lt:
      return Cond::Ge;
    case Cond::Sgt:
      return Cond::Sle;
    case Cond::Sle:
      return Cond::Sgt;
    case Cond::Sge:
      return Cond::Slt;
    case Cond::Slt:
      return Cond::Sge;
    default:
      return c;
  }
}

void exclude(Scalar& a, uint64_t v) {
  if (a.is_const() && a.value() == v) return a.set_bottom();
  if (a.umin == v) a.umin++;
  if (a.umax == v) a.umax--;
  int64_t sv = static_cast<int64_t>(v);
  if (a.smin == sv) a.smin++;
  if (a.smax == sv) a.smax--;
}

void refine64(Cond c, bool taken, Scalar& a, Scalar& b) {
  if (!taken && c != Cond::Set) c = negate(c);
  switch (c) {
    case Cond::Eq: {
      Scalar m = a.meet(b);
      a = m, b = m;
      return;
    }
    case Cond::Ne:
      if (b.is_const())
        exclude(a, b.value());
      else if (a.is_const())
        exclude(b, a.value());
      break;
    case Cond::Gt:
      if (b.umin == UINT64_MAX)
        a.set_bottom();
      else
        raise(a.umin, b.umin + 1);
      if (a.umax == 0)
        b.set_bottom();
      else
        lower(b.umax, a.umax - 1);
      break;
    case Cond::Ge:
      raise(a.umin, b.umin);
      lower(b.umax, a.umax);
      break;
    case Cond::Sgt:
      if (b.smin == kS64Max)
        a.set_bottom();
      else
        raise(a.smin, b.smin + 1);
      if (a.smax == kS64Min)
        b.set_bottom();
      else
        lower(b.smax, a.smax - 1);
      break;
    case Cond::Sge:
      raise(a.smin, b.smin);
      lower(b.smax, a.smax);
      break;
    case Cond::Lt:
    case Cond::Le:
    case Cond::Slt:
    case Cond::Sle:
      return refine64(swap_cond(c), true, b, a);
    case Cond::Set: {
      // taken: (a & b) != 0; not taken: (a & b) == 0.
      if (taken) {
        if (((a.t.value | a.t.mask) & (b.t.value | b.t.mask)) == 0) {
          a.set_bottom();
          return;
        }
        if (b.is_const() && __builtin_popcountll(b.value()) == 1)
          a.t = a.t.intersect({b.value(), ~b.value()});
        else if (a.is_const() && __builtin_popcountll(a.value()) == 1)
          b.t = b.t.intersect({a.value(), ~a.value()});
      } else {
        if (a.t.value & b.t.value) {
          a.set_bottom();
          return;
        }
        if (b.is_const()) {
          Tnum z{0, ~b.value()};
          if (a.t.disjoint(z)) return a.set_bottom();
          a.t = a.t.intersect(z);
        } else if (a.is_const()) {
          Tnum z{0, ~a.value()};
          if (b.t.disjoint(z)) return b.set_bottom();
          b.t = b.t.intersect(z);
        }
      }
      break;
    }
    default:
      return;
  }
  a.sync();
  b.sync();
}

bool is_signed(Cond c) {
  return c == Cond::Sgt || c == Cond::Sge || c == Cond::Slt || c == Cond::Sle;
}

// Writes the refined 32-bit view `v` (zero- or sign-extended) back into the low half of `a`.
void write_back32(Scalar& a, const Scalar& v, bool sign) {
  if (v.is_bottom()) return a.set_bottom();
  Tnum lo{v.t.value & 0xffffffffu, kHi | (v.t.mask & 0xffffffffu)};
  if (a.t.disjoint(lo)) return a.set_bottom();
  a.t = a.t.intersect(lo);
  if (sign) {
    raise(a.s32min, static_cast<int32_t>(std::max<int64_t>(v.smin, INT32_MIN)));
    lower(a.s32max, static_cast<int32_t>(std::min<int64_t>(v.smax, INT32_MAX)));
  } else {
    raise(a.u32min, static_cast<uint32_t>(std::min<uint64_t>(v.umin, UINT32_MAX)));
    lower(a.u32max, static_cast<uint32_t>(std::min<uint64_t>(v.umax, UINT32_MAX)));
  }
  a.sync();
}

}  // namespace

void refine(Cond cond, bool taken, bool is64, Scalar& a, Scalar& b) {
  if (cond == Cond::Always || cond == Cond::None) return;
  if (is64) return refine64(cond, taken, a, b);
  bool sign = is_signed(cond);
  Scalar av = sign ? a.sext32() : a.zext32();
  Scalar bv = sign ? b.sext32() : b.zext32();
  refine64(cond, taken, av, bv);
  write_back32(a, av, sign);
  write_back32(b, bv, sign);
}

}  // namespace bpfvm::verifier
