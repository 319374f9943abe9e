// Runs every case of tests/verifier/cases/*.txt: the verdict, the error kind and its pc must match.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "tests/verifier/case_file.h"

namespace bpfvm::verifier::testing {
namespace {

std::vector<Case> all_cases() {
  std::vector<Case> out;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(BPFVM_SOURCE_DIR "/tests/verifier/cases", ec))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string err;
    auto cs = read_cases(f.string(), &err);
    if (!err.empty()) {
      Case bad;
      bad.file = f.string();
      bad.name = "PARSE_ERROR";
      bad.expect_kind = err;
      out.push_back(bad);
      continue;
    }
    out.insert(out.end(), cs.begin(), cs.end());
  }
  return out;
}

class VerifierCase : public ::testing::TestWithParam<Case> {};

TEST_P(VerifierCase, VerdictMatches) {
  const Case& c = GetParam();
  ASSERT_NE(c.name, "PARSE_ERROR") << c.expect_kind;
  auto prog = assemble_case(c);
  ASSERT_TRUE(prog.ok()) << c.file << ":" << c.line << ": " << prog.error().to_string();
  auto r = verify(*prog, options_for(c));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  std::string errs;
  for (const auto& d : r->errors)
    errs += "  " + d.to_string() + "\n";
  if (c.expect_accept) {
    EXPECT_TRUE(r->accepted) << c.file << ":" << c.line << " " << c.name << " rejected:\n" << errs;
  } else {
    ASSERT_FALSE(r->accepted) << c.file << ":" << c.line << " " << c.name << " accepted, expected "
                              << c.expect_kind;
    const Diagnostic& d = r->errors.front();
    EXPECT_EQ(error_kind_name(d.kind), c.expect_kind) << c.file << ":" << c.line << " " << c.name << ":\n"
                                                      << errs;
    EXPECT_EQ(d.pc, static_cast<uint32_t>(c.expect_pc)) << c.file << ":" << c.line << " " << c.name << ":\n"
                                                        << errs;
  }
}

TEST(VerifierCases, ThereAreEnough) {
  auto cs = all_cases();
  size_t accept = std::count_if(cs.begin(), cs.end(), [](const Case& c) { return c.expect_accept; });
  EXPECT_GE(cs.size(), 100u);
  EXPECT_GE(accept, 40u);
  EXPECT_GE(cs.size() - accept, 40u);
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
