// Interpreter extensions: RegionResolver, HelperCall::context/call_function/is_function and tail
// calls, with helpers defined here (no helpers library).
#include <cstring>

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "vm/asm.h"
#include "vm/helper_table.h"
#include "vm/interp.h"

namespace bpfvm {
namespace {

// Vouches for one host buffer; its second half is read-only.
class BufferResolver : public RegionResolver {
 public:
  bool contains(uint64_t addr, uint64_t len, bool write, std::string_view* name) const override {
    uint64_t base = reinterpret_cast<uint64_t>(buf);
    if (addr < base || len > sizeof buf || addr - base > sizeof buf - len) return false;
    if (write && addr - base + len > sizeof buf / 2) return false;
    if (name != nullptr) *name = "test buffer";
    return true;
  }
  alignas(8) uint8_t buf[64] = {};
};

std::unique_ptr<Interpreter> load(const std::string& text, const HelperTable* h) {
  Program p = assemble_or_fail(text);
  return p.insns.empty() ? nullptr : interpreter_or_fail(p, h);
}

TEST(Resolver, CheckedModeConsultsTheResolver) {
  BufferResolver res;
  res.buf[40] = 9;
  uint64_t base = reinterpret_cast<uint64_t>(res.buf);
  auto vm = load("lddw %r1, " + std::to_string(base) +
                     "\nstdw [%r1+8], 5\nldxdw %r0, [%r1+8]\nldxb %r2, [%r1+40]\n"
                     "add %r0, %r2\nexit",
                 nullptr);
  NullEnv env;
  RunInput in;
  in.resolver = &res;
  auto r = vm->run(in, RunOptions{}, env);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, 14u);
  // Without the resolver: out of bounds.
  RunInput bare;
  EXPECT_EQ(vm->run(bare, RunOptions{}, env).error().code, ErrorCode::kOutOfBounds);
  // A store into the read-only half names the resolver's region.
  auto ro = load("lddw %r1, " + std::to_string(base) + "\nstb [%r1+40], 1\nexit", nullptr);
  auto e = ro->run(in, RunOptions{}, env);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kOutOfBounds);
  EXPECT_NE(e.error().msg.find("read-only test buffer"), std::string::npos) << e.error().msg;
  // One byte past the end.
  auto past = load("lddw %r1, " + std::to_string(base) + "\nldxb %r0, [%r1+64]\nexit", nullptr);
  EXPECT_EQ(past->run(in, RunOptions{}, env).error().code, ErrorCode::kOutOfBounds);
}

// Helper 1000: translate(r1, r2) and span_from(r1); returns span, or -1 if translate failed.
uint64_t probe(HelperCall& call, uint64_t addr, uint64_t len, uint64_t write, uint64_t, uint64_t) {
  if (call.translate(addr, len, write != 0) == nullptr) return static_cast<uint64_t>(-1);
  return call.span_from(addr, write != 0);
}
// Helper 1001: calls function r1 with (r2, r3) and returns its r0 + 1; r0 = 0 when it faults.
uint64_t invoke(HelperCall& call, uint64_t fn, uint64_t a, uint64_t b, uint64_t, uint64_t) {
  if (!call.is_function(fn)) return static_cast<uint64_t>(-2);
  const uint64_t args[5] = {a, b, 0, 0, 0};
  auto r = call.call_function(fn, args);
  return r.ok() ? *r + 1 : 0;
}
// Helper 1002: the context's first u64.
uint64_t ctx_value(HelperCall& call, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  return call.context() == nullptr ? 0 : *static_cast<uint64_t*>(call.context());
}
// Helper 1003: tail call to program r2; -1 when refused.
uint64_t tail(HelperCall& call, uint64_t, uint64_t id, uint64_t, uint64_t, uint64_t) {
  return call.request_tail_call(static_cast<uint32_t>(id)) ? 0 : static_cast<uint64_t>(-1);
}

HelperTable table() {
  HelperTable t;
  EXPECT_TRUE(t.add(1000, "probe", probe).ok());
  EXPECT_TRUE(t.add(1001, "invoke", invoke).ok());
  EXPECT_TRUE(t.add(1002, "ctx_value", ctx_value).ok());
  EXPECT_TRUE(t.add(1003, "tail", tail).ok());
  return t;
}

