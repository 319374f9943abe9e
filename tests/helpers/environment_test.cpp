#include "helpers/environment.h"

#include <cstdio>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace bpfvm {
namespace {

EnvironmentOptions with_file(std::FILE* f) {
  EnvironmentOptions o;
  o.trace_file = f;
  return o;
}

std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string s;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    s.append(buf, n);
  return s;
}

TEST(DefaultEnvironment, TraceWritesOneLinePerCall) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  DefaultEnvironment env(with_file(f));
  env.trace("first\n");
  env.trace("second");
  EXPECT_EQ(read_all(f), "first\nsecond\n");
  std::fclose(f);
}

TEST(DefaultEnvironment, SeededPrandomRepeatsAndVaries) {
  EnvironmentOptions o = with_file(nullptr);
  o.seed = 7;
  DefaultEnvironment a(o), b(o);
  std::set<uint32_t> seen;
  for (int i = 0; i < 100; ++i) {
    uint32_t x = a.prandom_u32();
    EXPECT_EQ(x, b.prandom_u32());
    seen.insert(x);
  }
  EXPECT_GT(seen.size(), 95u);
}

TEST(DefaultEnvironment, UnseededPrandomDiffersBetweenEnvironments) {
  DefaultEnvironment a(with_file(nullptr)), b(with_file(nullptr));
  uint64_t x = (uint64_t{a.prandom_u32()} << 32) | a.prandom_u32();
  uint64_t y = (uint64_t{b.prandom_u32()} << 32) | b.prandom_u32();
  EXPECT_NE(x, y);
}

TEST(DefaultEnvironment, SeededClockAdvancesByItsStep) {
  EnvironmentOptions o = with_file(nullptr);
  o.seed = 0;
  o.clock_start_ns = 10;
  o.clock_step_ns = 3;
  DefaultEnvironment env(o);
  EXPECT_EQ(env.ktime_ns(), 13u);
  EXPECT_EQ(env.ktime_ns(), 16u);
}

TEST(CapturingEnvironment, KeepsTraceLinesAndIsDeterministic) {
  CapturingEnvironment a, b;
  a.trace("x");
  a.trace("y\n");
  EXPECT_EQ(a.lines(), (std::vector<std::string>{"x", "y\n"}));
  a.clear();
  EXPECT_TRUE(a.lines().empty());
  EXPECT_EQ(a.prandom_u32(), b.prandom_u32());
  EXPECT_EQ(a.ktime_ns(), b.ktime_ns());
}

}  // namespace
}  // namespace bpfvm
