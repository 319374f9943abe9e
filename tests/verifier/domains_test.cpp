// The scalar domain against the concrete ALU (vm/alu.h): for random abstract values and random
// members of them, the abstract result of every operation contains the concrete result, and branch
// refinement never drops a value that satisfies the condition.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>

#include "verifier/cfg.h"
#include "verifier/domains/scalar.h"
#include "verifier/verifier.h"
#include "vm/alu.h"
#include "vm/asm.h"

namespace bpfvm::verifier {
namespace {

bool contains(const Scalar& s, uint64_t v) {
  return s.t.contains(v) && v >= s.umin && v <= s.umax && static_cast<int64_t>(v) >= s.smin &&
         static_cast<int64_t>(v) <= s.smax && static_cast<uint32_t>(v) >= s.u32min &&
         static_cast<uint32_t>(v) <= s.u32max && static_cast<int32_t>(v) >= s.s32min &&
         static_cast<int32_t>(v) <= s.s32max;
}

// A random abstract value and a few random members of it.
struct Sample {
  Scalar s;
  std::vector<uint64_t> members;
};

Sample random_sample(std::mt19937_64& rng) {
  uint64_t center = rng();
  switch (rng() % 5) {
    case 0:
      center &= 0xff;
      break;
    case 1:
      center = static_cast<uint64_t>(-static_cast<int64_t>(center & 0xffff));
      break;
    case 2:
      center &= 0xffffffff;
      break;
    default:
      break;
  }
  uint64_t width = rng() % 4 == 0 ? 0 : (rng() >> (rng() % 64));
  uint64_t lo = center, hi = center + width < center ? UINT64_MAX : center + width;
  Sample out{Scalar::urange(lo, hi), {}};
  if (rng() % 3 == 0) {
    uint64_t m = rng() & rng();
    Scalar t = out.s;
    t.t = t.t.intersect(Tnum{lo & ~m, m});
    t.sync();
    if (!t.is_bottom()) out.s = t;
  }
  for (int i = 0; i < 64 && out.members.size() < 6; ++i) {
    uint64_t v = lo + (width ? rng() % (width + 1) : 0);
    if (contains(out.s, v)) out.members.push_back(v);
  }
  if (out.s.is_const()) out.members.push_back(out.s.value());
  return out;
}

uint64_t concrete(AluOp op, bool is64, uint64_t a, uint64_t b, unsigned ext) {
  using namespace alu;
  switch (op) {
    case AluOp::Add:
      return is64 ? add64(a, b) : add32(a, b);
    case AluOp::Sub:
      return is64 ? sub64(a, b) : sub32(a, b);
    case AluOp::Mul:
      return is64 ? mul64(a, b) : mul32(a, b);
    case AluOp::Div:
      return is64 ? div64(a, b) : div32(a, b);
    case AluOp::Sdiv:
      return is64 ? sdiv64(a, b) : sdiv32(a, b);
    case AluOp::Mod:
      return is64 ? mod64(a, b) : mod32(a, b);
    case AluOp::Smod:
      return is64 ? smod64(a, b) : smod32(a, b);
    case AluOp::Or:
      return is64 ? or64(a, b) : or32(a, b);
    case AluOp::And:
      return is64 ? and64(a, b) : and32(a, b);
    case AluOp::Xor:
      return is64 ? xor64(a, b) : xor32(a, b);
    case AluOp::Lsh:
      return is64 ? lsh64(a, b) : lsh32(a, b);
    case AluOp::Rsh:
      return is64 ? rsh64(a, b) : rsh32(a, b);
    case AluOp::Arsh:
      return is64 ? arsh64(a, b) : arsh32(a, b);
    case AluOp::Neg:
      return is64 ? neg64(a) : neg32(a);
    case AluOp::Mov:
      return is64 ? b : lo32(b);
    case AluOp::Movsx: {
      uint64_t r = movsx64(b, static_cast<int>(ext));
      return is64 ? r : lo32(r);
    }
    case AluOp::Le:
      return ext == 64 ? a : a & ((uint64_t{1} << ext) - 1);
    case AluOp::Be:
    case AluOp::Bswap: {
      uint64_t s = __builtin_bswap64(a);
      return ext == 64 ? s : s >> (64 - ext);
    }
    default:
      return 0;
  }
}

TEST(ScalarDomain, AluResultsContainConcreteResults) {
  std::mt19937_64 rng(7);
  const AluOp ops[] = {AluOp::Add,   AluOp::Sub,  AluOp::Mul,  AluOp::Div,  AluOp::Sdiv,
                       AluOp::Mod,   AluOp::Smod, AluOp::Or,   AluOp::And,  AluOp::Xor,
                       AluOp::Lsh,   AluOp::Rsh,  AluOp::Arsh, AluOp::Neg,  AluOp::Mov,
                       AluOp::Movsx, AluOp::Le,   AluOp::Be,   AluOp::Bswap};
  for (int iter = 0; iter < 4000; ++iter) {
    Sample a = random_sample(rng), b = random_sample(rng);
    for (AluOp op : ops) {
      for (bool is64 : {true, false}) {
        unsigned ext = 0;
        if (op == AluOp::Movsx) ext = is64 ? (8u << (rng() % 3)) : (8u << (rng() % 2));
        if (op == AluOp::Le || op == AluOp::Be || op == AluOp::Bswap) ext = 16u << (rng() % 3);
        Scalar r = alu(op, is64, a.s, b.s, ext);
        for (uint64_t x : a.members)
          for (uint64_t y : b.members) {
            uint64_t c = concrete(op, is64, x, y, ext);
            ASSERT_TRUE(contains(r, c)) << "op " << int(op) << " is64 " << is64 << " ext " << ext
                                        << " a=" << x << " in " << a.s.to_string() << " b=" << y << " in "
                                        << b.s.to_string() << " result " << c << " not in " << r.to_string();
          }
      }
    }
  }
}

bool holds(Cond c, bool is64, uint64_t a, uint64_t b) {
  return is64 ? alu::cond64(c, a, b) : alu::cond32(c, a, b);
}

TEST(ScalarDomain, RefinementKeepsSatisfyingValues) {
  std::mt19937_64 rng(11);
  const Cond conds[] = {Cond::Eq,  Cond::Ne,  Cond::Gt,  Cond::Ge,  Cond::Lt, Cond::Le,
                        Cond::Set, Cond::Sgt, Cond::Sge, Cond::Slt, Cond::Sle};
  for (int iter = 0; iter < 4000; ++iter) {
    Sample a = random_sample(rng), b = random_sample(rng);
    for (Cond c : conds)
      for (bool is64 : {true, false})
        for (bool taken : {true, false}) {
          Scalar ra = a.s, rb = b.s;
          refine(c, taken, is64, ra, rb);
          for (uint64_t x : a.members)
            for (uint64_t y : b.members)
              if (holds(c, is64, x, y) == taken) {
                ASSERT_TRUE(contains(ra, x) && contains(rb, y))
                    << "cond " << int(c) << " is64 " << is64 << " taken " << taken << " x=" << x << " y=" << y
                    << " a " << a.s.to_string() << " -> " << ra.to_string() << " b " << b.s.to_string()
                    << " -> " << rb.to_string();
              }
        }
  }
}

TEST(Cfg, LoopHeadsAndUnreachableCodeAreFound) {
  auto a = assemble(
      "mov %r0, 0\n"
      "loop: add %r0, 1\n"
      "jlt %r0, 3, loop\n"
      "exit\n"
      "mov %r0, 1\n"
      "exit\n");
  ASSERT_TRUE(a.ok());
  auto cfg = build_cfg(a->program);
  ASSERT_TRUE(cfg.ok());
  const Function& f = cfg->funcs[0];
  int heads = 0;
  for (const WtoItem& w : f.wto)
    heads += w.head;
  EXPECT_EQ(heads, 1);
  ASSERT_EQ(f.unreachable.size(), 1u);
  EXPECT_EQ(f.unreachable[0], 4u);
  VerifyOptions o;
  o.raw_ctx_size = 8;
  auto r = verify(a->program, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->accepted);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0].kind, ErrorKind::Unreachable);
  EXPECT_EQ(r->warnings[0].pc, 4u);
}

