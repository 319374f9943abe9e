// The corpus comparison on the user-space side: every run of every tests/corpus/*.json spec goes
// through the runtime Object and must satisfy the same checks as the kernel's run
// (kernel::check_run). Runs listed in expected_failures.txt (with the reason) must fail; one that
// passes fails the test so that the list shrinks as helpers land.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/corpus_user/user_runner.h"
#include "tests/kernel/corpus_spec.h"

namespace bpfvm::corpus_user {
namespace {

std::map<std::string, std::string> expected_failures() {
  return kernel::load_reason_list(std::string(BPFVM_SOURCE_DIR) + "/tests/corpus_user/expected_failures.txt");
}

const std::string* expected_failure(const std::string& label) {
  static const auto list = expected_failures();
  return kernel::find_reason(list, label);
}

// Every difference between the spec and the user-space run (empty: it matches).
std::vector<std::string> problems(const kernel::CorpusRun& p) {
  auto spec = kernel::load_spec(p.spec_path, BPFVM_CORPUS_OBJ_DIR);
  if (!spec) return {spec.error().msg};
  const kernel::RunSpec& run = spec->runs.at(p.run_index);
  auto res = user_run(run.request);
  if (!res) return {"run failed: " + res.error().msg};
  return kernel::check_run(run, *res);
}

class CorpusUser : public ::testing::TestWithParam<kernel::CorpusRun> {};

TEST_P(CorpusUser, MatchesSpec) {
  const kernel::CorpusRun& p = GetParam();
  std::vector<std::string> diffs = problems(p);
  if (const std::string* why = expected_failure(p.label)) {
    EXPECT_FALSE(diffs.empty()) << p.label << " is listed in tests/corpus_user/expected_failures.txt ("
                                << *why << ") but now matches its spec: remove it from the list";
    return;
  }
  for (const std::string& d : diffs)
    ADD_FAILURE() << p.spec_path << " run '" << p.label << "': " << d;
}

INSTANTIATE_TEST_SUITE_P(Corpus,
                         CorpusUser,
                         ::testing::ValuesIn(kernel::corpus_runs()),
                         kernel::CorpusRunName());

TEST(CorpusUserList, SpecsAndExpectedFailuresAreConsistent) {
  const auto specs = kernel::list_specs(BPFVM_CORPUS_SRC_DIR);
  ASSERT_GE(specs.size(), 20u) << "corpus specs missing in " << BPFVM_CORPUS_SRC_DIR;
  std::set<std::string> labels, objects;
  for (const std::string& path : specs) {
    auto spec = kernel::load_spec(path, BPFVM_CORPUS_OBJ_DIR);
    ASSERT_TRUE(spec.ok()) << spec.error().msg;
    objects.insert(kernel::sanitize_label(spec->object));
    for (const auto& r : spec->runs)
      labels.insert(kernel::sanitize_label(spec->object + "__" + r.name));
  }
  // Every entry of the list names a real object or run and gives a reason.
  for (const auto& [key, reason] : expected_failures()) {
    EXPECT_TRUE(labels.count(key) || objects.count(key))
        << "expected_failures.txt: unknown run or object " << key;
    EXPECT_NE(reason.find_first_not_of(" \t"), std::string::npos)
        << "expected_failures.txt: " << key << " has no reason";
  }
}

}  // namespace
}  // namespace bpfvm::corpus_user
