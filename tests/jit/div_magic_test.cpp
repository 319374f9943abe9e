// Unsigned division and modulo by an immediate, which the JIT emits without a div (jit/x86/
// emit_alu.cpp: a multiply-high sequence, or a shift and a mask for powers of two), against the
// interpreter and against C++'s own / and %: many divisors and dividends, both widths, the
// registers that matter to the code (rax, rdx, rcx and an ordinary one), checked and unchecked
// code, with and without blinding, with mulx (BMI2) and with mul.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "jit/jit.h"
#include "jit/jit_internal.h"
#include "tests/test_util.h"

namespace bpfvm {
namespace {

// The memory of a run (8-byte slots): slot 0 holds the dividend, slot 1 r0's initial value (when r0
// is not the dst), slots 2-9 those of r2-r9; case c stores r0 and r2-r9 after its instruction at
// slots kOut + 10 c + r.
constexpr int kOut = 16;
constexpr uint8_t kDsts[] = {0, 3, 4, 7};  // rax, rdx, rcx, r13
struct DivOp {
  const char* mnemonic;
  bool is64, mod;
};
constexpr DivOp kOps[] = {{"div", true, false},
                          {"mod", true, true},
                          {"div32", false, false},
                          {"mod32", false, true}};
constexpr int kCases = 4 * 4;
constexpr size_t kMemSize = 8 * (kOut + 10 * kCases);

// For every (op, dst): load every register but r1 (the memory), dst with the dividend, apply the
// op with `imm`, store every register.
std::string program_text(int32_t imm) {
  std::string text;
  int c = 0;
  for (const DivOp& op : kOps)
    for (uint8_t dst : kDsts) {
      for (int r = 0; r <= 9; ++r)
        if (r != 1) text += fmt::format("ldxdw %r{}, [%r1+{}]\n", r, 8 * (r == dst ? 0 : r == 0 ? 1 : r));
      text += fmt::format("{} %r{}, {}\n", op.mnemonic, dst, imm);
      for (int r = 0; r <= 9; ++r)
        if (r != 1) text += fmt::format("stxdw [%r1+{}], %r{}\n", 8 * (kOut + 10 * c + r), r);
      ++c;
    }
  return text + "exit\n";
}

uint64_t slot(const std::vector<uint8_t>& mem, int k) {
  uint64_t v;
  std::memcpy(&v, mem.data() + 8 * k, 8);
  return v;
}

// BPF's reading of the op: 64-bit divisors are the immediate sign-extended, 32-bit operations see
// the low halves; x / 0 = 0, x % 0 = x.
uint64_t expected(const DivOp& op, uint64_t x, int32_t imm) {
  if (op.is64) {
    const uint64_t d = static_cast<uint64_t>(static_cast<int64_t>(imm));
    return d == 0 ? (op.mod ? x : 0) : op.mod ? x % d : x / d;
  }
  const uint32_t x32 = static_cast<uint32_t>(x), d = static_cast<uint32_t>(imm);
  return d == 0 ? (op.mod ? x32 : 0) : op.mod ? x32 % d : x32 / d;
}

// The divisors (immediates): 0 and 1 (the forms without an immediate), 2..300, the powers of two,
// values near 2^31 and 2^32 (-1: 2^32 - 1 for 32-bit operations, 2^64 - 1 for 64-bit ones, whose
// divisors are sign-extended immediates, so that 2^63 + 1 is out of reach), primes.
std::vector<int32_t> divisors() {
  std::vector<int32_t> ds = {0, 1};
  for (int32_t d = 2; d <= 300; ++d)
    ds.push_back(d);
  for (int k = 9; k < 32; ++k)
    ds.push_back(static_cast<int32_t>(uint32_t{1} << k));  // 1 << 31: INT32_MIN
  for (uint32_t d : {0x7fffffffu, 0x80000001u, 0xffffffffu, 0xfffffffeu,
                     0xfffffffdu, 0xfffffff9u, 1000003u,    0xfff0bdbdu /* -1000003 */,
                     641u,        6700417u,    0x7ffffffeu, 0x40000001u,
                     0x3fffffffu, 0x55555555u, 0xaaaaaaabu, 0x12345679u,
                     0xcccccccdu, 0xfff1u,     0x10001u,    0xffffu,
                     0x10000u,    0x1ffu,      0x201u})
    ds.push_back(static_cast<int32_t>(d));
  return ds;
}

// The dividends for divisor `imm`: the edges at both widths and random values.
std::vector<uint64_t> dividends(int32_t imm, std::mt19937_64& rng) {
  const uint64_t d64 = static_cast<uint64_t>(static_cast<int64_t>(imm));
  const uint64_t d32 = static_cast<uint32_t>(imm);
  std::vector<uint64_t> xs = {0,
                              1,
                              UINT64_MAX,
                              UINT32_MAX,
                              uint64_t{1} << 63,
                              (uint64_t{1} << 63) - 1,
                              uint64_t{1} << 32,
                              uint64_t{1} << 31,
                              0xffffffff00000000,
                              0xfedcba9876543210};
  for (uint64_t d : {d64, d32}) {
    xs.insert(xs.end(), {d - 1, d, d + 1, 2 * d - 1, 2 * d, 3 * d + 1});
    if (d != 0) xs.insert(xs.end(), {UINT64_MAX / d * d, UINT64_MAX / d * d - 1});
    if (d != 0)
      xs.insert(xs.end(),
                {UINT32_MAX / d * d, UINT32_MAX / d * d - 1, 0xdeadbeef00000000 | (UINT32_MAX / d * d)});
  }
  for (int i = 0; i < 8; ++i)
    xs.push_back(rng());
  for (int i = 0; i < 4; ++i)
    xs.push_back(rng() >> (rng() % 64));
  return xs;
}

struct Mode {
  bool checked, blinding, no_bmi2;
  std::string name() const {
    return std::string(checked ? "checked" : "unchecked") + (blinding ? " blinded" : " plain") +
           (no_bmi2 ? " mul" : " host");
  }
};

// Compiles with the host's BMI2, or as for a host without it.
Result<std::unique_ptr<jit::JitProgram>> compile(const Program& p, const Mode& m, bool disassembly = false) {
  jit::JitOptions o;
  o.checked = m.checked;
  o.verified = !m.checked;
  o.blinding = m.blinding;
  o.disassembly = disassembly;
  jit::internal::g_assume_no_bmi2 = m.no_bmi2;
  auto j = jit::JitProgram::compile(p, nullptr, o);
  jit::internal::g_assume_no_bmi2 = false;
  return j;
}

std::vector<Mode> modes() {
  std::vector<Mode> ms;
  for (bool checked : {false, true})
    for (bool blinding : {true, false})
      for (bool no_bmi2 : {false, true})
        ms.push_back(Mode{checked, blinding, no_bmi2});
  return ms;
}

TEST(JitDivByConstant, MatchesTheInterpreterForEveryDivisorDividendWidthAndRegister) {
  std::mt19937_64 rng(20261202);
  NullEnv env;
  for (int32_t imm : divisors()) {
    SCOPED_TRACE(fmt::format("imm {} ({:#x})", imm, static_cast<uint32_t>(imm)));
    const Program p = assemble_or_fail(program_text(imm));
    auto interp = interpreter_or_fail(p);
    ASSERT_NE(interp, nullptr);
    std::vector<std::unique_ptr<jit::JitProgram>> jits;
    for (const Mode& m : modes()) {
      auto j = compile(p, m);
      ASSERT_TRUE(j.ok()) << m.name() << ": " << j.error().to_string();
      jits.push_back(std::move(*j));
    }
    for (uint64_t x : dividends(imm, rng)) {
      std::vector<uint8_t> mem0(kMemSize, 0);
      std::memcpy(mem0.data(), &x, 8);
      for (int r = 1; r <= 9; ++r) {
        const uint64_t v = rng();
        std::memcpy(mem0.data() + 8 * r, &v, 8);
      }
      std::vector<uint8_t> want = mem0;
      auto ri = interp->run(want, RunOptions{}, env);
      ASSERT_TRUE(ri.ok()) << ri.error().to_string();
      // The interpreter against C++: each case's dst, and the other registers kept.
      int c = 0;
      for (const DivOp& op : kOps)
        for (uint8_t dst : kDsts) {
          for (int r = 0; r <= 9; ++r) {
            if (r == 1) continue;
            const uint64_t got = slot(want, kOut + 10 * c + r);
            ASSERT_EQ(got, r == dst ? expected(op, x, imm) : slot(mem0, r == 0 ? 1 : r))
                << "interpreter: " << op.mnemonic << " %r" << int(dst) << ", x " << x << ", r" << r;
          }
          ++c;
        }
      ASSERT_EQ(*ri, slot(want, kOut + 10 * (kCases - 1)));
      for (size_t k = 0; k < jits.size(); ++k) {
        std::vector<uint8_t> mem = mem0;
        auto rj = jits[k]->run(mem, env);
        ASSERT_TRUE(rj.ok()) << modes()[k].name() << ": " << rj.error().to_string();
        EXPECT_EQ(*rj, *ri) << modes()[k].name() << ", x " << fmt::format("{:#x}", x);
        if (mem == want) continue;
        // The first case that differs.
        for (int i = 0; i < kCases * 10; ++i)
          if (slot(mem, kOut + i) != slot(want, kOut + i)) {
            const DivOp& op = kOps[i / 10 / 4];
            ADD_FAILURE() << modes()[k].name() << ": " << op.mnemonic << " %r" << int(kDsts[i / 10 % 4])
                          << ", x " << fmt::format("{:#x}", x) << ": r" << i % 10 << " is "
                          << fmt::format("{:#x}", slot(mem, kOut + i)) << ", want "
                          << fmt::format("{:#x}", slot(want, kOut + i));
            break;
          }
      }
    }
  }
}

bool contains(std::span<const uint8_t> code, const void* pattern, size_t n) {
  auto* p = static_cast<const uint8_t*>(pattern);
  return std::search(code.begin(), code.end(), p, p + n) != code.end();
}

// The magic numbers of d = 1000003 (N = 64: l = 20, N = 32: l = 20), the divisor and the masks of
// the powers of two reach the code only blinded; the code has no div.
TEST(JitDivByConstant, TheMagicNumberAndTheDivisorAreBlindedAndNoDivIsLeft) {
  const uint32_t d = 1000003;
  using u128 = unsigned __int128;
  const uint64_t m64 = static_cast<uint64_t>(((u128{1} << 64) * ((u128{1} << 20) - d)) / d + 1);
  const uint32_t m32 = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << 20) - d)) / d + 1);
  const uint32_t mask = 0x3fffff;  // mod 0x400000
  const Program p = assemble_or_fail(fmt::format(
      "ldxdw %r0, [%r1+0]\nmov %r2, %r0\nmov %r3, %r0\nmod %r0, {0}\ndiv %r2, {0}\nmod32 %r3, {0}\n"
      "add %r0, %r2\nadd %r0, %r3\ndiv32 %r3, {0}\nadd %r0, %r3\nmod %r2, {1}\nadd %r0, %r2\nexit",
      d, mask + 1));
  const uint32_t lo = static_cast<uint32_t>(m64), hi = static_cast<uint32_t>(m64 >> 32);
  for (const Mode& m : modes()) {
    SCOPED_TRACE(m.name());
    auto j = compile(p, m, true);
    ASSERT_TRUE(j.ok());
    const auto code = (*j)->code();
    const bool plain = !m.blinding;
    EXPECT_EQ(contains(code, &m64, 8), plain);
    EXPECT_EQ(contains(code, &m32, 4), plain);
    EXPECT_EQ(contains(code, &d, 4), plain);
    EXPECT_EQ(contains(code, &mask, 4), plain);
    if (!plain) {
      EXPECT_FALSE(contains(code, &lo, 4));
      EXPECT_FALSE(contains(code, &hi, 4));
    }
    // Instructions (not the comments, which name the BPF instructions) without div.
    std::string text = (*j)->disassembly();
    size_t divs = 0;
    for (size_t at = 0, end; at < text.size(); at = end + 1) {
      end = text.find('\n', at);
      if (end == std::string::npos) end = text.size();
      const std::string line = text.substr(at, end - at);
      const size_t b = line.find_first_not_of(' ');
      if (b != std::string::npos && line[b] != ';' && line.find("div") != std::string::npos) ++divs;
    }
    EXPECT_EQ(divs, 0u) << text;
    NullEnv env;
    for (uint64_t x : {uint64_t{0}, UINT64_MAX, uint64_t{123456789012345}, uint64_t{d} * 77 - 1}) {
      std::vector<uint8_t> mem(8);
      std::memcpy(mem.data(), &x, 8);
      const uint32_t x32 = static_cast<uint32_t>(x);
      const uint64_t want = x % d + x / d + x32 % d + (x32 % d) / d + (x / d) % (mask + 1);
      auto r = (*j)->run(mem, env);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(*r, want) << x;
    }
  }
}

}  // namespace
}  // namespace bpfvm
