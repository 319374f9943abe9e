// Tristate numbers ("known bits"), with the semantics of the kernel's kernel/bpf/tnum.c: a value
// `v` is in the tnum when (v & ~mask) == value. Bits set in `mask` are unknown; `value & mask` is
// always 0.
#pragma once

#include <bit>
#include <cstdint>

namespace bpfvm::verifier {

struct Tnum {
  uint64_t value = 0;
  uint64_t mask = ~uint64_t{0};

  static constexpr Tnum constant(uint64_t v) { return {v, 0}; }
  static constexpr Tnum unknown() { return {0, ~uint64_t{0}}; }
  // Smallest tnum holding every value of [min, max] (tnum_range).
  static constexpr Tnum range(uint64_t min, uint64_t max) {
    uint64_t chi = min ^ max;
    int bits = chi ? 64 - std::countl_zero(chi) : 0;
    if (bits > 63) return unknown();
    uint64_t delta = (uint64_t{1} << bits) - 1;
    return {min & ~delta, delta};
  }

  constexpr bool is_const() const { return mask == 0; }
  constexpr bool contains(uint64_t v) const { return (v & ~mask) == value; }
  constexpr uint64_t min() const { return value; }
  constexpr uint64_t max() const { return value | mask; }
  // Every value of `o` is in this tnum (tnum_in).
  constexpr bool includes(Tnum o) const {
    if (o.mask & ~mask) return false;
    return (o.value & ~mask) == value;
  }
  constexpr bool operator==(const Tnum&) const = default;

  friend constexpr Tnum operator+(Tnum a, Tnum b) {
    uint64_t sm = a.mask + b.mask, sv = a.value + b.value, sigma = sm + sv;
    uint64_t chi = sigma ^ sv, mu = chi | a.mask | b.mask;
    return {sv & ~mu, mu};
  }
  friend constexpr Tnum operator-(Tnum a, Tnum b) {
    uint64_t dv = a.value - b.value, alpha = dv + a.mask, beta = dv - b.mask;
    uint64_t chi = alpha ^ beta, mu = chi | a.mask | b.mask;
    return {dv & ~mu, mu};
  }
  friend constexpr Tnum operator&(Tnum a, Tnum b) {
    uint64_t alpha = a.value | a.mask, beta = b.value | b.mask, v = a.value & b.value;
    return {v, alpha & beta & ~v};
  }
  friend constexpr Tnum operator|(Tnum a, Tnum b) {
    uint64_t v = a.value | b.value, mu = a.mask | b.mask;
    return {v, mu & ~v};
  }
  friend constexpr Tnum operator^(Tnum a, Tnum b) {
    uint64_t v = a.value ^ b.value, mu = a.mask | b.mask;
    return {v & ~mu, mu};
  }
  // tnum_mul (the kernel's long multiplication over known/unknown bits).
  friend constexpr Tnum operator*(Tnum a, Tnum b) {
    uint64_t acc_v = a.value * b.value;
    Tnum acc_m{0, 0};
    while (a.value || a.mask) {
      if (a.value & 1)
        acc_m = acc_m + Tnum{0, b.mask};
      else if (a.mask & 1)
        acc_m = acc_m + Tnum{0, b.value | b.mask};
      a = a.rshift(1);
      b = b.lshift(1);
    }
    return Tnum{acc_v, 0} + acc_m;
  }
  constexpr Tnum lshift(unsigned s) const { return {value << s, mask << s}; }
  constexpr Tnum rshift(unsigned s) const { return {value >> s, mask >> s}; }
  constexpr Tnum arshift(unsigned s, unsigned bits = 64) const {
    if (bits == 32) return {uint32_t(int32_t(uint32_t(value)) >> s), uint32_t(int32_t(uint32_t(mask)) >> s)};
    return {uint64_t(int64_t(value) >> s), uint64_t(int64_t(mask) >> s)};
  }
  // Both: the values of both tnums (tnum_intersect). Only meaningful when compatible().
  constexpr Tnum intersect(Tnum o) const {
    uint64_t v = value | o.value, mu = mask & o.mask;
    return {v & ~mu, mu};
  }
  // No value lies in both.
  constexpr bool disjoint(Tnum o) const { return ((value ^ o.value) & ~(mask | o.mask)) != 0; }
  // Either: the smallest tnum holding the values of both (tnum_union).
  constexpr Tnum join(Tnum o) const {
    uint64_t mu = mask | o.mask | (value ^ o.value);
    return {value & ~mu, mu};
  }
  // Low `bytes` bytes, zero-extended (tnum_cast).
  constexpr Tnum cast(unsigned bytes) const {
    if (bytes >= 8) return *this;
    uint64_t m = (uint64_t{1} << (bytes * 8)) - 1;
    return {value & m, mask & m};
  }
  constexpr Tnum subreg() const { return cast(4); }
  // Sign-extends the low `bits` bits.
  constexpr Tnum sext(unsigned bits) const {
    if (bits >= 64) return *this;
    Tnum t = cast(bits / 8);
    uint64_t sign = uint64_t{1} << (bits - 1), upper = ~((sign << 1) - 1);
    if (t.mask & sign) return {t.value, t.mask | upper};
    if (t.value & sign) return {t.value | upper, t.mask};
    return t;
  }
  // Byte swap of the low `bytes` bytes (exact on known bits).
  constexpr Tnum bswap(unsigned bytes) const {
    auto sw = [bytes](uint64_t x) {
      x = __builtin_bswap64(x);
      return bytes >= 8 ? x : x >> (64 - bytes * 8);
    };
    return {sw(value), sw(mask)};
  }
};

}  // namespace bpfvm::verifier
