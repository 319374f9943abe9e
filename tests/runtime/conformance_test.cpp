// The public eBPF conformance suite (313 files in ../shared/conformance/tests) on the interpreter,
// in checked and in unchecked mode. None may be skipped: a missing folder fails.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "vm/data_file.h"
#include "vm/runtime/input.h"
#include "vm/runtime/vm.h"

namespace bpfvm {
namespace {

struct Mode {
  const char* name;
  bool checked;
};

class Conformance : public ::testing::TestWithParam<std::tuple<std::string, Mode>> {};

TEST_P(Conformance, MatchesExpectedResult) {
  const auto& [path, mode] = GetParam();
  auto in = load_program(path);
  ASSERT_TRUE(in.ok()) << in.error().to_string();
  ASSERT_TRUE(in->expected_result.has_value()) << path << " has no -- result";
  Vm vm(VmOptions{.seed = 1, .trace_out = nullptr});
  ExecOptions eo;
  eo.checked = mode.checked;
  auto exe = vm.prepare(in->program, eo);
  ASSERT_TRUE(exe.ok()) << exe.error().to_string();
  std::vector<uint8_t> mem = in->mem.value_or(std::vector<uint8_t>{});
  auto r = (*exe)->run(mem);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, *in->expected_result) << path;
}

std::vector<std::string> files() {
  auto f = conformance_files();
  return f;
}

std::string test_name(const ::testing::TestParamInfo<Conformance::ParamType>& info) {
  std::string n = std::filesystem::path(std::get<0>(info.param)).stem().string();
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Interpreter, Conformance,
                         ::testing::Combine(::testing::ValuesIn(files()),
                                            ::testing::Values(Mode{"checked", true}, Mode{"unchecked", false})),
                         test_name);

TEST(ConformanceSuite, HasAll313Files) {
  EXPECT_EQ(conformance_files().size(), 313u) << "expected the 313 conformance tests in " << shared_dir();
}

}  // namespace
}  // namespace bpfvm
