// The runtime ties the verifier in: Object::verify and Vm::verify_and_prepare pick the execution
// mode from the verdict (accepted: unchecked when the context is the one verified; otherwise checked).
#include <gtest/gtest.h>

#include "tests/object_util.h"
#include "tests/test_util.h"
#include "vm/asm.h"
#include "vm/runtime/input.h"
#include "vm/runtime/object.h"
#include "vm/runtime/vm.h"

namespace bpfvm {
namespace {

const std::string kTailCalls = std::string(BPFVM_BINARY_DIR) + "/tests/corpus/tail_calls.o";
const std::string kTcpSyn = std::string(BPFVM_SOURCE_DIR) + "/examples/tcp_syn.pkt";

// Reads the u64 at r1 + 8: safe for 16 bytes of memory, not for fewer.
constexpr const char* kReadAt8 = "ldxdw %r0, [%r1+8]\nexit\n";
// Returns r3, never written: UninitRegister.
constexpr const char* kUninit = "mov %r0, %r3\nexit\n";

std::unique_ptr<Object> raw_object(const char* text, ObjectOptions opts = {}) {
  return one_program_object(text, ProgType::Raw, {}, opts);
}

ContextInput mem(size_t n) {
  ContextInput in;
  in.ctx.assign(n, 0);
  for (size_t i = 0; i < n; i++)
    in.ctx[i] = static_cast<uint8_t>(i);
  return in;
}

TEST(RuntimeVerify, AcceptedObjectProgramRunsUncheckedOnlyWithTheVerifiedMemorySize) {
  auto o = raw_object(kReadAt8);
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->verified(0));
  auto before = o->run(0, mem(16));
  ASSERT_TRUE(before.ok()) << before.error().to_string();
  EXPECT_TRUE(before->checked);

  verifier::VerifyOptions vo;
  vo.raw_ctx_size = 16;
  auto v = o->verify(0, vo);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  ASSERT_TRUE(v->accepted) << (v->errors.empty() ? "" : v->errors[0].to_string());
  EXPECT_TRUE(o->verified(0));
  auto after = o->run(0, mem(16));
  ASSERT_TRUE(after.ok()) << after.error().to_string();
  EXPECT_FALSE(after->checked);
  EXPECT_EQ(after->r0, 0x0f0e0d0c0b0a0908u);

  // A smaller memory than verified: checked mode, so the read past the end faults instead of
  // touching memory outside the input.
  EXPECT_TRUE(o->runs_checked(0, mem(4)));
  auto small = o->run(0, mem(4));
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().code, ErrorCode::kOutOfBounds);
}

TEST(RuntimeVerify, RejectionKeepsCheckedModeAndClearsAnEarlierAcceptance) {
  auto o = raw_object(kReadAt8);
  ASSERT_TRUE(o);
  verifier::VerifyOptions vo;
  vo.raw_ctx_size = 16;
  ASSERT_TRUE(o->verify(0, vo)->accepted);
  vo.raw_ctx_size = 8;  // now the read at +8 is out of bounds
  auto v = o->verify(0, vo);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->accepted);
  ASSERT_FALSE(v->errors.empty());
  EXPECT_EQ(v->errors[0].kind, verifier::ErrorKind::OutOfBounds);
  EXPECT_FALSE(o->verified(0));
  auto r = o->run(0, mem(16));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->checked);

  auto u = raw_object(kUninit);
  ASSERT_TRUE(u);
  auto uv = u->verify(0);
  ASSERT_TRUE(uv.ok());
  EXPECT_FALSE(uv->accepted);
  ASSERT_FALSE(uv->errors.empty());
  EXPECT_EQ(uv->errors[0].kind, verifier::ErrorKind::UninitRegister);
  EXPECT_EQ(uv->errors[0].pc, 0u);
}