TEST(Diagnostics, NameTheInstructionRegistersAndPath) {
  auto a = assemble(
      "ldxw %r2, [%r1+0]\n"
      "ldxw %r3, [%r1+4]\n"
      "mov %r4, %r2\n"
      "add %r4, 14\n"
      "jgt %r4, %r3, +2\n"
      "ldxw %r0, [%r2+12]\n"
      "exit\n"
      "mov %r0, 1\n"
      "exit\n");
  ASSERT_TRUE(a.ok());
  VerifyOptions o;
  o.type = ProgType::Xdp;
  auto r = verify(a->program, o);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->accepted);
  const Diagnostic& d = r->errors[0];
  EXPECT_EQ(d.kind, ErrorKind::OutOfBounds);
  EXPECT_EQ(d.pc, 5u);
  EXPECT_EQ(d.insn, "ldxw %r0, [%r2+12]");
  EXPECT_EQ(d.regs, "R2=pkt(off=0,r=14)");
  EXPECT_EQ(d.path, "4:fallthrough");
  EXPECT_FALSE(d.hint.empty());
}

TEST(Verify, EmptyProgramIsAnInputError) {
  Program p;
  auto r = verify(p, VerifyOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kVerifier);
}

// Assembles and verifies `text`; the verdict (the test fails when either step cannot run).
VerifyResult verify_text(const std::string& text, const VerifyOptions& o = {}) {
  auto a = assemble(text);
  EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().to_string());
  if (!a.ok()) return {};
  auto r = verify(a->program, o);
  EXPECT_TRUE(r.ok());
  return r.ok() ? std::move(*r) : VerifyResult{};
}

