// The conformance suite (313 files) on the JIT, checked and unchecked, with blinding on and off:
// every result equals the file's expected result and the interpreter's.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "jit/jit.h"
#include "tests/test_util.h"
#include "vm/runtime/input.h"
#include "vm/runtime/vm.h"

namespace bpfvm {
namespace {

struct Mode {
  const char* name;
  bool checked;
  bool blinding;
};

class JitConformance : public ::testing::TestWithParam<std::tuple<std::string, Mode>> {};

TEST_P(JitConformance, MatchesExpectedResultAndInterpreter) {
  const auto& [path, mode] = GetParam();
  auto in = load_program(path);
  ASSERT_TRUE(in.ok()) << in.error().to_string();
  ASSERT_TRUE(in->expected_result.has_value()) << path << " has no -- result";
  jit::JitOptions o;
  o.checked = mode.checked;
  o.verified = !mode.checked;  // the suite's programs are all well-behaved (see the interpreter's run)
  o.blinding = mode.blinding;
  o.blinding_seed = 7;
  Vm vm(VmOptions{.seed = 1, .trace_out = nullptr});
  auto prog = jit::JitProgram::compile(in->program, &vm.helpers(), o);
  ASSERT_TRUE(prog.ok()) << prog.error().to_string();
  auto interp = Interpreter::create(in->program, &vm.helpers());
  ASSERT_TRUE(interp.ok());
  std::vector<uint8_t> mem = in->mem.value_or(std::vector<uint8_t>{});
  std::vector<uint8_t> mem2 = mem;
  Environment& env = vm.environment();
  auto r = (*prog)->run(mem, env);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, *in->expected_result) << path;
  RunOptions ro;
  ro.checked = mode.checked;
  auto ri = (*interp)->run(mem2, ro, env);
  ASSERT_TRUE(ri.ok());
  EXPECT_EQ(*r, *ri);
  EXPECT_EQ(mem, mem2) << "memory after the run differs from the interpreter's";
}

std::string test_name(const ::testing::TestParamInfo<JitConformance::ParamType>& info) {
  std::string n = std::filesystem::path(std::get<0>(info.param)).stem().string();
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Jit,
                         JitConformance,
                         ::testing::Combine(::testing::ValuesIn(conformance_files()),
                                            ::testing::Values(Mode{"checked_blinded", true, true},
                                                              Mode{"checked_plain", true, false},
                                                              Mode{"unchecked_blinded", false, true},
                                                              Mode{"unchecked_plain", false, false})),
                         test_name);

TEST(JitConformanceSuite, HasAll313Files) {
  EXPECT_EQ(conformance_files().size(), 313u) << "expected the 313 conformance tests in " << shared_dir();
}

}  // namespace
}  // namespace bpfvm
