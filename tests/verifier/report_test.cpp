// Reporting of the verifier: every problem of a program is reported (not only the first), the
// kernel-style log (--log) traces every analysed instruction, and the statistics (--stats) count
// time and the bytes of abstract state.
#include <gtest/gtest.h>

#include <sstream>

#include "verifier/state.h"
#include "verifier/verifier.h"
#include "vm/asm.h"

namespace bpfvm::verifier {
namespace {

Result<VerifyResult> verify_text(const std::string& text, VerifyOptions o = {}) {
  auto a = assemble(text);
  if (!a) return a.error();
  if (o.raw_ctx_size == 0) o.raw_ctx_size = 64;
  return verify(a->program, o);
}

// Three independent problems on three paths, plus one in a subprogram.
const char* kSeveral = R"(
ldxb %r2, [%r1+0]
jeq %r2, 1, uninit
jeq %r2, 2, oob
call local sub
exit
uninit:
ldxdw %r0, [%r10-8]
exit
oob:
stdw [%r1+64], 0
mov %r0, 0
exit
sub:
mov %r0, %r7
exit
)";

TEST(VerifierReport, AProgramWithSeveralProblemsReportsEachOfThem) {
  auto r = verify_text(kSeveral);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_FALSE(r->accepted);
  std::vector<std::pair<std::string, uint32_t>> got;
  for (const Diagnostic& d : r->errors)
    got.emplace_back(error_kind_name(d.kind), d.pc);
  std::vector<std::pair<std::string, uint32_t>> want = {
      {"UninitStack", 5}, {"OutOfBounds", 7}, {"UninitRegister", 10}};
  EXPECT_EQ(got, want);
  for (const Diagnostic& d : r->errors) {
    EXPECT_FALSE(d.insn.empty());
    EXPECT_FALSE(d.message.empty());
    EXPECT_FALSE(d.hint.empty());
  }
}

TEST(VerifierReport, TheSameProblemOnTwoPathsIsReportedOnce) {
  auto r = verify_text(R"(
ldxb %r2, [%r1+0]
jeq %r2, 1, join
mov %r3, 1
join:
ldxdw %r0, [%r10-8]
exit
)");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].kind, ErrorKind::UninitStack);
}

TEST(VerifierReport, TheLogTracesEveryInstructionWithTheRegistersItChanges) {
  VerifyOptions o;
  o.collect_log = true;
  auto r = verify_text(R"(
mov %r1, 0
stdw [%r10-8], 7
loop:
add %r1, 1
jlt %r1, 3, loop
call local f
exit
f:
mov %r0, %r1
exit
)",
                       o);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->accepted);
  const std::string& log = r->log;
  EXPECT_NE(log.find("from block entry 0: R1=ctx(off=0) R2=64 R10=fp0\n"), std::string::npos) << log;
  EXPECT_NE(log.find("0: mov %r1, 0 ; R1=0\n"), std::string::npos) << log;
  EXPECT_NE(log.find("1: stdw [%r10-8], 7\n"), std::string::npos) << log;
  // The stack slot written is part of the next block's state.
  EXPECT_NE(log.find("from block entry 2: R1=0 R2=64 R10=fp0 fp-8=7\n"), std::string::npos) << log;
  EXPECT_NE(log.find("-- loop at pc 2: iteration 3\n"), std::string::npos) << log;
  EXPECT_NE(log.find("3: jlt %r1, 3, -2 ; always taken\n"), std::string::npos) << log;
  EXPECT_NE(log.find("3: jlt %r1, 3, -2 ; always falls through\n"), std::string::npos) << log;
  EXPECT_NE(log.find("-- call from pc 4 to pc 6 (frame 1)\n"), std::string::npos) << log;
  EXPECT_NE(log.find("6: mov %r0, %r1 ; R0=3\n"), std::string::npos) << log;
  EXPECT_NE(log.find("-- return to pc 4\n"), std::string::npos) << log;
  // Every reachable instruction appears.
  for (int pc = 0; pc <= 7; ++pc)
    EXPECT_NE(log.find("\n" + std::to_string(pc) + ": "), std::string::npos) << pc << "\n" << log;
}

TEST(VerifierReport, TheLogShowsErrorsWhereTheyHappen) {
  VerifyOptions o;
  o.collect_log = true;
  auto r = verify_text(kSeveral, o);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->log.find("5: error: UninitStack: "), std::string::npos) << r->log;
  EXPECT_NE(r->log.find("10: error: UninitRegister: "), std::string::npos) << r->log;
  // Without --log nothing is collected.
  auto quiet = verify_text(kSeveral);
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->log.empty());
}

TEST(VerifierReport, StatsCountTheBytesOfAbstractStateAtThePeak) {
  auto one = verify_text("mov %r0, 0\nexit\n");
  ASSERT_TRUE(one.ok());
  // At least the entry state: one frame.
  EXPECT_GE(one->stats.peak_state_bytes, sizeof(Frame));
  EXPECT_GE(one->stats.seconds, 0.0);
  EXPECT_EQ(one->stats.insns_analysed, 2u);
  // A chain of branches keeps a state pending per join point; calls add frames.
  std::string wide = "ldxb %r6, [%r1+0]\n";
  for (int i = 0; i < 16; ++i)
    wide += "jeq %r6, " + std::to_string(i) + ", l" + std::to_string(i) + "\n";
  wide += "call local f\n";
  for (int i = 15; i >= 0; --i)
    wide += "l" + std::to_string(i) + ":\nadd %r6, 1\n";
  wide += "mov %r0, 0\nexit\nf:\nmov %r0, 0\nexit\n";
  auto many = verify_text(wide);
  ASSERT_TRUE(many.ok()) << many.error().to_string();
  ASSERT_TRUE(many->accepted);
  EXPECT_GE(many->stats.peak_states, 16u) << many->stats.peak_states;
  EXPECT_GE(many->stats.peak_state_bytes, 16 * sizeof(Frame));
  EXPECT_GT(many->stats.peak_state_bytes, one->stats.peak_state_bytes);
  // Nothing stays counted after the analysis.
  EXPECT_EQ(state_memory().live, 0u);
}

}  // namespace
}  // namespace bpfvm::verifier
