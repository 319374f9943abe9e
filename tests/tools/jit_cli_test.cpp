// The CLI on the JIT: `bpfvm run/bench --engine jit` (the default), the hardening options,
// `bpfvm jit-dump`, and `bpfvm-conformance-plugin --jit`.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace bpfvm {
namespace {

struct Output {
  int status;
  std::string out;
};

// Runs a command line (built from trusted test strings) and captures stdout; stderr is discarded.
Output shell(const std::string& args) {
  std::string cmd = std::string(BPFVM_BINARY_DIR) + "/bin/" + args + " 2>/dev/null";
  Output o{-1, {}};
  std::FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    o.out.append(buf, n);
  int st = pclose(f);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

std::string conformance(const std::string& name) {
  return shared_dir() + "/conformance/tests/" + name;
}

TEST(JitCli, RunUsesTheJitByDefaultAndAgreesWithTheInterpreter) {
  for (const char* test : {"lsh64-reg-high.data", "callx.data", "div64-by-zero-reg.data", "ldxb.data"}) {
    SCOPED_TRACE(test);
    Output jit = shell("bpfvm run " + conformance(test));
    Output jit_hard = shell("bpfvm run --engine jit --no-blinding --spectre all " + conformance(test));
    Output interp = shell("bpfvm run --engine interp " + conformance(test));
    EXPECT_EQ(jit.status, 0);
    EXPECT_EQ(jit.out, interp.out);
    EXPECT_EQ(jit_hard.out, interp.out);
  }
  Output bench = shell("bpfvm bench --repeat 1000 " + conformance("lsh64-reg-high.data"));
  EXPECT_EQ(bench.status, 0);
  EXPECT_NE(bench.out.find("engine: jit"), std::string::npos) << bench.out;
  EXPECT_EQ(shell("bpfvm run --spectre sometimes " + conformance("lsh64-reg-high.data")).status, 2);
  EXPECT_EQ(shell("bpfvm run --engine turbo " + conformance("lsh64-reg-high.data")).status, 2);
}

TEST(JitCli, JitDumpWritesTheCodeAndAnnotatesTheDisassembly) {
  std::string out = std::string(BPFVM_BINARY_DIR) + "/jit-dump-test.bin";
  std::filesystem::remove(out);
  Output d = shell("bpfvm jit-dump " + conformance("lsh64-reg-high.data") + " -o " + out);
  ASSERT_EQ(d.status, 0);
  EXPECT_NE(d.out.find("; pc 0: "), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("ret"), std::string::npos);
  ASSERT_TRUE(std::filesystem::exists(out));
  EXPECT_GT(std::filesystem::file_size(out), 16u);
  // The header gives the code size, which is the file's.
  EXPECT_NE(d.out.find("; " + std::to_string(std::filesystem::file_size(out)) + " bytes"), std::string::npos);
  std::filesystem::remove(out);
  Output checked = shell("bpfvm jit-dump --checked " + conformance("ldxb.data"));
  EXPECT_EQ(checked.status, 0);
  EXPECT_NE(checked.out.find("(checked"), std::string::npos);
  EXPECT_EQ(shell("bpfvm jit-dump /nonexistent.data").status, 2);
}

TEST(JitCli, ConformancePluginRunsCheckedJitCode) {
  // add.data: mov32 r0, 0; mov32 r1, 2; add32 r0, 1; add32 r0, r1; exit -> 3
  Output o = shell(
      "bpfvm-conformance-plugin --jit --program 'b4 00 00 00 00 00 00 00 b4 01 00 00 02 00 00 00 "
      "04 00 00 00 01 00 00 00 0c 10 00 00 00 00 00 00 95 00 00 00 00 00 00 00'");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, "3\n");
  // Out of bounds: a fault, not a crash.
  Output oob =
      shell("bpfvm-conformance-plugin --jit --program '79 10 00 01 00 00 00 00 95 00 00 00 00 00 00 00'");
  EXPECT_EQ(oob.status, 1);
}

}  // namespace
}  // namespace bpfvm
