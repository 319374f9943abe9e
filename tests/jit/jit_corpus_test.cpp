// The BPF C corpus (tests/corpus: helpers, maps, bpf_loop and for_each_map_elem callbacks, tail
// calls through prog arrays, bpf-to-bpf calls) through the runtime Object on the JIT: every run
// gives what the interpreter gives (retval, packet, context, maps, ring buffers), unverified
// (checked JIT code) and verified (unchecked JIT code where the verifier accepts).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/corpus_user/user_runner.h"
#include "tests/kernel/corpus_spec.h"

namespace bpfvm::corpus_user {
namespace {

std::string describe(const Result<kernel::RunResult>& r) {
  if (!r) return "error: " + r.error().msg;
  std::string s = "retval " + std::to_string(r->retval) + " data " + std::to_string(r->data_out.size()) + "B";
  return s;
}

class JitCorpus : public ::testing::TestWithParam<kernel::CorpusRun> {};

TEST_P(JitCorpus, RunsLikeTheInterpreter) {
  const kernel::CorpusRun& p = GetParam();
  auto spec = kernel::load_spec(p.spec_path, BPFVM_CORPUS_OBJ_DIR);
  ASSERT_TRUE(spec.ok()) << spec.error().msg;
  const kernel::RunSpec& run = spec->runs.at(p.run_index);
  for (bool verify : {false, true}) {
    SCOPED_TRACE(verify ? "verified" : "unverified");
    UserRunOptions interp, jit;
    interp.verify = jit.verify = verify;
    jit.engine = Engine::Jit;
    auto want = user_run(run.request, interp);
    auto got = user_run(run.request, jit);
    ASSERT_EQ(got.ok(), want.ok()) << describe(got) << " vs " << describe(want);
    if (!want.ok()) {
      EXPECT_EQ(got.error().code, want.error().code);
      continue;
    }
    EXPECT_EQ(got->retval, want->retval);
    EXPECT_EQ(got->data_out, want->data_out);
    EXPECT_EQ(got->ctx_out, want->ctx_out);
    EXPECT_EQ(kernel::check_run(run, *got), kernel::check_run(run, *want));
    ASSERT_EQ(got->maps.size(), want->maps.size());
    EXPECT_EQ(got->ringbufs, want->ringbufs);
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus,
                         JitCorpus,
                         ::testing::ValuesIn(kernel::corpus_runs()),
                         kernel::CorpusRunName());

TEST(JitCorpusList, HasTheCorpus) {
  EXPECT_GE(kernel::corpus_runs().size(), 20u);
}

}  // namespace
}  // namespace bpfvm::corpus_user
