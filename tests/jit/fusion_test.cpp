// Register liveness (jit/liveness.h) and the JIT's fusions that rely on it (jit/x86/fuse.cpp):
// which registers each instruction leaves live, which shapes each fusion takes and which it must
// leave alone, and, for every shape, the same r0 and memory as the interpreter on many inputs, with
// blinding on and off (a table lookup through an lddw address exercises both the register and the
// displacement forms). The random programs of tests/fuzz/jit_diff_test.cpp contain these shapes
// too.
#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "jit/jit.h"
#include "jit/jit_internal.h"
#include "jit/liveness.h"
#include "tests/test_util.h"

namespace bpfvm {
namespace {

using jit::internal::Liveness;
using jit::internal::RegSet;

RegSet regs(std::initializer_list<int> rs) {
  RegSet s = 0;
  for (int r : rs)
    s |= jit::internal::reg_set(r);
  return s;
}

struct LiveCase {
  const char* name;
  const char* text;
  std::vector<RegSet> after;  // per instruction
};

TEST(JitLiveness, RegistersLiveAfterEachInstruction) {
  const std::vector<LiveCase> cases = {
      {"straight line: a write kills, exit reads r0",
       "mov %r3, 1\n"
       "mov %r2, %r3\n"
       "mov %r3, 2\n"
       "add %r2, %r3\n"
       "mov %r0, %r2\n"
       "exit\n",
       {regs({3}), regs({2}), regs({2, 3}), regs({2}), regs({0}), 0}},
      {"a branch: live on either edge",
       "mov %r4, 1\n"
       "jeq %r1, 0, +2\n"
       "mov %r0, %r4\n"
       "exit\n"
       "mov %r0, %r1\n"
       "exit\n",
       {regs({1, 4}), regs({1, 4}), regs({0}), 0, regs({0}), 0}},
      {"a loop: the counter and the accumulator around the back edge",
       "mov %r0, 0\n"
       "mov %r2, 8\n"
       "add %r0, %r2\n"
       "sub %r2, 1\n"
       "jne %r2, 0, -3\n"
       "exit\n",
       {regs({0}), regs({0, 2}), regs({0, 2}), regs({0, 2}), regs({0, 2}), 0}},
      {"a helper call reads r1-r5 and leaves them dead; r6-r9 live across it",
       "mov %r6, %r1\n"
       "mov %r1, 0\n"
       "call 7\n"
       "add %r0, %r6\n"
       "exit\n",
       {regs({2, 3, 4, 5, 6}), regs({1, 2, 3, 4, 5, 6}), regs({0, 6}), regs({0}), 0}},
      {"stores read their base and value; loads write their destination",
       "stxdw [%r10-8], %r1\n"
       "ldxdw %r2, [%r10-8]\n"
       "mov %r0, %r2\n"
       "exit\n",
       {regs({10}), regs({2}), regs({0}), 0}},
      {"a local call: r1-r5 are its arguments, r0 its result",
       "mov %r2, 5\n"
       "call local +2\n"
       "add %r0, %r7\n"
       "exit\n"
       "mov %r0, %r2\n"
       "exit\n",
       {regs({1, 2, 3, 4, 5, 7}), regs({0, 7}), regs({0}), 0, regs({0}), 0}},
  };
  for (const LiveCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Program p = assemble_or_fail(c.text);
    ASSERT_EQ(p.insns.size(), c.after.size());
    const Liveness live(p);
    for (size_t k = 0; k < c.after.size(); ++k)
      EXPECT_EQ(live.after(k), c.after[k]) << "after instruction " << k;
  }
}

// Memory of a run: input slots at [0, 64), the stack's copy at [64, 128), a 256-entry u32/u64 table
// at kTable. Programs read r1 = the memory; `{T}` in their text is the table's address.
constexpr size_t kMem = 4096;
constexpr size_t kTable = 1024;

struct FuseCase {
  const char* name;
  const char* text;
  jit::JitProgram::Impl::Fusions want;
};

const std::vector<FuseCase>& fuse_cases() {
  static const std::vector<FuseCase> cases = {
      {"a CRC step: lsh 2, table lddw, add, ldxw into the index",
       "ldxdw %r4, [%r1+0]\n"
       "and %r4, 255\n"
       "lsh %r4, 2\n"
       "lddw %r5, {T}\n"
       "add %r5, %r4\n"
       "ldxw %r4, [%r5+0]\n"
       "mov %r0, %r4\n"
       "exit\n",
       {1, 0, 0, 0}},
      {"the index read after the load: the shift is kept; an offset",
       "ldxdw %r4, [%r1+0]\n"
       "and %r4, 127\n"
       "lsh %r4, 3\n"
       "lddw %r5, {T}\n"
       "add %r5, %r4\n"
       "ldxdw %r0, [%r5+8]\n"
       "add %r0, %r4\n"
       "exit\n",
       {1, 0, 0, 0}},
      {"a kept shift in a loop whose blinded immediates fill every spare register",
       "mov %r0, 0\n"
       "mov %r7, 0\n"
       "mov %r3, %r7\n"
       "lsh %r3, 3\n"
       "mov %r8, %r1\n"
       "add %r8, %r3\n"
       "ldxdw %r8, [%r8+0]\n"
       "add %r0, %r8\n"
       "add %r0, 12345\n"
       "xor %r0, 777\n"
       "or %r0, 65536\n"
       "add %r7, 2\n"
       "jne %r7, 6, -11\n"
       "add %r0, %r3\n"
       "exit\n",
       {1, 0, 0, 0}},
      {"the pointer read after the load: no fusion",
       "ldxdw %r4, [%r1+0]\n"
       "and %r4, 255\n"
       "lsh %r4, 2\n"
       "lddw %r5, {T}\n"
       "add %r5, %r4\n"
       "ldxw %r0, [%r5+0]\n"
       "ldxw %r5, [%r5+4]\n"
       "add %r0, %r5\n"
       "exit\n",
       {0, 0, 0, 0}},
      {"a byte at a variable offset of the input: mov base, no shift",
       "ldxdw %r4, [%r1+0]\n"
       "and %r4, 63\n"
       "mov %r5, %r1\n"
       "add %r5, %r4\n"
       "ldxb %r0, [%r5+64]\n"
       "exit\n",
       {1, 0, 0, 0}},
      {"a half-word of the stack, lsh 1 on r10's copy",
       "ldxdw %r2, [%r1+8]\n"
       "stxdw [%r10-16], %r2\n"
       "ldxdw %r2, [%r1+16]\n"
       "stxdw [%r10-8], %r2\n"
       "ldxdw %r4, [%r1+0]\n"
       "and %r4, 7\n"
       "lsh %r4, 1\n"
       "mov %r5, %r10\n"
       "add %r5, %r4\n"
       "ldxh %r0, [%r5-16]\n"
       "exit\n",
       {1, 0, 0, 0}},
      {"a 32-bit xor copied back: computed in place",
       "ldxdw %r0, [%r1+0]\n"
       "ldxdw %r4, [%r1+8]\n"
       "xor32 %r4, %r0\n"
       "add %r2, 1\n"
       "mov32 %r0, %r4\n"
       "exit\n",
       {0, 1, 0, 0}},
      {"the operation's destination read after the mov: no fusion",
       "ldxdw %r0, [%r1+0]\n"
       "ldxdw %r4, [%r1+8]\n"
       "add %r4, %r0\n"
       "mov %r0, %r4\n"
       "add %r0, %r4\n"
       "exit\n",
       {0, 0, 0, 0}},
      {"a loop-carried product",
       "ldxdw %r0, [%r1+0]\n"
       "mov %r3, 10\n"
       "ldxdw %r4, [%r1+8]\n"
       "mul %r4, %r0\n"
       "mov %r0, %r4\n"
       "sub %r3, 1\n"
       "jne %r3, 0, -5\n"
       "exit\n",
       {0, 1, 0, 0}},
      {"an error code read only on the taken edge",
       "ldxdw %r2, [%r1+0]\n"
       "mov %r0, 7\n"
       "jgt %r2, 100, +1\n"
       "ldxdw %r0, [%r1+8]\n"
       "exit\n",
       {0, 0, 1, 0}},
      {"a constant overwritten before any read",
       "mov %r3, 5\n"
       "ldxdw %r3, [%r1+0]\n"
       "mov %r0, %r3\n"
       "exit\n",
       {0, 0, 0, 1}},
      {"an error code set in a loop before its bounds check (parse_tcp's shape)",
       "ldxb %r2, [%r1+0]\n"
       "and %r2, 31\n"
       "mov %r5, 0\n"
       "mov %r0, 10\n"
       "mov %r6, %r5\n"
       "add %r6, 1\n"
       "jgt %r6, %r2, +3\n"
       "mov %r0, %r5\n"
       "add %r5, 1\n"
       "jlt %r5, 20, -7\n"
       "exit\n",
       {0, 0, 1, 0}},
      {"clang's rotate: the shifts mask their counts themselves",
       "ldxdw %r2, [%r1+8]\n"
       "ldxdw %r0, [%r1+0]\n"
       "mov32 %r3, %r2\n"
       "and32 %r3, 31\n"
       "mov32 %r4, %r0\n"
       "lsh32 %r4, %r3\n"
       "neg32 %r2\n"
       "and32 %r2, 31\n"
       "rsh32 %r0, %r2\n"
       "or32 %r0, %r4\n"
       "exit\n",
       {0, 0, 0, 0, 2, 1}},
      {"masks that keep the count's bits (255 and 63 for a 32-bit shift, 63 for 64-bit)",
       "ldxdw %r2, [%r1+8]\n"
       "ldxdw %r0, [%r1+0]\n"
       "mov %r3, %r2\n"
       "and %r3, 255\n"
       "arsh32 %r0, %r3\n"
       "mov %r3, %r2\n"
       "and32 %r3, 63\n"
       "lsh32 %r0, %r3\n"
       "mov %r3, %r2\n"
       "and %r3, 63\n"
       "rsh %r0, %r3\n"
       "exit\n",
       {0, 0, 0, 0, 3}},
      {"masks that matter: fewer bits, 31 before a 64-bit shift, the count read later, the shifted "
       "register itself",
       "ldxdw %r2, [%r1+8]\n"
       "ldxdw %r0, [%r1+0]\n"
       "mov %r3, %r2\n"
       "and %r3, 15\n"
       "lsh %r0, %r3\n"
       "mov %r3, %r2\n"
       "and %r3, 31\n"
       "rsh %r0, %r3\n"
       "mov %r3, %r2\n"
       "and %r3, 63\n"
       "lsh %r0, %r3\n"
       "add %r0, %r3\n"
       "mov %r3, %r2\n"
       "and %r3, 63\n"
       "lsh %r3, %r3\n"
       "add %r0, %r3\n"
       "exit\n",
       {0, 0, 0, 0, 0}},
      {"mov + shift by a register: one three-operand shift, every width and kind, the count the "
       "destination itself",
       "ldxdw %r2, [%r1+8]\n"
       "ldxdw %r4, [%r1+0]\n"
       "mov %r3, %r4\n"
       "lsh %r3, %r2\n"
       "mov32 %r5, %r4\n"
       "rsh32 %r5, %r2\n"
       "mov %r6, %r4\n"
       "arsh %r6, %r2\n"
       "mov32 %r7, %r4\n"
       "arsh32 %r7, %r2\n"
       "mov %r8, %r2\n"
       "lsh %r8, %r8\n"
       "mov %r0, %r3\n"
       "xor %r0, %r5\n"
       "xor %r0, %r6\n"
       "xor %r0, %r7\n"
       "xor %r0, %r8\n"
       "exit\n",
       {0, 0, 0, 0, 0, 5}},
      {"xorshift in a loop: mov + shift by an immediate, the count held in a register",
       "ldxdw %r1, [%r1+0]\n"
       "mov %r0, 0\n"
       "mov %r3, 100\n"
       "mov %r2, %r1\n"
       "lsh %r2, 13\n"
       "xor %r1, %r2\n"
       "mov32 %r2, %r1\n"
       "rsh32 %r2, 7\n"
       "xor %r1, %r2\n"
       "mov %r2, %r1\n"
       "arsh %r2, 1\n"
       "add %r0, %r2\n"
       "sub %r3, 1\n"
       "jne %r3, 0, -11\n"
       "exit\n",
       {0, 0, 0, 0, 0, 3}},
      {"byte pairs as 16-bit loads: big-endian with the base overwritten last, shifted first, "
       "little-endian",
       "mov %r7, %r1\n"
       "ldxb %r0, [%r7+35]\n"
       "ldxb %r7, [%r7+34]\n"
       "lsh32 %r7, 8\n"
       "or32 %r7, %r0\n"
       "ldxb %r5, [%r1+13]\n"
       "lsh32 %r5, 8\n"
       "ldxb %r3, [%r1+14]\n"
       "or32 %r5, %r3\n"
       "ldxb %r4, [%r1+22]\n"
       "lsh %r4, 8\n"
       "ldxb %r3, [%r1+21]\n"
       "or %r4, %r3\n"
       "mov %r0, %r7\n"
       "lsh %r0, 20\n"
       "xor %r0, %r5\n"
       "lsh %r0, 20\n"
       "xor %r0, %r4\n"
       "exit\n",
       {0, 0, 0, 0, 0, 0, 3}},
      {"byte pairs that are not: the low byte read after, bytes two apart, a sign-extended byte, a "
       "shift by 16",
       "ldxb %r0, [%r1+35]\n"
       "ldxb %r7, [%r1+34]\n"
       "lsh32 %r7, 8\n"
       "or32 %r7, %r0\n"
       "add %r0, %r7\n"
       "ldxb %r5, [%r1+13]\n"
       "lsh32 %r5, 8\n"
       "ldxb %r3, [%r1+15]\n"
       "or32 %r5, %r3\n"
       "add %r0, %r5\n"
       "ldxsb %r6, [%r1+5]\n"
       "lsh %r6, 8\n"
       "ldxb %r3, [%r1+6]\n"
       "or %r6, %r3\n"
       "add %r0, %r6\n"
       "ldxb %r4, [%r1+22]\n"
       "lsh %r4, 16\n"
       "ldxb %r3, [%r1+23]\n"
       "or %r4, %r3\n"
       "add %r0, %r4\n"
       "exit\n",
       {0, 0, 0, 0, 0, 0, 0}},
      {"a constant the taken edge does not read either: dropped",
       "ldxdw %r2, [%r1+0]\n"
       "mov %r3, 9\n"
       "jgt %r2, 100, +1\n"
       "mov %r3, 1\n"
       "mov %r0, %r2\n"
       "exit\n",
       {0, 0, 0, 2}},
  };
  return cases;
}

// One buffer per test, at a fixed address (the table's address is in the program).
class Buffer {
 public:
  explicit Buffer(bool high) {
    if (high) {  // mmap: above 2 GiB, where the table address cannot be a displacement
      void* m = mmap(nullptr, kMem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      EXPECT_NE(m, MAP_FAILED);
      data_ = static_cast<uint8_t*>(m);
      mapped_ = true;
    } else {
      heap_.resize(kMem);
      data_ = heap_.data();
    }
  }
  ~Buffer() {
    if (mapped_) munmap(data_, kMem);
  }
  std::span<uint8_t> span() { return {data_, kMem}; }
  uint64_t table() const { return reinterpret_cast<uint64_t>(data_) + kTable; }

 private:
  std::vector<uint8_t> heap_;
  uint8_t* data_ = nullptr;
  bool mapped_ = false;
};

std::string with_table(const char* text, uint64_t table) {
  std::string s = text;
  const std::string hex = fmt::format("{:#x}", table);
  for (size_t at; (at = s.find("{T}")) != std::string::npos;)
    s.replace(at, 3, hex);
  return s;
}

TEST(JitFusions, EachShapeFusesAsPlannedAndMatchesTheInterpreter) {
  NullEnv env;
  std::mt19937_64 rng(7);
  for (bool high : {false, true}) {
    Buffer buf(high);
    for (const FuseCase& c : fuse_cases()) {
      SCOPED_TRACE(fmt::format("{} ({} buffer)", c.name, high ? "mmap" : "heap"));
      const Program p = assemble_or_fail(with_table(c.text, buf.table()));
      auto interp = interpreter_or_fail(p);
      ASSERT_NE(interp, nullptr);
      struct Built {
        std::string mode;
        std::unique_ptr<jit::JitProgram> prog;
      };
      std::vector<Built> jits;
      for (bool fuse : {true, false})
        for (bool blinding : {true, false}) {
          jit::JitOptions o;
          o.verified = true;
          o.blinding = blinding;
          o.fuse = fuse;
          auto j = jit::JitProgram::compile(p, nullptr, o);
          ASSERT_TRUE(j.ok()) << j.error().to_string();
          const auto& f = (*j)->impl().fusions;
          const auto want = fuse ? c.want : jit::JitProgram::Impl::Fusions{};
          EXPECT_EQ(f.indexed_loads, want.indexed_loads) << "fuse " << fuse << " blinding " << blinding;
          EXPECT_EQ(f.commuted, want.commuted) << "fuse " << fuse << " blinding " << blinding;
          EXPECT_EQ(f.sunk, want.sunk) << "fuse " << fuse << " blinding " << blinding;
          EXPECT_EQ(f.dropped, want.dropped) << "fuse " << fuse << " blinding " << blinding;
          EXPECT_EQ(f.masks, want.masks) << "fuse " << fuse << " blinding " << blinding;
          EXPECT_EQ(f.shifts, want.shifts) << "fuse " << fuse << " blinding " << blinding;
          EXPECT_EQ(f.byte_pairs, want.byte_pairs) << "fuse " << fuse << " blinding " << blinding;
          jits.push_back({fmt::format("fuse {} blinding {}", fuse, blinding), std::move(*j)});
        }
      // The checked JIT never fuses (and checks every access against the buffer).
      jit::JitOptions checked;
      checked.checked = true;
      auto jc = jit::JitProgram::compile(p, nullptr, checked);
      ASSERT_TRUE(jc.ok()) << jc.error().to_string();
      EXPECT_EQ((*jc)->impl().fusions.indexed_loads + (*jc)->impl().fusions.dropped, 0u);
      jits.push_back({"checked", std::move(*jc)});

      std::vector<uint8_t> init(kMem);
      for (int round = 0; round < 64; ++round) {
        for (uint8_t& b : init)
          b = static_cast<uint8_t>(rng());
        std::memcpy(buf.span().data(), init.data(), kMem);
        auto want = interp->run(buf.span(), RunOptions{}, env);
        ASSERT_TRUE(want.ok()) << want.error().to_string();
        const std::vector<uint8_t> want_mem(buf.span().begin(), buf.span().end());
        for (const Built& b : jits) {
          std::memcpy(buf.span().data(), init.data(), kMem);
          auto got = b.prog->run(buf.span(), env);
          ASSERT_TRUE(got.ok()) << b.mode << ": " << got.error().to_string();
          EXPECT_EQ(*got, *want) << b.mode << ", round " << round;
          EXPECT_TRUE(std::equal(want_mem.begin(), want_mem.end(), buf.span().begin())) << b.mode;
        }
      }
    }
  }
}

// Blinding and the fused forms: a table lookup's shift count becomes a scale (two bits of the
// addressing, as 0xff becomes movzx), and the table address stays blinded (no displacement).
TEST(JitFusions, BlindedTableLookupsKeepTheirAddressOutOfTheCode) {
  Buffer buf(false);
  const uint64_t table = buf.table();
  const Program p = assemble_or_fail(with_table(fuse_cases()[0].text, table));
  jit::JitOptions o;
  o.verified = true;
  auto j = jit::JitProgram::compile(p, nullptr, o);
  ASSERT_TRUE(j.ok());
  ASSERT_EQ((*j)->impl().fusions.indexed_loads, 1u);
  const auto code = (*j)->code();
  const uint32_t lo = static_cast<uint32_t>(table);
  for (size_t i = 0; i + 4 <= code.size(); ++i) {
    uint32_t v;
    std::memcpy(&v, code.data() + i, 4);
    EXPECT_NE(v, lo) << "the table address appears at code offset " << i;
  }
}

}  // namespace
}  // namespace bpfvm
