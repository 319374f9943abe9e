#include "jit/blinding.h"

#include <sys/random.h>
#include <unistd.h>

namespace bpfvm::jit::internal {

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

Imm32 Blinding::imm(const Insn& in) {
  const uint32_t v = static_cast<uint32_t>(in.imm);
  if (!enabled_) return Imm32{v, 0};
  const uint32_t key = key32(v);
  return Imm32{v ^ key, key};
}

Imm64 Blinding::imm64(const Insn& in) {
  const uint64_t v = in.imm64;
  if (!enabled_) return Imm64{v, 0};
  const uint32_t lo = static_cast<uint32_t>(v), hi = static_cast<uint32_t>(v >> 32);
  auto bad = [&](uint32_t u) { return u == lo || u == hi; };
  for (;;) {
    const uint64_t key = next();
    const uint32_t klo = static_cast<uint32_t>(key), khi = static_cast<uint32_t>(key >> 32);
    const uint64_t x = v ^ key;
    const uint32_t xlo = static_cast<uint32_t>(x), xhi = static_cast<uint32_t>(x >> 32);
    if (klo != 0 && khi != 0 && !bad(klo) && !bad(khi) && !bad(xlo) && !bad(xhi)) return Imm64{x, key};
  }
}

uint32_t Blinding::plain_shift_count(const Insn& in, bool is64) {
  return static_cast<uint32_t>(in.imm) & (is64 ? 63 : 31);
}

uint32_t Blinding::helper_number(const Insn& in) {
  return static_cast<uint32_t>(in.imm);
}

int32_t Blinding::kfunc_id(const Insn& in) {
  return in.imm;
}

}  // namespace bpfvm::jit::internal