// A loop that ends when 3 * r1 reaches `end`: no interval invariant relates r2's exit test to r1's
// growth, so only iterating one by one proves it.
std::string loop_bounded_by_a_product(int end) {
  return fmt::format(
      "mov %r1, 0\n"
      "loop: add %r1, 1\n"
      "mov %r2, %r1\n"
      "mul %r2, 3\n"
      "jne %r2, {}, loop\n"
      "mov %r0, 0\n"
      "exit\n",
      end);
}

TEST(Verify, ALoopOfManyIterationsIsProvenByAnInvariantNotByIteratingIt) {
  // 100,000 iterations: iterating them would take 300,000 steps.
  VerifyOptions o;
  o.max_steps = 1000;
  VerifyResult r = verify_text(
      "mov %r0, 0\n"
      "mov %r1, 0\n"
      "loop: add %r0, 3\n"
      "add %r1, 1\n"
      "jlt %r1, 100000, loop\n"
      "exit\n",
      o);
  EXPECT_TRUE(r.accepted) << (r.errors.empty() ? "" : r.errors[0].message);
  EXPECT_EQ(r.stats.loops_proven, 1u);
  EXPECT_EQ(r.stats.max_loop_bound, 99996u);  // after the 4 iterations analysed one by one
  EXPECT_LT(r.stats.insns_analysed, 200u);
}

TEST(Verify, ALoopWhoseBoundNoInvariantShowsIsIteratedWithinTheBudget) {
  VerifyResult r = verify_text(loop_bounded_by_a_product(1800));
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.stats.loops_proven, 0u);
  EXPECT_EQ(r.stats.max_loop_iterations, 600u);
}

TEST(Verify, HoldingTooMuchAbstractStateIsTooComplex) {
  // 40 paths reach `end` with different r3: up to 32 states wait there at once.
  std::string text = "ldxb %r2, [%r1+0]\nmov %r3, 0\n";
  for (int i = 0; i < 40; ++i)
    text += fmt::format("mov %r3, {}\njeq %r2, {}, end\n", i, i);
  text += "end:\nmov %r0, %r3\nexit\n";
  VerifyOptions o;
  o.raw_ctx_size = 1;
  VerifyResult r = verify_text(text, o);
  EXPECT_TRUE(r.accepted);
  o.max_state_bytes = r.stats.peak_state_bytes / 2;
  r = verify_text(text, o);
  ASSERT_FALSE(r.accepted);
  EXPECT_EQ(r.errors[0].kind, ErrorKind::TooComplex);
  EXPECT_NE(r.errors[0].message.find("MiB of abstract states"), std::string::npos) << r.errors[0].message;
}

TEST(Verify, BudgetExhaustionIsTooComplex) {
  VerifyOptions o;
  o.max_steps = 1000;
  VerifyResult r = verify_text(loop_bounded_by_a_product(300000), o);
  ASSERT_FALSE(r.accepted);
  EXPECT_EQ(r.errors[0].kind, ErrorKind::TooComplex);
  EXPECT_NE(r.errors[0].message.find("loop at pc 1"), std::string::npos) << r.errors[0].message;
}

}  // namespace
}  // namespace bpfvm::verifier