TEST(RuntimeVerify, VerifyErrorsNameTheProblem) {
  auto o = raw_object(kReadAt8);
  ASSERT_TRUE(o);
  auto r = o->verify(5);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().msg.find("out of range"), std::string::npos);

  // A program that does not link (map reference to a map the object lacks) cannot be verified.
  ObjectFile f;
  ElfProgram p;
  p.name = "badmap";
  p.type = ProgType::Xdp;
  p.type_known = true;
  p.code = assemble_or_fail("lddw %r1, map_idx(3)\nmov %r0, 0\nexit\n");
  f.programs.push_back(std::move(p));
  auto bad = Object::create(std::move(f));
  ASSERT_TRUE(bad.ok()) << bad.error().to_string();
  ASSERT_FALSE((*bad)->program_status(0).ok());
  auto br = (*bad)->verify(0);
  ASSERT_FALSE(br.ok());
  EXPECT_NE(br.error().msg.find("badmap"), std::string::npos);
}

// tail_calls.o: dispatch tail-calls handle_tcp / handle_udp through a prog array. A tail call
// continues in the caller's mode, so dispatch runs unchecked only once every program is verified.
TEST(RuntimeVerify, ObjectWithMapsAndTailCallsRunsUncheckedOnlyWhenEveryProgramIsVerified) {
  auto o = Object::open(kTailCalls);
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  Object& obj = **o;
  auto d = obj.select_program("dispatch", "");
  ASSERT_TRUE(d.ok());
  auto pkt = read_file(kTcpSyn);
  ASSERT_TRUE(pkt.ok());
  ContextInput in;
  in.packet = *pkt;
  auto checked = obj.run(*d, in);
  ASSERT_TRUE(checked.ok()) << checked.error().to_string();
  EXPECT_TRUE(checked->checked);

  auto v = obj.verify(*d);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  ASSERT_TRUE(v->accepted) << (v->errors.empty() ? "" : v->errors[0].to_string());
  EXPECT_TRUE(obj.verified(*d));
  EXPECT_TRUE(obj.runs_checked(*d, in));  // the tail-call targets are not verified yet
  for (size_t i = 0; i < obj.num_programs(); i++) {
    auto r = obj.verify(i);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_TRUE(r->accepted) << obj.program(i).name << ": "
                             << (r->errors.empty() ? "" : r->errors[0].to_string());
  }
  EXPECT_FALSE(obj.runs_checked(*d, in));
  auto fast = obj.run(*d, in);
  ASSERT_TRUE(fast.ok()) << fast.error().to_string();
  EXPECT_FALSE(fast->checked);
  EXPECT_EQ(fast->r0, checked->r0);
}

TEST(RuntimeVerify, VerifyProgramNeedsNoMapCreation) {
  // verify_program reads only the object file: a map bpfvm cannot create does not matter.
  auto f = load_object_file(kTailCalls);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  for (auto& m : f->maps)
    m.value_size = 0;  // Object::create would refuse these maps
  ObjectFile copy = *f;
  EXPECT_FALSE(Object::create(std::move(copy)).ok());
  int d = f->find_program("dispatch");
  ASSERT_GE(d, 0);
  auto r = verify_program(*f, static_cast<size_t>(d), ProgType::Xdp);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_FALSE(verify_program(*f, 99, ProgType::Xdp).ok());
}

TEST(RuntimeVerify, VmVerifyAndPrepareFollowsTheVerdict) {
  Vm vm;
  auto ok = vm.verify_and_prepare(assemble_or_fail(kReadAt8), 16, ExecOptions{});
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_TRUE(ok->verdict.accepted);
  EXPECT_FALSE(ok->exe->checked(16));
  EXPECT_TRUE(ok->exe->checked(8));
  std::vector<uint8_t> m(16, 1);
  auto r = ok->exe->run(m);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, 0x0101010101010101u);
  std::vector<uint8_t> small(8, 1);
  auto f = ok->exe->run(small);  // checked for another size: the read past the end faults
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kOutOfBounds);

  auto rej = vm.verify_and_prepare(assemble_or_fail(kReadAt8), 8, ExecOptions{});
  ASSERT_TRUE(rej.ok()) << rej.error().to_string();
  EXPECT_FALSE(rej->verdict.accepted);
  EXPECT_TRUE(rej->exe->checked(8));
  EXPECT_TRUE(rej->exe->checked(16));
}

}  // namespace
}  // namespace bpfvm
