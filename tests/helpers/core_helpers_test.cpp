#include "helpers/core_helpers.h"

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

#include "helpers/environment.h"
#include "vm/decode.h"

namespace bpfvm {
namespace {

// A format string and its arguments laid out in one readable region.
struct Printk {
  CapturingEnvironment env;
  std::vector<uint8_t> mem = std::vector<uint8_t>(256, 0);
  std::vector<MemRegion> regions;

  Printk() { regions.push_back(MemRegion{addr(0), mem.size(), false, "input"}); }
  uint64_t addr(size_t off) const { return reinterpret_cast<uint64_t>(mem.data()) + off; }
  // Copies `s` (with its NUL) to offset `at`, returns its address.
  uint64_t put(size_t at, std::string_view s) {
    std::memcpy(mem.data() + at, s.data(), s.size());
    mem[at + s.size()] = 0;
    return addr(at);
  }
  int64_t format(std::string_view fmt,
                 uint64_t a1 = 0,
                 uint64_t a2 = 0,
                 uint64_t a3 = 0,
                 std::string* out = nullptr) {
    uint64_t f = put(0, fmt);
    HelperCall call(&env, nullptr, 0, regions, 0, 0);
    std::string text;
    int64_t n = trace_printk_format(call, f, fmt.size() + 1, a1, a2, a3, &text);
    if (out) *out = text;
    return n;
  }
  std::string text(std::string_view fmt, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0) {
    std::string out;
    int64_t n = format(fmt, a1, a2, a3, &out);
    EXPECT_EQ(n, static_cast<int64_t>(out.size())) << fmt;
    return n < 0 ? "<error " + std::to_string(n) + ">" : out;
  }
};

TEST(TracePrintk, IntegerConversionsUseTheKernelWidths) {
  Printk p;
  EXPECT_EQ(p.text("%d %u %x", static_cast<uint64_t>(-1), static_cast<uint64_t>(-1), 0x1234abcdefULL),
            "-1 4294967295 34abcdef");
  EXPECT_EQ(p.text("%ld %lu %lx", static_cast<uint64_t>(-1), static_cast<uint64_t>(-1), 0x1234abcdefULL),
            "-1 18446744073709551615 1234abcdef");
  EXPECT_EQ(p.text("%lld %llu %llX", static_cast<uint64_t>(-5), 7, 0xabcULL), "-5 7 ABC");
  EXPECT_EQ(p.text("%i", 42), "42");
}

TEST(TracePrintk, PercentFlagsWidthCharsAndPointers) {
  Printk p;
  EXPECT_EQ(p.text("100%% [%5d] [%-4u] [%03x]", 42, 7, 10), "100% [   42] [7   ] [00a]");
  EXPECT_EQ(p.text("%c%c", 'o', 'k'), "ok");
  EXPECT_EQ(p.text("%p", 0x1234), "0000000000001234");
  EXPECT_EQ(p.text("%px %pK", 0xff, 0x10), "00000000000000ff 0000000000000010");
  EXPECT_EQ(p.text("plain text\n"), "plain text\n");
}

TEST(TracePrintk, StringArgumentsAreTranslatedAndBounded) {
  Printk p;
  uint64_t s = p.put(100, "world");
  EXPECT_EQ(p.text("hello %s!", s), "hello world!");
  EXPECT_EQ(p.text("[%8s]", s), "[   world]");
  // Unreadable string: printed empty, as the kernel does after a failed probe.
  EXPECT_EQ(p.text("<%s>", 0x10), "<>");
  // A string running to the end of its region without a NUL stops at the region's end.
  std::memset(p.mem.data() + 250, 'z', 6);
  EXPECT_EQ(p.text("%s", p.addr(250)), "zzzzzz");
}

TEST(TracePrintk, BadFormatsReturnEinval) {
  Printk p;
  EXPECT_EQ(p.format("%q"), -EINVAL);
  EXPECT_EQ(p.format("%d %d %d %d", 1, 2, 3), -EINVAL);  // more than 3 arguments
  EXPECT_EQ(p.format("trailing %"), -EINVAL);
  EXPECT_EQ(p.format("%pB"), -EINVAL);
  EXPECT_EQ(p.format("%ls"), -EINVAL);
  EXPECT_EQ(p.format("%lllx"), -EINVAL);
  EXPECT_EQ(p.format("%99999d"), -EINVAL);
  EXPECT_EQ(p.format("bell \a"), -EINVAL);
}

TEST(TracePrintk, FormatMustBeReadableAndNulTerminatedWithinSize) {
  Printk p;
  uint64_t f = p.put(0, "abc");
  HelperCall call(&p.env, nullptr, 0, p.regions, 0, 0);
  std::string out;
  EXPECT_EQ(trace_printk_format(call, f, 3, 0, 0, 0, &out), -EINVAL);  // no NUL within 3 bytes
  EXPECT_EQ(trace_printk_format(call, f, 0, 0, 0, 0, &out), -EINVAL);
  EXPECT_EQ(trace_printk_format(call, f, 4, 0, 0, 0, &out), 3);
  EXPECT_EQ(trace_printk_format(call, f, 100, 0, 0, 0, &out), 3);  // NUL earlier than size is fine
  EXPECT_EQ(out, "abc");
  EXPECT_EQ(trace_printk_format(call, 0x1000, 4, 0, 0, 0, &out), -EFAULT);
  EXPECT_EQ(trace_printk_format(call, f, 257, 0, 0, 0, &out), -EFAULT);  // runs past the region
}

TEST(TracePrintk, LongOutputIsTruncatedButTheFullLengthReturned) {
  Printk p;
  std::string out;
  int64_t n = p.format("%500d%500d", 1, 2, 0, &out);
  EXPECT_EQ(n, 1000);
  EXPECT_EQ(out.size(), kTracePrintkBufSize - 1);
}

// End to end: a program builds "n=%d\n" on its stack and calls helper 6.
TEST(CoreHelpers, TracePrintkThroughTheInterpreter) {
  HelperTable table;
  register_core_helpers(table);
  // "n=%d\n\0" = 6e 3d 25 64 0a 00
  std::vector<uint8_t> code = {
      0x18, 0x01, 0,    0,    0x6e, 0x3d, 0x25, 0x64, 0, 0, 0, 0, 0x0a, 0, 0, 0,  // lddw r1, 0x0a64253d6e
      0x7b, 0x1a, 0xf8, 0xff, 0,    0,    0,    0,                                // stxdw [r10-8], r1
      0xbf, 0xa1, 0,    0,    0,    0,    0,    0,                                // mov r1, r10
      0x07, 0x01, 0,    0,    0xf8, 0xff, 0xff, 0xff,                             // add r1, -8
      0xb7, 0x02, 0,    0,    6,    0,    0,    0,                                // mov r2, 6
      0xb7, 0x03, 0,    0,    0xd6, 0xff, 0xff, 0xff,                             // mov r3, -42
      0x85, 0,    0,    0,    6,    0,    0,    0,                                // call 6
      0x95, 0,    0,    0,    0,    0,    0,    0,                                // exit
  };
  auto p = decode(code);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  auto vm = Interpreter::create(*p, &table);
  ASSERT_TRUE(vm.ok());
  CapturingEnvironment env;
  for (bool checked : {true, false}) {
    RunOptions o;
    o.checked = checked;
    auto r = (*vm)->run(RunInput{}, o, env);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(*r, 6u);  // "n=-42\n"
  }
  EXPECT_EQ(env.lines(), (std::vector<std::string>{"n=-42\n", "n=-42\n"}));
}

TEST(CoreHelpers, RegisteredWithKernelNumbersAndNames) {
  HelperTable table;
  register_core_helpers(table);
  ASSERT_NE(table.find(5), nullptr);
  EXPECT_EQ(table.find(5)->name, "ktime_get_ns");
  EXPECT_EQ(table.find(6)->name, "trace_printk");
  EXPECT_EQ(table.find(7)->name, "get_prandom_u32");
  EXPECT_EQ(table.find("get_prandom_u32")->id, 7u);
}

// call 7; r6 = r0; call 7; r0 = r0 << 32 | r6 (two values), run with an environment.
uint64_t run_calls(int helper, Environment& env) {
  HelperTable table;
  register_core_helpers(table);
  uint8_t h = static_cast<uint8_t>(helper);
  std::vector<uint8_t> code = {
      0x85, 0,    0, 0, h,  0, 0, 0,  // call h
      0xbf, 0x06, 0, 0, 0,  0, 0, 0,  // mov r6, r0
      0x85, 0,    0, 0, h,  0, 0, 0,  // call h
      0x67, 0x00, 0, 0, 32, 0, 0, 0,  // lsh r0, 32
      0x4f, 0x60, 0, 0, 0,  0, 0, 0,  // or r0, r6
      0x95, 0,    0, 0, 0,  0, 0, 0,  // exit
  };
  auto p = decode(code);
  EXPECT_TRUE(p.ok());
  auto vm = Interpreter::create(*p, &table);
  auto r = (*vm)->run(RunInput{}, RunOptions{}, env);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : 0;
}

TEST(CoreHelpers, PrandomIsDeterministicWithASeed) {
  CapturingEnvironment a(42), b(42), c(43);
  uint64_t va = run_calls(7, a), vb = run_calls(7, b), vc = run_calls(7, c);
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  EXPECT_NE(va >> 32, va & 0xffffffff);  // two different draws
  EXPECT_NE(run_calls(7, a), va);        // the sequence goes on
}

TEST(CoreHelpers, KtimeIsMonotonicAndDeterministicWithASeed) {
  EnvironmentOptions o;
  o.trace_file = nullptr;
  o.seed = 1;
  o.clock_start_ns = 5000;
  o.clock_step_ns = 100;
  DefaultEnvironment a(o), b(o);
  uint64_t va = run_calls(5, a);
  EXPECT_EQ(va & 0xffffffff, 5100u);
  EXPECT_EQ(va >> 32, 5200u);
  EXPECT_EQ(run_calls(5, b), va);
  // Unseeded: the real monotonic clock.
  EnvironmentOptions quiet;
  quiet.trace_file = nullptr;
  DefaultEnvironment real(quiet);
  uint64_t t1 = real.ktime_ns(), t2 = real.ktime_ns();
  EXPECT_GT(t1, 0u);
  EXPECT_GE(t2, t1);
}

}  // namespace
}  // namespace bpfvm
