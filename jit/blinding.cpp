#include "jit/blinding.h"

#include <sys/random.h>
#include <unistd.h>

namespace bpfvm::jit::internal {
namespace {

// The immediate-free list of blinding.h.
std::optional<int32_t> small_value(int32_t v) {
  switch (v) {
    case 0:
    case 1:
    case -1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 8:
    case 9:
    case 0xff:
    case 0xffff:
      return v;
    default:
      return std::nullopt;
  }
}

}  // namespace

Blinding::Blinding(bool enabled, std::optional<uint64_t> seed) : enabled_(enabled) {
  if (seed)
    state_ = *seed;
  else if (getrandom(&state_, sizeof state_, 0) != sizeof state_)
    state_ = reinterpret_cast<uint64_t>(&state_) ^ static_cast<uint64_t>(getpid()) * 0x9e3779b97f4a7c15ULL;
}

// splitmix64.
uint64_t Blinding::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint32_t Blinding::key32(uint32_t imm) {
  for (;;) {
    uint32_t k = static_cast<uint32_t>(next());
    if (k != 0 && k != imm) return k;
  }
}

Imm32 Blinding::blind32(uint32_t v) {
  Imm32 r;
  r.negative = static_cast<int32_t>(v) < 0;
  r.small = small_value(static_cast<int32_t>(v));
  if (!enabled_) {
    r.value = v;
    return r;
  }
  r.key = key32(v);
  r.value = v ^ r.key;
  return r;
}

Imm32 Blinding::imm(const Insn& in) {
  return blind32(static_cast<uint32_t>(in.imm));
}

Imm32 Blinding::shift_count(const Insn& in, bool is64) {
  Imm32 r = blind32(plain_shift_count(in, is64));
  if (r.small && *r.small > 1) r.small.reset();
  return r;
}

Imm64 Blinding::imm64(const Insn& in) {
  return constant64(in.imm64);
}

Imm64 Blinding::constant64(uint64_t v) {
  Imm64 r;
  if (v <= UINT32_MAX)
    r.width = Imm64::Width::Zext32;
  else if (static_cast<int64_t>(v) == static_cast<int32_t>(v))
    r.width = Imm64::Width::Sext32;
  if (!enabled_) {
    r.value = v;
    return r;
  }
  const uint32_t lo = static_cast<uint32_t>(v), hi = static_cast<uint32_t>(v >> 32);
  if (r.width != Imm64::Width::Full) {
    // A 32-bit key restores the low half; the high half (all zeros or all ones) follows from the
    // restore instruction's width.
    const uint32_t key = key32(lo);
    r.key = key;
    r.value = lo ^ key;
    return r;
  }
  auto bad = [&](uint32_t u) { return u == lo || u == hi; };
  for (;;) {
    const uint64_t key = next();
    const uint32_t klo = static_cast<uint32_t>(key), khi = static_cast<uint32_t>(key >> 32);
    const uint64_t x = v ^ key;
    const uint32_t xlo = static_cast<uint32_t>(x), xhi = static_cast<uint32_t>(x >> 32);
    if (klo != 0 && khi != 0 && !bad(klo) && !bad(khi) && !bad(xlo) && !bad(xhi)) {
      r.key = key;
      r.value = x;
      return r;
    }
  }
}

uint32_t Blinding::plain_shift_count(const Insn& in, bool is64) {
  return static_cast<uint32_t>(in.imm) & (is64 ? 63 : 31);
}

int32_t Blinding::kfunc_id(const Insn& in) {
  return in.imm;
}

}  // namespace bpfvm::jit::internal
