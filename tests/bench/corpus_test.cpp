// The performance corpus stays correct: every program passes bpfvm's verifier (and the kernel's,
// where bpf(2) works) and returns the same r0 on the interpreter, the JIT (blinding on and off), the
// native build and the kernel.
// Nothing here is timed.
#include <string>

#include <gtest/gtest.h>

#include "bench/corpus.h"
#include "bench/kernel_runner.h"

namespace bpfvm::bench {
namespace {

class CorpusTest : public ::testing::TestWithParam<const CorpusProgram*> {};

std::string program_name(const ::testing::TestParamInfo<const CorpusProgram*>& info) {
  return info.param->name;
}

// Independent references for two programs, so that "all backends agree" cannot hide a shared bug.
uint32_t reference_fnv1a(const std::vector<uint8_t>& p) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : p)
    h = (h ^ b) * 0x100000001b3ull;
  return static_cast<uint32_t>(h ^ (h >> 32));
}
uint32_t reference_crc32(const std::vector<uint8_t>& p) {
  uint32_t crc = 0xffffffff;
  for (uint8_t b : p) {
    crc ^= b;
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

TEST_P(CorpusTest, GivesNativesResultOnTheJitWithAndWithoutBlinding) {
  const CorpusProgram& p = *GetParam();
  auto native = NativeRunner::open(p);
  ASSERT_TRUE(native) << native.error().to_string();
  const uint32_t expect = (*native)->run(1).r0;
  for (bool blinding : {true, false}) {
    ObjectOptions o;
    o.engine = Engine::Jit;
    o.jit.blinding = blinding;
    auto vm = VmRunner::open(p, o);
    ASSERT_TRUE(vm) << vm.error().to_string();
    auto t = (*vm)->run(3);
    ASSERT_TRUE(t) << t.error().to_string();
    EXPECT_EQ(t->r0, expect) << p.name << (blinding ? " with" : " without") << " blinding";
  }
}

TEST_P(CorpusTest, VerifiesAndGivesNativesResultOnTheInterpreter) {
  const CorpusProgram& p = *GetParam();
  auto native = NativeRunner::open(p);
  ASSERT_TRUE(native) << native.error().to_string();
  const uint32_t expect = (*native)->run(1).r0;

  ObjectOptions interp;
  interp.engine = Engine::Interp;
  auto vm = VmRunner::open(p, interp);  // verifies: a rejection is an error
  ASSERT_TRUE(vm) << vm.error().to_string();
  for (uint32_t repeat : {1u, 3u}) {
    auto t = (*vm)->run(repeat);
    ASSERT_TRUE(t) << t.error().to_string();
    EXPECT_EQ(t->r0, expect) << p.name << " with repeat " << repeat;
  }
  // The same through fresh contexts (the runtime's default), not only the benchmark's reused one.
  ContextInput in;
  in.packet = bench_packet();
  in.repeat = 2;
  auto out = (*vm)->object().run((*vm)->index(), in);
  ASSERT_TRUE(out) << out.error().to_string();
  EXPECT_EQ(static_cast<uint32_t>(out->r0), expect);
  EXPECT_FALSE(out->checked) << "a verified program runs unchecked";

  const std::string name = p.name;
  if (name == "fnv1a") {
    EXPECT_EQ(expect, reference_fnv1a(bench_packet()));
  } else if (name == "crc32") {
    EXPECT_EQ(expect, reference_crc32(bench_packet()));
  } else if (name == "parse_tcp") {
    EXPECT_TRUE(expect & 0x100) << "the packet's checksums must hold; error code " << expect;
  } else if (name == "nop") {
    EXPECT_EQ(expect, 2u) << "XDP_PASS";
  }
}

TEST_P(CorpusTest, PassesTheKernelVerifierAndGivesNativesResult) {
  if (auto st = kernel_available(); !st) GTEST_SKIP() << st.error().msg;
  const CorpusProgram& p = *GetParam();
  auto native = NativeRunner::open(p);
  ASSERT_TRUE(native) << native.error().to_string();
  auto k = KernelRunner::open(object_path(p), p.function, map_fills(p));
  ASSERT_TRUE(k) << k.error().to_string();
  auto t = (*k)->run(bench_packet(), 2);
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->r0, (*native)->run(1).r0);
}

std::vector<const CorpusProgram*> all_programs() {
  std::vector<const CorpusProgram*> v;
  for (const CorpusProgram& p : corpus())
    v.push_back(&p);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusTest, ::testing::ValuesIn(all_programs()), program_name);

TEST(CorpusTest, HasTheProgramsTheIssueAsksFor) {
  EXPECT_GE(corpus().size(), 10u);
  for (const char* n : {"nop", "int_loop", "fnv1a", "crc32", "parse_tcp", "sort", "calls", "muldiv",
                        "array_lookup", "hash_lookup"})
    EXPECT_NE(find_program(n), nullptr) << n;
  EXPECT_EQ(bench_packet().size(), 1500u);
}

}  // namespace
}  // namespace bpfvm::bench
