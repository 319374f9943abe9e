// Runs every case of tests/verifier/cases/*.txt: the verdict, the error kind and its pc must match.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "tests/verifier/case_file.h"

namespace bpfvm::verifier::testing {
namespace {

class VerifierCase : public ::testing::TestWithParam<Case> {};

TEST_P(VerifierCase, VerdictMatches) {
  const Case& c = GetParam();
  ASSERT_NE(c.name, "PARSE_ERROR") << c.expect_kind;
  auto lc = load_case(c);
  ASSERT_TRUE(lc.ok()) << c.file << ":" << c.line << ": " << lc.error().to_string();
  auto r = verify(lc->program, lc->options);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  std::string errs;
  for (const auto& d : r->errors)
    errs += "  " + d.to_string() +
            (is_c_case(c) ? " [line " + std::to_string(line_of_pc(*lc, d.pc)) + "]" : "") + "\n";
  if (c.expect_accept) {
    EXPECT_TRUE(r->accepted) << c.file << ":" << c.line << " " << c.name << " rejected:\n" << errs;
  } else {
    ASSERT_FALSE(r->accepted) << c.file << ":" << c.line << " " << c.name << " accepted, expected "
                              << c.expect_kind;
    const Diagnostic& d = r->errors.front();
    EXPECT_EQ(error_kind_name(d.kind), c.expect_kind) << c.file << ":" << c.line << " " << c.name << ":\n"
                                                      << errs;
    if (is_c_case(c))
      EXPECT_EQ(line_of_pc(*lc, d.pc), static_cast<uint32_t>(c.expect_line))
          << c.file << ":" << c.line << " " << c.name << ": the first error is not on the marked line:\n"
          << errs;
    else
      EXPECT_EQ(d.pc, static_cast<uint32_t>(c.expect_pc)) << c.file << ":" << c.line << " " << c.name << ":\n"
                                                          << errs;
  }
}

TEST(VerifierCases, ThereAreEnough) {
  auto cs = all_cases();
  size_t accept = std::count_if(cs.begin(), cs.end(), [](const Case& c) { return c.expect_accept; });
  size_t c_cases = std::count_if(cs.begin(), cs.end(), [](const Case& c) { return is_c_case(c); });
  // Issue #4: at least 250 targeted cases, both verdicts well represented, restricted C among them.
  EXPECT_GE(cs.size(), 250u);
  EXPECT_GE(accept, 100u);
  EXPECT_GE(cs.size() - accept, 100u);
  EXPECT_GE(c_cases, 30u);
  // Every error kind (Unreachable is only a warning) is the expected verdict of some case.
  std::set<std::string> kinds;
  for (const Case& c : cs)
    if (!c.expect_accept) kinds.insert(c.expect_kind);
#define BPFVM_X(name, hint) \
  if (std::string(#name) != "Unreachable") EXPECT_TRUE(kinds.count(#name)) << "no case expects " #name;
  BPFVM_VERIFIER_ERRORS(BPFVM_X)
#undef BPFVM_X
}

INSTANTIATE_TEST_SUITE_P(Cases,
                         VerifierCase,
                         ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           std::string n =
                               std::filesystem::path(i.param.file).stem().string() + "_" + i.param.name;
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n + "_" + std::to_string(i.index);
                         });

}  // namespace
}  // namespace bpfvm::verifier::testing