TEST(HelperCallApi, TranslateAndSpanUseTheResolver) {
  HelperTable t = table();
  BufferResolver res;
  uint64_t base = reinterpret_cast<uint64_t>(res.buf);
  NullEnv env;
  RunInput in;
  in.resolver = &res;
  auto run = [&](uint64_t off, uint64_t len, int write) {
    auto vm = load("lddw %r1, " + std::to_string(base + off) + "\nmov %r2, " + std::to_string(len) +
                       "\nmov %r3, " + std::to_string(write) + "\ncall 1000\nexit",
                   &t);
    return *vm->run(in, RunOptions{}, env);
  };
  EXPECT_EQ(run(10, 4, 0), 54u);
  EXPECT_EQ(run(10, 4, 1), 22u);
  EXPECT_EQ(run(40, 4, 1), static_cast<uint64_t>(-1));
  EXPECT_EQ(run(60, 5, 0), static_cast<uint64_t>(-1));
}

TEST(HelperCallApi, CallFunctionContextAndIsFunction) {
  HelperTable t = table();
  NullEnv env;
  uint64_t ctx = 77;
  RunInput in;
  in.context = &ctx;
  auto vm = load(
      "lddw %r1, func(f)\nmov %r2, 3\nmov %r3, 4\ncall 1001\nmov %r6, %r0\ncall 1002\nadd %r0, %r6\n"
      "exit\nf:\nmov %r0, %r1\nmul %r0, %r2\nexit",
      &t);
  for (bool checked : {true, false}) {
    RunOptions o;
    o.checked = checked;
    auto r = vm->run(in, o, env);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(*r, 3u * 4 + 1 + 77);
  }
  auto not_fn = load("mov %r1, 5\ncall 1001\nexit", &t);
  EXPECT_EQ(*not_fn->run(in, RunOptions{}, env), static_cast<uint64_t>(-2));
  // The callee's frame is live (its stack), and r6-r9 of the caller survive the callback.
  auto frames = load(
      "mov %r6, 5\nlddw %r1, func(f)\ncall 1001\nadd %r0, %r6\nexit\n"
      "f:\nstdw [%r10-8], 40\nldxdw %r0, [%r10-8]\nmov %r6, 0\nexit",
      &t);
  EXPECT_EQ(*frames->run(in, RunOptions{}, env), 46u);
}

class Progs : public TailCallTargets {
 public:
  const Interpreter* interpreter(uint32_t id) const override { return id < list.size() ? list[id] : nullptr; }
  std::vector<const Interpreter*> list;
};

TEST(TailCallEngine, SwitchesProgramKeepsR1AndLimits) {
  HelperTable t = table();
  NullEnv env;
  uint8_t mem[8] = {3};
  RunInput in;
  in.args[0] = reinterpret_cast<uint64_t>(mem);
  in.regions.push_back(MemRegion{reinterpret_cast<uint64_t>(mem), sizeof mem, true, "input"});
  Progs progs;
  in.tail_calls = &progs;
  // Program 0 increments mem[1] and tail-calls itself; program 1 returns mem[0] * 100 + r6.
  auto self = load(
      "ldxb %r2, [%r1+1]\nadd %r2, 1\nstxb [%r1+1], %r2\nmov %r6, %r1\nmov %r2, 0\ncall 1003\n"
      "ldxb %r0, [%r6+1]\nexit",
      &t);
  auto other = load("ldxb %r0, [%r1]\nmul %r0, 100\nadd %r0, %r6\nexit", &t);
  auto caller = load("mov %r6, 9\nmov %r2, 1\ncall 1003\nmov %r0, 1\nexit", &t);
  progs.list = {self.get(), other.get()};
  for (bool checked : {true, false}) {
    mem[1] = 0;
    RunOptions o;
    o.checked = checked;
    RunStats stats;
    auto r = self->run(in, o, env, &stats);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(*r, 34u);  // 1 run + 33 tail calls; the 34th is refused and the program continues
    EXPECT_EQ(stats.tail_calls, kMaxTailCalls);
    // The target starts with r1 = the caller's r1 and r6 cleared.
    auto c = caller->run(in, o, env);
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    EXPECT_EQ(*c, 300u);
  }
  // No such program: refused, the caller continues.
  auto missing = load("mov %r2, 5\ncall 1003\nexit", &t);
  EXPECT_EQ(*missing->run(in, RunOptions{}, env), static_cast<uint64_t>(-1));
  // From a subprogram: kUnsupported.
  auto sub = load("call local s\nexit\ns:\nmov %r2, 1\ncall 1003\nexit", &t);
  auto e = sub->run(in, RunOptions{}, env);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(e.error().pc, 3u);
}

}  // namespace
}  // namespace bpfvm
