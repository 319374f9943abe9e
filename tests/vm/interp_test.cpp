#include "vm/interp.h"

#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "vm/alu.h"
#include "vm/decode.h"
#include "vm/helper_table.h"

namespace bpfvm {
namespace {

// --- Program building -----------------------------------------------------------------------------

Insn I(Op op, uint8_t dst = 0, uint8_t src = 0, int16_t off = 0, int32_t imm = 0) {
  Insn in;
  in.op = op;
  in.dst = dst;
  in.src = src;
  in.off = off;
  in.imm = imm;
  // The selector field of the row (e.g. the atomic operation in imm) is filled in when left 0.
  const OpInfo& info = op_info(op);
  if (info.sel == Sel::Imm && imm == 0) in.imm = info.selval;
  if (info.sel == Sel::Off && off == 0) in.off = static_cast<int16_t>(info.selval);
  if (info.sel == Sel::Src && src == 0) in.src = static_cast<uint8_t>(info.selval);
  in.imm64 = static_cast<uint64_t>(static_cast<int64_t>(in.imm));
  return in;
}
Insn lddw(uint8_t dst, uint64_t v, Op op = Op::Lddw) {
  Insn in = I(op, dst);
  in.imm = static_cast<int32_t>(static_cast<uint32_t>(v));
  in.imm64 = v;
  return in;
}
// lddw dst, func at relative slot offset `rel` (counted from the slot after the lddw).
Insn lddw_func(uint8_t dst, int32_t rel) {
  Insn in = I(Op::LddwFunc, dst, static_cast<uint8_t>(LddwSrc::Func), 0, rel);
  in.imm64 = static_cast<uint32_t>(rel);
  return in;
}
Insn mov(uint8_t dst, int32_t imm) {
  return I(Op::Mov64Imm, dst, 0, 0, imm);
}
Insn movr(uint8_t dst, uint8_t src) {
  return I(Op::Mov64Reg, dst, src);
}
Insn exit_() {
  return I(Op::Exit);
}
Insn call_local(int32_t rel) {
  return I(Op::CallLocal, 0, 1, 0, rel);
}
Insn call(int32_t id) {
  return I(Op::Call, 0, 0, 0, id);
}

// Runs in checked and unchecked mode on separate copies of `mem`, expects both to succeed with the
// same r0 and the same final memory, and returns r0 (and the final memory in `mem`).
uint64_t run_both(const std::vector<Insn>& insns,
                  std::vector<uint8_t>* mem = nullptr,
                  const HelperTable* helpers = nullptr) {
  Program p = link_or_fail(insns);
  auto vm = interpreter_or_fail(p, helpers);
  if (!vm) return 0xdeadbeef;
  std::vector<uint8_t> m1 = mem ? *mem : std::vector<uint8_t>{};
  std::vector<uint8_t> m2 = m1;
  NullEnv env;
  RunOptions checked;
  RunOptions unchecked;
  unchecked.checked = false;
  Result<uint64_t> a = vm->run(m1, checked, env);
  Result<uint64_t> b = vm->run(m2, unchecked, env);
  EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().to_string());
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().to_string());
  if (!a.ok() || !b.ok()) return 0xdeadbeef;
  EXPECT_EQ(*a, *b) << "checked and unchecked modes disagree";
  EXPECT_EQ(m1, m2) << "checked and unchecked modes leave different memory";
  if (mem) *mem = m1;
  return *a;
}

// Runs in checked mode and returns the fault (or a kInternal error if the run succeeded).
Error run_fault(const std::vector<Insn>& insns,
                RunInput input = {},
                const HelperTable* helpers = nullptr,
                uint64_t budget = 1'000'000,
                RunStats* stats = nullptr) {
  Program p = link_or_fail(insns);
  auto vm = interpreter_or_fail(p, helpers);
  if (!vm) return Error{ErrorCode::kInternal, kNoPc, "no vm"};
  NullEnv env;
  RunOptions o;
  o.budget = budget;
  Result<uint64_t> r = vm->run(input, o, env, stats);
  EXPECT_FALSE(r.ok()) << "expected a fault, got r0 = " << (r.ok() ? *r : 0);
  if (r.ok()) return Error{ErrorCode::kInternal, kNoPc, "no fault"};
  return r.error();
}

// --- ALU ------------------------------------------------------------------------------------------

struct AluCase {
  Op op;
  uint64_t dst;
  uint64_t src;  // register value, or the immediate (low 32 bits) for *Imm rows
  uint64_t expected;
};

constexpr uint64_t kI64Min = 0x8000000000000000ULL;
constexpr uint64_t kNeg1 = ~0ULL;

const AluCase kAluCases[] = {
    {Op::Add64Imm, 1, static_cast<uint32_t>(-1), 0},
    {Op::Add64Reg, kNeg1, 2, 1},
    {Op::Add32Imm, 0x1ffffffffULL, 1, 0},  // wraps in 32 bits, upper half zeroed
    {Op::Add32Reg, 0xabcd00000001ULL, 0xff00000002ULL, 3},
    {Op::Sub64Imm, 0, 1, kNeg1},
    {Op::Sub64Reg, 10, 3, 7},
    {Op::Sub32Imm, 0, 1, 0xffffffffULL},
    {Op::Sub32Reg, 0x500000003ULL, 5, 0xfffffffeULL},
    {Op::Mul64Imm, 3, static_cast<uint32_t>(-2), static_cast<uint64_t>(-6)},
    {Op::Mul64Reg, 0x100000000ULL, 0x100000000ULL, 0},
    {Op::Mul32Imm, 0x100000001ULL, 3, 3},
    {Op::Mul32Reg, 0x80000000ULL, kNeg1, 0x80000000ULL},
    // Division and modulo by zero (RFC 9669 4.1): div gives 0, mod leaves dst (32-bit: zero-extended).
    {Op::Div64Reg, 12345, 0, 0},
    {Op::Div32Reg, 12345, 0x100000000ULL, 0},  // low 32 bits of the divisor are 0
    {Op::Div64Imm, 10, 3, 3},
    {Op::Div64Imm, 10, static_cast<uint32_t>(-1), 0},  // imm sign-extended, then unsigned
    {Op::Div32Imm, 0xffffffff0000000aULL, 3, 3},
    {Op::Div32Reg, 0xffffffffULL, 0x10, 0x0fffffffULL},
    {Op::Mod64Reg, 0x123456789ULL, 0, 0x123456789ULL},
    {Op::Mod32Reg, 0xffffffff00000007ULL, 0, 7},
    {Op::Mod64Imm, 17, 5, 2},
    {Op::Mod32Imm, 0x100000011ULL, 5, 2},
    {Op::Mod32Imm, 0xdead00000011ULL, 0, 0x11},
    // Signed division: truncation toward zero, INT_MIN / -1 does not trap.
    {Op::Sdiv64Reg, kI64Min, kNeg1, kI64Min},
    {Op::Sdiv64Imm, static_cast<uint64_t>(-7), 2, static_cast<uint64_t>(-3)},
    {Op::Sdiv64Imm, 7, static_cast<uint32_t>(-2), static_cast<uint64_t>(-3)},
    {Op::Sdiv64Reg, 5, 0, 0},
    {Op::Sdiv32Reg, 0x80000000ULL, 0xffffffffULL, 0x80000000ULL},
    {Op::Sdiv32Imm, 0xfffffff9ULL, 2, 0xfffffffdULL},
    {Op::Sdiv32Imm, 0x80000000ULL, static_cast<uint32_t>(-1), 0x80000000ULL},
    {Op::Sdiv32Reg, 0xaaaa00000009ULL, 0, 0},
    {Op::Smod64Reg, static_cast<uint64_t>(-7), 2, kNeg1},
    {Op::Smod64Reg, 7, static_cast<uint64_t>(-2), 1},
    {Op::Smod64Reg, kI64Min, kNeg1, 0},
    {Op::Smod64Imm, static_cast<uint64_t>(-7), 0, static_cast<uint64_t>(-7)},
    {Op::Smod64Imm, static_cast<uint64_t>(-7), static_cast<uint32_t>(-3), kNeg1},
    {Op::Smod32Reg, 0xfffffff9ULL, 2, 0xffffffffULL},
    {Op::Smod32Reg, 0x80000000ULL, 0xffffffffULL, 0},
    {Op::Smod32Imm, 0xdeadfffffff9ULL, 0, 0xfffffff9ULL},
    {Op::Smod32Imm, 7, static_cast<uint32_t>(-2), 1},
    {Op::Or64Imm, 0xf0, 0x0f, 0xff},
    {Op::Or64Reg, 0xf000000000000000ULL, 1, 0xf000000000000001ULL},
    {Op::Or32Imm, 0xf0000000000000f0ULL, 0x0f, 0xff},
    {Op::Or32Reg, 0x100000000ULL, 0x200000001ULL, 1},
    {Op::And64Imm, kNeg1, static_cast<uint32_t>(-16), static_cast<uint64_t>(-16)},
    {Op::And64Reg, 0xff00ff, 0x0ff0f0, 0x0f00f0},
    {Op::And32Imm, kNeg1, static_cast<uint32_t>(-16), 0xfffffff0ULL},
    {Op::And32Reg, kNeg1, kNeg1, 0xffffffffULL},
    {Op::Xor64Imm, 0, static_cast<uint32_t>(-1), kNeg1},
    {Op::Xor64Reg, 0x1234, 0x1234, 0},
    {Op::Xor32Imm, 0, static_cast<uint32_t>(-1), 0xffffffffULL},
    {Op::Xor32Reg, 0xff00000000ULL, 1, 1},
    // Shift counts are masked (& 63, & 31).
    {Op::Lsh64Imm, 1, 65, 2},
    {Op::Lsh64Reg, 1, 63, kI64Min},
    {Op::Lsh64Reg, 1, 64, 1},
    {Op::Lsh32Imm, 1, 33, 2},
    {Op::Lsh32Reg, 0x80000001ULL, 1, 2},
    {Op::Lsh32Reg, 1, static_cast<uint64_t>(-1), 0x80000000ULL},
    {Op::Rsh64Imm, kI64Min, 63, 1},
    {Op::Rsh64Reg, kNeg1, 68, 0x0fffffffffffffffULL},
    {Op::Rsh32Imm, 0xffffffff80000000ULL, 4, 0x08000000ULL},
    {Op::Rsh32Reg, 0x80000000ULL, 35, 0x10000000ULL},
    {Op::Arsh64Imm, static_cast<uint64_t>(-16), 2, static_cast<uint64_t>(-4)},
    {Op::Arsh64Reg, kI64Min, 64 + 60, 0xfffffffffffffff8ULL},
    {Op::Arsh32Imm, 0x80000000ULL, 4, 0xf8000000ULL},
    {Op::Arsh32Reg, 0xffffffff40000000ULL, 1, 0x20000000ULL},
    {Op::Arsh32Reg, 0x80000000ULL, 36, 0xf8000000ULL},
    {Op::Neg64, 1, 0, kNeg1},
    {Op::Neg64, kI64Min, 0, kI64Min},
    {Op::Neg32, 1, 0, 0xffffffffULL},
    {Op::Neg32, 0x1280000000ULL, 0, 0x80000000ULL},
    {Op::Mov64Imm, 5, static_cast<uint32_t>(-1), kNeg1},
    {Op::Mov64Reg, 5, 0x123456789abcdef0ULL, 0x123456789abcdef0ULL},
    {Op::Mov32Imm, 5, static_cast<uint32_t>(-1), 0xffffffffULL},
    {Op::Mov32Reg, 5, kNeg1, 0xffffffffULL},
    {Op::Movsx64_8, 0, 0x180, 0xffffffffffffff80ULL},
    {Op::Movsx64_8, 0, 0x17f, 0x7f},
    {Op::Movsx64_16, 0, 0x18000, 0xffffffffffff8000ULL},
    {Op::Movsx64_32, 0, 0x180000000ULL, 0xffffffff80000000ULL},
    {Op::Movsx64_32, 0, 0x7fffffffULL, 0x7fffffffULL},
    {Op::Movsx32_8, 0, 0x1ff, 0xffffffffULL},
    {Op::Movsx32_8, 0, 0x7f, 0x7f},
    {Op::Movsx32_16, 0, 0xffff12348000ULL, 0xffff8000ULL},
    // Byte swaps (RFC 9669 4.2) on a little-endian host.
    {Op::Le16, 0x1122334455667788ULL, 0, 0x7788},
    {Op::Le32, 0x1122334455667788ULL, 0, 0x55667788},
    {Op::Le64, 0x1122334455667788ULL, 0, 0x1122334455667788ULL},
    {Op::Be16, 0x1122334455667788ULL, 0, 0x8877},
    {Op::Be32, 0x1122334455667788ULL, 0, 0x88776655},
    {Op::Be64, 0x1122334455667788ULL, 0, 0x8877665544332211ULL},
    {Op::Bswap16, 0x1122334455667788ULL, 0, 0x8877},
    {Op::Bswap32, 0x1122334455667788ULL, 0, 0x88776655},
    {Op::Bswap64, 0x1122334455667788ULL, 0, 0x8877665544332211ULL},
};

TEST(Interpreter, AluOpsFollowRfc9669InBothModes) {
  for (const AluCase& c : kAluCases) {
    const OpInfo& info = op_info(c.op);
    std::vector<Insn> prog = {lddw(1, c.dst), lddw(2, c.src)};
    switch (info.form) {
      case Form::AluImm:
        prog.push_back(I(c.op, 1, 0, info.sel == Sel::Off ? info.selval : 0,
                         static_cast<int32_t>(static_cast<uint32_t>(c.src))));
        break;
      case Form::AluReg:
        prog.push_back(I(c.op, 1, 2, info.sel == Sel::Off ? info.selval : 0));
        break;
      case Form::End:
        prog.push_back(I(c.op, 1, 0, 0, info.selval));
        break;
      default:
        prog.push_back(I(c.op, 1));
        break;
    }
    prog.push_back(movr(0, 1));
    prog.push_back(exit_());
    EXPECT_EQ(run_both(prog), c.expected)
        << info.mnemonic << " dst=" << std::hex << c.dst << " src=" << c.src;
  }
}

TEST(Interpreter, EveryAluRowHasACase) {
  std::set<Op> covered;
  for (const AluCase& c : kAluCases)
    covered.insert(c.op);
  for (const OpInfo& i : all_ops()) {
    if ((i.cls == OpClass::Alu || i.cls == OpClass::Alu64) && i.form != Form::AddrSpaceCast) {
      EXPECT_TRUE(covered.count(i.op))
          << "no ALU test for " << i.mnemonic << " (op " << static_cast<int>(i.op) << ")";
    }
  }
}

// --- Jumps ----------------------------------------------------------------------------------------

struct JmpCase {
  Op op;
  uint64_t a, b;
  bool taken;
};

const JmpCase kJmpCases[] = {
    {Op::Jeq64Imm, 5, 5, true},
    {Op::Jeq64Imm, kNeg1, static_cast<uint32_t>(-1), true},  // imm sign-extended
    {Op::Jeq64Reg, 0x100000005ULL, 5, false},
    {Op::Jeq32Reg, 0x100000005ULL, 5, true},
    {Op::Jeq32Imm, 0xffffffffULL, static_cast<uint32_t>(-1), true},
    {Op::Jne64Imm, 5, 5, false},
    {Op::Jne64Reg, 1, 2, true},
    {Op::Jne32Imm, 0x700000001ULL, 1, false},
    {Op::Jne32Reg, 1, 2, true},
    {Op::Jgt64Imm, kNeg1, 1, true},  // unsigned
    {Op::Jgt64Reg, 1, kNeg1, false},
    {Op::Jgt32Imm, 0x1000000000ULL, 1, false},
    {Op::Jgt32Reg, 0xffffffffULL, 1, true},
    {Op::Jge64Imm, 5, 5, true},
    {Op::Jge64Reg, 4, 5, false},
    {Op::Jge32Imm, 5, 5, true},
    {Op::Jge32Reg, 0x100000004ULL, 5, false},
    {Op::Jlt64Imm, 1, static_cast<uint32_t>(-1), true},
    {Op::Jlt64Reg, kNeg1, 1, false},
    {Op::Jlt32Imm, 0x500000001ULL, 2, true},
    {Op::Jlt32Reg, 3, 2, false},
    {Op::Jle64Imm, 5, 5, true},
    {Op::Jle64Reg, 6, 5, false},
    {Op::Jle32Imm, 0x100000005ULL, 5, true},
    {Op::Jle32Reg, 6, 5, false},
    {Op::Jset64Imm, 6, 2, true},
    {Op::Jset64Reg, 0x100000000ULL, 0xffffffffULL, false},
    {Op::Jset32Imm, 0x100000000ULL, 1, false},
    {Op::Jset32Reg, 3, 1, true},
    {Op::Jsgt64Imm, 1, static_cast<uint32_t>(-1), true},  // signed
    {Op::Jsgt64Reg, kNeg1, 1, false},
    {Op::Jsgt32Imm, 0xffffffffULL, 1, false},  // -1 as a 32-bit value
    {Op::Jsgt32Reg, 0x7fffffffULL, 0x80000000ULL, true},
    {Op::Jsge64Imm, static_cast<uint64_t>(-3), static_cast<uint32_t>(-3), true},
    {Op::Jsge64Reg, static_cast<uint64_t>(-4), static_cast<uint64_t>(-3), false},
    {Op::Jsge32Imm, 0x80000000ULL, 0, false},
    {Op::Jsge32Reg, 0xffffffff00000000ULL, 0, true},
    {Op::Jslt64Imm, kNeg1, 0, true},
    {Op::Jslt64Reg, 0, kNeg1, false},
    {Op::Jslt32Imm, 0x80000000ULL, 0, true},
    {Op::Jslt32Reg, 0x100000000ULL, 0xffffffffULL, false},
    {Op::Jsle64Imm, static_cast<uint64_t>(-3), static_cast<uint32_t>(-3), true},
    {Op::Jsle64Reg, 1, kNeg1, false},
    {Op::Jsle32Imm, 0xfffffffeULL, static_cast<uint32_t>(-1), true},
    {Op::Jsle32Reg, 0, 0xffffffffULL, false},
};

// Unchecked code runs `mov dst, src` + `add dst, imm|reg` of one width as one fused handler
// (vm/interp.cpp): the same results as the two instructions (run_both compares with checked code,
// which never fuses), including aliasing of the add's register and an add that a jump reaches.
TEST(Interpreter, FusedMovAddPairsGiveTheResultsOfTheTwoInstructions) {
  const struct {
    const char* text;
    uint64_t want;
  } cases[] = {
      {"lddw %r1, 0xfffffffffffffff0\nmov %r0, %r1\nadd %r0, 0x20\nexit", 0x10},
      {"lddw %r1, 0x10\nmov %r0, %r1\nadd %r0, -0x20\nexit", 0xfffffffffffffff0},
      {"lddw %r1, 0x1234567fffffffff\nmov32 %r0, %r1\nadd32 %r0, 2\nexit", 1},
      {"mov %r1, 5\nmov %r2, 7\nmov %r0, %r1\nadd %r0, %r2\nexit", 12},
      {"mov %r1, 5\nmov %r0, %r1\nadd %r0, %r0\nexit", 10},  // the add's register is dst
      {"mov %r1, 5\nmov %r0, %r1\nadd %r0, %r1\nexit", 10},
      {"lddw %r1, 0xffffffff00000003\nlddw %r2, 0x1fffffffe\nmov32 %r0, %r1\nadd32 %r0, %r2\nexit", 1},
      {"mov %r0, 1\nmov %r1, 2\njeq %r1, 2, +1\nmov %r0, %r1\nadd %r0, 40\nexit", 41},  // jump into the add
      {"mov %r1, 3\nmov %r0, %r1\nadd %r1, 4\nexit", 3},    // an add of another register
      {"mov %r1, 3\nmov32 %r0, %r1\nadd %r0, 4\nexit", 7},  // widths differ: not fused
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(run_both(assemble_or_fail(c.text).insns), c.want);
  }
}

TEST(Interpreter, ConditionalJumpsSignedAndUnsigned32And64) {
  for (const JmpCase& c : kJmpCases) {
    const OpInfo& info = op_info(c.op);
    std::vector<Insn> prog = {lddw(1, c.a), lddw(2, c.b)};
    if (info.form == Form::JmpImm)
      prog.push_back(I(c.op, 1, 0, 2, static_cast<int32_t>(static_cast<uint32_t>(c.b))));
    else
      prog.push_back(I(c.op, 1, 2, 2));
    prog.insert(prog.end(), {mov(0, 0), exit_(), mov(0, 1), exit_()});
    EXPECT_EQ(run_both(prog), c.taken ? 1u : 0u) << info.mnemonic << " " << std::hex << c.a << ", " << c.b;
  }
}

// vm/alu.h's generic entry points are the JIT's oracle: they must agree with the same tables.
TEST(AluOracle, EvalAndTakenAgreeWithTheTables) {
  for (const AluCase& c : kAluCases) {
    const OpInfo& info = op_info(c.op);
    uint64_t operand = info.form == Form::AluImm
                           ? static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(c.src)))
                           : c.src;
    EXPECT_EQ(alu::eval(info, c.dst, operand), c.expected) << info.mnemonic;
  }
  for (const JmpCase& c : kJmpCases) {
    const OpInfo& info = op_info(c.op);
    uint64_t operand = info.form == Form::JmpImm
                           ? static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(c.b)))
                           : c.b;
    EXPECT_EQ(alu::taken(info, c.a, operand), c.taken) << info.mnemonic;
  }
}

TEST(Interpreter, UnconditionalJumpsJaAndJa32) {
  // ja +1 skips one instruction; ja32 (gotol) takes its offset from imm.
  EXPECT_EQ(run_both({mov(0, 1), I(Op::Ja, 0, 0, 1), mov(0, 2), I(Op::Ja32, 0, 0, 0, 1), mov(0, 3), exit_()}),
            1u);
}

TEST(Interpreter, LoopSumsNumbers) {
  // r0 = sum(1..100)
  EXPECT_EQ(run_both({mov(0, 0), mov(1, 100), I(Op::Add64Reg, 0, 1), I(Op::Sub64Imm, 1, 0, 0, 1),
                      I(Op::Jne64Imm, 1, 0, -3, 0), exit_()}),
            5050u);
}

// --- Memory ---------------------------------------------------------------------------------------

TEST(Interpreter, LoadsOfEverySizeZeroOrSignExtend) {
  std::vector<uint8_t> mem = {0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88};
  struct {
    Op op;
    uint64_t expected;
  } cases[] = {
      {Op::LdxB, 0x82},
      {Op::LdxH, 0x8382},
      {Op::LdxW, 0x85848382},
      {Op::LdxsB, 0xffffffffffffff82ULL},
      {Op::LdxsH, 0xffffffffffff8382ULL},
      {Op::LdxsW, 0xffffffff85848382ULL},
  };
  for (auto& c : cases) {
    std::vector<uint8_t> m = mem;
    EXPECT_EQ(run_both({I(c.op, 0, 1, 1), exit_()}, &m), c.expected) << op_info(c.op).mnemonic;
  }
  std::vector<uint8_t> m = mem;
  EXPECT_EQ(run_both({I(Op::LdxDw, 0, 1, 0), exit_()}, &m), 0x8887868584838281ULL);
}

TEST(Interpreter, StoresImmediateAndRegisterOfEverySize) {
  std::vector<uint8_t> m(24, 0);
  run_both({lddw(2, 0x1122334455667788ULL), I(Op::StB, 1, 0, 0, 0x1ab), I(Op::StH, 1, 0, 2, 0x1cdef),
            I(Op::StW, 1, 0, 4, -2), I(Op::StDw, 1, 0, 8, -3), I(Op::StxB, 1, 2, 16), I(Op::StxH, 1, 2, 18),
            I(Op::StxW, 1, 2, 20), mov(0, 0), exit_()},
           &m);
  std::vector<uint8_t> expected = {0xab, 0,    0xef, 0xcd, 0xfe, 0xff, 0xff, 0xff,  // stb, sth, stw
                                   0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // stdw: imm sign-extended
                                   0x88, 0,    0x88, 0x77, 0x88, 0x77, 0x66, 0x55};
  EXPECT_EQ(m, expected);
  std::vector<uint8_t> m2(8, 0);
  run_both({lddw(2, 0x1122334455667788ULL), I(Op::StxDw, 1, 2, 0), mov(0, 0), exit_()}, &m2);
  EXPECT_EQ(m2, (std::vector<uint8_t>{0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}));
}

TEST(Interpreter, StackIsZeroedAtRunStartAndUsable) {
  // Read an unwritten stack slot (0), then write and read back.
  EXPECT_EQ(run_both({I(Op::LdxDw, 0, 10, -8), I(Op::StDw, 10, 0, -512, 7), I(Op::LdxDw, 1, 10, -512),
                      I(Op::Add64Reg, 0, 1), exit_()}),
            7u);
  Program p = link_or_fail({I(Op::StDw, 10, 0, -16, 99), I(Op::LdxDw, 0, 10, -8), exit_()});
  auto vm = interpreter_or_fail(p);
  NullEnv env;
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(*vm->run(RunInput{}, RunOptions{}, env), 0u);
}

struct AtomicCase {
  Op op;
  uint64_t mem, src, r0;
  uint64_t mem_after, src_after, r0_after;
};

TEST(Interpreter, AtomicsWithAndWithoutFetch) {
  const uint64_t M = 0xf0f0f0f0f0f0f0f0ULL;
  const uint64_t S = 0x0ff00ff00ff00ff1ULL;
  AtomicCase cases[] = {
      {Op::AtomicAdd64, M, S, 0, M + S, S, 0},
      {Op::AtomicFetchAdd64, M, S, 0, M + S, M, 0},
      {Op::AtomicOr64, M, S, 0, M | S, S, 0},
      {Op::AtomicFetchOr64, M, S, 0, M | S, M, 0},
      {Op::AtomicAnd64, M, S, 0, M & S, S, 0},
      {Op::AtomicFetchAnd64, M, S, 0, M & S, M, 0},
      {Op::AtomicXor64, M, S, 0, M ^ S, S, 0},
      {Op::AtomicFetchXor64, M, S, 0, M ^ S, M, 0},
      {Op::AtomicXchg64, M, S, 0, S, M, 0},
      {Op::AtomicCmpxchg64, M, S, M, S, S, M},  // equal: stores src, r0 = old
      {Op::AtomicCmpxchg64, M, S, 1, M, S, M},  // not equal: memory unchanged, r0 = old
      // 32-bit forms touch the low 4 bytes; fetched values are zero-extended.
      {Op::AtomicAdd32, M, S, 0, 0xf0f0f0f0ULL << 32 | 0x00e100e1ULL, S, 0},
      {Op::AtomicFetchAdd32, M, S, 0, 0xf0f0f0f0ULL << 32 | 0x00e100e1ULL, 0xf0f0f0f0ULL, 0},
      {Op::AtomicOr32, M, S, 0, 0xf0f0f0f0ULL << 32 | 0xfff0fff1ULL, S, 0},
      {Op::AtomicFetchOr32, M, S, 0, 0xf0f0f0f0ULL << 32 | 0xfff0fff1ULL, 0xf0f0f0f0ULL, 0},
      {Op::AtomicAnd32, M, S, 0, 0xf0f0f0f0ULL << 32 | 0x00f000f0ULL, S, 0},
      {Op::AtomicFetchAnd32, M, S, 0, 0xf0f0f0f0ULL << 32 | 0x00f000f0ULL, 0xf0f0f0f0ULL, 0},
      {Op::AtomicXor32, M, S, 0, 0xf0f0f0f0ULL << 32 | 0xff00ff01ULL, S, 0},
      {Op::AtomicFetchXor32, M, S, 0, 0xf0f0f0f0ULL << 32 | 0xff00ff01ULL, 0xf0f0f0f0ULL, 0},
      {Op::AtomicXchg32, M, S, 0, 0xf0f0f0f0ULL << 32 | 0x0ff00ff1ULL, 0xf0f0f0f0ULL, 0},
      {Op::AtomicCmpxchg32, M, S, 0xabcdf0f0f0f0ULL, 0xf0f0f0f0ULL << 32 | 0x0ff00ff1ULL, S, 0xf0f0f0f0ULL},
      {Op::AtomicCmpxchg32, M, S, 5, M, S, 0xf0f0f0f0ULL},
  };
  for (const AtomicCase& c : cases) {
    std::vector<uint8_t> m(16, 0);
    std::memcpy(m.data() + 8, &c.mem, 8);
    // r2 = src, r0 = r0; lock op [r1+8], r2; store r2 at [r1+0]; return r0
    uint64_t r0 =
        run_both({lddw(2, c.src), lddw(0, c.r0), I(c.op, 1, 2, 8), I(Op::StxDw, 1, 2, 0), exit_()}, &m);
    uint64_t mem_after, src_after;
    std::memcpy(&src_after, m.data(), 8);
    std::memcpy(&mem_after, m.data() + 8, 8);
    const char* name = op_info(c.op).mnemonic.data();
    EXPECT_EQ(mem_after, c.mem_after) << name;
    EXPECT_EQ(src_after, c.src_after) << name;
    EXPECT_EQ(r0, c.r0_after) << name;
  }
}

TEST(Interpreter, AtomicsAreAtomicAcrossThreads) {
  Program p =
      link_or_fail({mov(2, 1), mov(3, 0), I(Op::AtomicAdd64, 1, 2, 0), I(Op::AtomicAdd32, 1, 2, 8),
                    I(Op::Add64Imm, 3, 0, 0, 1), I(Op::Jne64Imm, 3, 0, -4, 20000), mov(0, 0), exit_()});
  auto vm = interpreter_or_fail(p);
  std::vector<uint8_t> mem(16, 0);
  auto worker = [&](bool checked) {
    NullEnv env;
    RunOptions o;
    o.checked = checked;
    EXPECT_TRUE(vm->run(mem, o, env).ok());
  };
  std::thread a(worker, true), b(worker, false);
  a.join();
  b.join();
  uint64_t v64;
  uint32_t v32;
  std::memcpy(&v64, mem.data(), 8);
  std::memcpy(&v32, mem.data() + 8, 4);
  EXPECT_EQ(v64, 40000u);
  EXPECT_EQ(v32, 40000u);
}

TEST(Interpreter, LoadAcquireAndStoreRelease) {
  std::vector<uint8_t> m = {0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0, 0, 0, 0, 0, 0, 0, 0};
  uint64_t r0 = run_both({I(Op::LoadAcquireB, 2, 1, 0, 0x100), I(Op::LoadAcquireH, 3, 1, 0, 0x100),
                          I(Op::LoadAcquireW, 4, 1, 0, 0x100), I(Op::LoadAcquireDw, 5, 1, 0, 0x100),
                          I(Op::StoreReleaseB, 1, 2, 8, 0x110), I(Op::StoreReleaseH, 1, 3, 10, 0x110),
                          I(Op::StoreReleaseW, 1, 4, 12, 0x110), movr(0, 5), exit_()},
                         &m);
  EXPECT_EQ(r0, 0x8887868584838281ULL);
  EXPECT_EQ(m, (std::vector<uint8_t>{0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x81, 0, 0x81, 0x82,
                                     0x81, 0x82, 0x83, 0x84}));
  std::vector<uint8_t> m2(8, 0);
  run_both({lddw(2, 0x0102030405060708ULL), I(Op::StoreReleaseDw, 1, 2, 0, 0x110), mov(0, 0), exit_()}, &m2);
  EXPECT_EQ(m2, (std::vector<uint8_t>{8, 7, 6, 5, 4, 3, 2, 1}));
}

TEST(Interpreter, LddwLoadsImm64AsIs) {
  EXPECT_EQ(run_both({lddw(0, 0x123456789abcdef0ULL), exit_()}), 0x123456789abcdef0ULL);
  EXPECT_EQ(run_both({lddw(0, 0xfeedULL, Op::LddwMapFd), exit_()}), 0xfeedULL);
  EXPECT_EQ(run_both({lddw(0, 0x7fff00001000ULL, Op::LddwMapValue), exit_()}), 0x7fff00001000ULL);
}

TEST(Interpreter, LegacyPacketLoadsAreBigEndianAndEndTheProgramWithZeroOutOfBounds) {
  std::vector<uint8_t> pkt = {0x10, 0x20, 0x30, 0x40, 0x50, 0x60};
  EXPECT_EQ(run_both({I(Op::LdAbsB, 0, 0, 0, 1), exit_()}, &pkt), 0x20u);
  EXPECT_EQ(run_both({I(Op::LdAbsH, 0, 0, 0, 1), exit_()}, &pkt), 0x2030u);
  EXPECT_EQ(run_both({I(Op::LdAbsW, 0, 0, 0, 2), exit_()}, &pkt), 0x30405060u);
  EXPECT_EQ(run_both({mov(6, 3), I(Op::LdIndH, 0, 6, 0, 1), exit_()}, &pkt), 0x5060u);
  // Helper-call convention: r1-r5 are clobbered (zeroed).
  EXPECT_EQ(run_both({mov(2, 9), I(Op::LdAbsB, 0, 0, 0, 0), movr(0, 2), exit_()}, &pkt), 0u);
  // Out of bounds: the whole program ends with r0 = 0, in both modes, even inside a subprogram.
  EXPECT_EQ(run_both({I(Op::LdAbsW, 0, 0, 0, 3), mov(0, 7), exit_()}, &pkt), 0u);
  EXPECT_EQ(run_both({mov(6, -1), I(Op::LdIndB, 0, 6, 0, 0), mov(0, 7), exit_()}, &pkt), 0u);
  EXPECT_EQ(
      run_both({mov(0, 5), call_local(1), exit_(), I(Op::LdAbsB, 0, 0, 0, 100), mov(0, 7), exit_()}, &pkt),
      0u);
  // A region named "packet" is preferred over the first region.
  Program p = link_or_fail({I(Op::LdAbsB, 0, 0, 0, 0), exit_()});
  auto vm = interpreter_or_fail(p);
  uint8_t a = 1, b = 2;
  RunInput in;
  in.regions = {MemRegion{reinterpret_cast<uint64_t>(&a), 1, true, "ctx"},
                MemRegion{reinterpret_cast<uint64_t>(&b), 1, false, "packet"}};
  NullEnv env;
  EXPECT_EQ(*vm->run(in, RunOptions{}, env), 2u);
}

// --- Calls ----------------------------------------------------------------------------------------

TEST(Interpreter, LocalCallPassesR1ToR5AndPreservesR6ToR9) {
  std::vector<Insn> prog = {
      mov(1, 1), mov(2, 2), mov(3, 3), mov(4, 4), mov(5, 5), mov(6, 6), mov(7, 7), mov(8, 8), mov(9, 9),
      call_local(9),  // index 9 -> func at index 19
      // r0 = r0 * 10000 + r6 * 1000 + r7 * 100 + r8 * 10 + r9
      I(Op::Mul64Imm, 0, 0, 0, 10000), I(Op::Mul64Imm, 6, 0, 0, 1000), I(Op::Mul64Imm, 7, 0, 0, 100),
      I(Op::Mul64Imm, 8, 0, 0, 10), I(Op::Add64Reg, 0, 6), I(Op::Add64Reg, 0, 7), I(Op::Add64Reg, 0, 8),
      I(Op::Add64Reg, 0, 9), exit_(),
      // func: r0 = r1 + ... + r5, then clobber r6-r9
      mov(0, 0), I(Op::Add64Reg, 0, 1), I(Op::Add64Reg, 0, 2), I(Op::Add64Reg, 0, 3), I(Op::Add64Reg, 0, 4),
      I(Op::Add64Reg, 0, 5), mov(6, 0), mov(7, 0), mov(8, 0), mov(9, 0), exit_()};
  EXPECT_EQ(run_both(prog), 15u * 10000 + 6000 + 700 + 80 + 9);
}

TEST(Interpreter, LocalCallGetsAFreshFrameBelowTheCaller) {
  // main: [r10-8] = 42; r6 = r10; call f; r0 = [r10-8] * 1000 + (r6 - r0_from_f)
  // f: [r10-8] = 7; r0 = r10; exit
  std::vector<Insn> prog = {I(Op::StDw, 10, 0, -8, 42), movr(6, 10), call_local(5), I(Op::Sub64Reg, 6, 0),
                            I(Op::LdxDw, 0, 10, -8), I(Op::Mul64Imm, 0, 0, 0, 1000), I(Op::Add64Reg, 0, 6),
                            exit_(),
                            // f
                            I(Op::StDw, 10, 0, -8, 7), movr(0, 10), exit_()};
  EXPECT_EQ(run_both(prog), 42u * 1000 + kStackSize);
  // The callee may read its caller's frame (r10 + 8 in the callee is inside the caller's frame).
  std::vector<Insn> prog2 = {I(Op::StDw, 10, 0, -504, 77), call_local(1), exit_(), I(Op::LdxDw, 0, 10, 8),
                             exit_()};
  EXPECT_EQ(run_both(prog2), 77u);
}

// f(r1): r0 += 1; if r1 != 0 { r1 -= 1; f(r1) }. Called from main with r1 = n: n + 2 frames.
std::vector<Insn> recursion(int32_t n) {
  return {mov(1, n),
          mov(0, 0),
          call_local(1),
          exit_(),
          I(Op::Add64Imm, 0, 0, 0, 1),
          I(Op::Jeq64Imm, 1, 0, 2, 0),
          I(Op::Sub64Imm, 1, 0, 0, 1),
          call_local(-4),
          exit_()};
}

TEST(Interpreter, RecursionUpToEightFramesRunsAndNineFault) {
  EXPECT_EQ(run_both(recursion(6)), 7u);  // 8 frames
  Error e = run_fault(recursion(7));      // 9 frames
  EXPECT_EQ(e.code, ErrorCode::kCallDepth);
  EXPECT_EQ(e.pc, 7u);
  EXPECT_NE(e.msg.find("call depth exceeds 8 frames"), std::string::npos) << e.msg;
  // Unchecked mode enforces the depth too (the frame array is host memory).
  Program p = link_or_fail(recursion(7));
  auto vm = interpreter_or_fail(p);
  NullEnv env;
  RunOptions o;
  o.checked = false;
  auto r = vm->run(RunInput{}, o, env);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCallDepth);
}

uint64_t add_helper(HelperCall& call, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e) {
  return a + b + c + d + e;
}
uint64_t failing_helper(HelperCall& call, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  call.fail("bad argument");
  return 0;
}
// r1 = pointer, r2 = length: returns 1 when translate() accepts it for writing, 0 for reading only.
uint64_t probe_helper(HelperCall& call, uint64_t p, uint64_t n, uint64_t, uint64_t, uint64_t) {
  if (call.translate(p, n, true)) return 2;
  if (call.translate(p, n, false)) return 1;
  return 0;
}

HelperTable test_helpers() {
  HelperTable t;
  EXPECT_TRUE(t.add(1, "add", add_helper).ok());
  EXPECT_TRUE(t.add(2, "fail", failing_helper).ok());
  EXPECT_TRUE(t.add(3, "probe", probe_helper).ok());
  EXPECT_TRUE(t.add(100000, "add_sparse", add_helper).ok());
  return t;
}

TEST(Interpreter, HelperCallsPassR1ToR5AndZeroThemAfter) {
  HelperTable h = test_helpers();
  EXPECT_EQ(run_both({mov(1, 1), mov(2, 2), mov(3, 3), mov(4, 4), mov(5, 5), call(1), exit_()}, nullptr, &h),
            15u);
  EXPECT_EQ(run_both({mov(1, 1), mov(2, 2), call(100000), exit_()}, nullptr, &h), 3u);
  EXPECT_EQ(run_both({mov(1, 1), mov(6, 6), call(1), I(Op::Add64Reg, 0, 1), I(Op::Add64Reg, 0, 2),
                      I(Op::Add64Reg, 0, 3), I(Op::Add64Reg, 0, 4), I(Op::Add64Reg, 0, 5),
                      I(Op::Add64Reg, 0, 6), exit_()},
                     nullptr, &h),
            7u);
}

TEST(Interpreter, HelperTranslateSeesTheLiveStackAndRegions) {
  HelperTable h = test_helpers();
  std::vector<uint8_t> m(16);
  EXPECT_EQ(run_both({movr(1, 10), I(Op::Add64Imm, 1, 0, 0, -16), mov(2, 16), call(3), exit_()}, &m, &h), 2u);
  EXPECT_EQ(run_both({movr(1, 10), I(Op::Add64Imm, 1, 0, 0, -8), mov(2, 16), call(3), exit_()}, &m, &h), 0u);
  EXPECT_EQ(run_both({mov(2, 16), call(3), exit_()}, &m, &h), 2u);
  EXPECT_EQ(run_both({mov(2, 17), call(3), exit_()}, &m, &h), 0u);
  // In a subprogram, the caller's frame is live; below the callee's frame is not.
  EXPECT_EQ(run_both({call_local(1), exit_(), movr(1, 10), I(Op::Add64Imm, 1, 0, 0, 8), mov(2, 8), call(3),
                      exit_()},
                     &m, &h),
            2u);
  EXPECT_EQ(run_both({call_local(1), exit_(), movr(1, 10), I(Op::Add64Imm, 1, 0, 0, -520), mov(2, 8), call(3),
                      exit_()},
                     &m, &h),
            0u);
}

TEST(Interpreter, HelperFailureEndsTheRun) {
  HelperTable h = test_helpers();
  Error e = run_fault({mov(0, 0), call(2), exit_()}, {}, &h);
  EXPECT_EQ(e.code, ErrorCode::kHelperFault);
  EXPECT_EQ(e.pc, 1u);
  EXPECT_NE(e.msg.find("bad argument"), std::string::npos) << e.msg;
}

TEST(Interpreter, UnknownHelperFaultsWithItsNumber) {
  HelperTable h = test_helpers();
  Error e = run_fault({mov(0, 0), call(9999), exit_()}, {}, &h);
  EXPECT_EQ(e.code, ErrorCode::kUnknownHelper);
  EXPECT_EQ(e.pc, 1u);
  EXPECT_NE(e.msg.find("9999"), std::string::npos) << e.msg;
  Error e2 = run_fault({call(1), exit_()}, {}, nullptr);  // no helper table at all
  EXPECT_EQ(e2.code, ErrorCode::kUnknownHelper);
}

TEST(Interpreter, CallxCallsAHelperByNumber) {
  HelperTable h = test_helpers();
  EXPECT_EQ(run_both({mov(1, 3), mov(2, 4), mov(6, 1), I(Op::Callx, 6), exit_()}, nullptr, &h), 7u);
}

TEST(Interpreter, CallxCallsASubprogramLoadedWithLddwFunc) {
  // lddw r6, func (slots 0-1, target slot 5 = 2 + 3); r1 = 5; callx r6; exit; func: r0 = r1 + 1
  std::vector<Insn> prog = {
      lddw_func(6, 4), mov(1, 5), I(Op::Callx, 6), exit_(), movr(0, 1), I(Op::Add64Imm, 0, 0, 0, 1), exit_()};
  EXPECT_EQ(run_both(prog), 6u);
  // The same value in both modes and across runs.
  Program p = link_or_fail({lddw_func(0, 2), exit_(), mov(0, 1), exit_()});
  auto vm = interpreter_or_fail(p);
  NullEnv env;
  RunOptions u;
  u.checked = false;
  uint64_t a = *vm->run(RunInput{}, RunOptions{}, env);
  uint64_t b = *vm->run(RunInput{}, u, env);
  EXPECT_EQ(a, b);
  EXPECT_GT(a, 0xffffffffULL);  // never confused with a helper number
}

TEST(Interpreter, CallxOfAnythingElseFaults) {
  HelperTable h = test_helpers();
  Error e = run_fault({mov(6, 12345), I(Op::Callx, 6), exit_()}, {}, &h);
  EXPECT_EQ(e.code, ErrorCode::kBadCallTarget);
  EXPECT_EQ(e.pc, 1u);
  EXPECT_NE(e.msg.find("0x3039"), std::string::npos) << e.msg;
  // An lddw func token off by one is not a function either.
  Error e2 = run_fault(
      {lddw_func(6, 4), I(Op::Add64Imm, 6, 0, 0, 1), I(Op::Callx, 6), exit_(), mov(0, 1), exit_()}, {}, &h);
  EXPECT_EQ(e2.code, ErrorCode::kBadCallTarget);
  // A token of an instruction that is not a function entry.
  Error e3 = run_fault(
      {lddw_func(6, 4), I(Op::Sub64Imm, 6, 0, 0, 1), I(Op::Callx, 6), exit_(), mov(0, 1), exit_()}, {}, &h);
  EXPECT_EQ(e3.code, ErrorCode::kBadCallTarget);
}

TEST(Interpreter, KfuncCallsFaultAsUnsupported) {
  Error e = run_fault({mov(0, 0), I(Op::CallKfunc, 0, 2, 0, 1234), exit_()});
  EXPECT_EQ(e.code, ErrorCode::kUnsupported);
  EXPECT_EQ(e.pc, 1u);
}

// --- Checked-mode faults --------------------------------------------------------------------------

TEST(CheckedMode, StoreBelowTheFrameFaults) {
  Error e = run_fault({mov(0, 0), I(Op::StDw, 10, 0, -520, 1), exit_()});
  EXPECT_EQ(e.code, ErrorCode::kOutOfBounds);
  EXPECT_EQ(e.pc, 1u);
  EXPECT_NE(e.msg.find("store of 8 bytes at 0x"), std::string::npos) << e.msg;
  EXPECT_NE(e.msg.find("(r10-520)"), std::string::npos) << e.msg;
  EXPECT_NE(e.msg.find("hits no region"), std::string::npos) << e.msg;
  // A callee cannot write below its own frame either.
  Error e2 = run_fault({call_local(1), exit_(), I(Op::StB, 10, 0, -513, 1), exit_()});
  EXPECT_EQ(e2.code, ErrorCode::kOutOfBounds);
  EXPECT_EQ(e2.pc, 2u);
}

TEST(CheckedMode, LoadAboveTheStackTopFaults) {
  Error e = run_fault({I(Op::LdxDw, 0, 10, -4), exit_()});
  EXPECT_EQ(e.code, ErrorCode::kOutOfBounds);
  EXPECT_EQ(e.pc, 0u);
  EXPECT_NE(e.msg.find("load of 8 bytes"), std::string::npos) << e.msg;
  EXPECT_NE(e.msg.find("(r10-4)"), std::string::npos) << e.msg;
  Error e2 = run_fault({I(Op::LdxB, 0, 10, 0), exit_()});
  EXPECT_EQ(e2.code, ErrorCode::kOutOfBounds);
}

RunInput input_region(std::vector<uint8_t>& mem, bool writable) {
  RunInput in;
  in.args[0] = reinterpret_cast<uint64_t>(mem.data());
  in.args[1] = mem.size();
  in.regions.push_back(MemRegion{reinterpret_cast<uint64_t>(mem.data()), mem.size(), writable, "input"});
  return in;
}

TEST(CheckedMode, InputRegionAccessesOutsideFault) {
  std::vector<uint8_t> mem(16);
  struct {
    Insn insn;
    const char* what;
  } cases[] = {
      {I(Op::LdxB, 0, 1, -1), "load of 1 bytes"},     // before
      {I(Op::LdxB, 0, 1, 16), "load of 1 bytes"},     // after
      {I(Op::LdxW, 0, 1, 14), "load of 4 bytes"},     // straddling the end
      {I(Op::StxDw, 1, 1, 9), "store of 8 bytes"},    // straddling the end
      {I(Op::StW, 1, 0, -2, 0), "store of 4 bytes"},  // straddling the start
      {I(Op::AtomicAdd64, 1, 1, 16), "store of 8 bytes"},
  };
  for (auto& c : cases) {
    Error e = run_fault({mov(0, 0), c.insn, exit_()}, input_region(mem, true));
    EXPECT_EQ(e.code, ErrorCode::kOutOfBounds) << c.what;
    EXPECT_EQ(e.pc, 1u);
    EXPECT_NE(e.msg.find(c.what), std::string::npos) << e.msg;
    EXPECT_NE(e.msg.find("input"), std::string::npos) << e.msg;
  }
  // The last byte and the whole region are fine.
  Program p = link_or_fail({I(Op::LdxB, 0, 1, 15), I(Op::LdxDw, 2, 1, 8), exit_()});
  auto vm = interpreter_or_fail(p);
  NullEnv env;
  mem[15] = 9;
  EXPECT_EQ(*vm->run(input_region(mem, true), RunOptions{}, env), 9u);
}

TEST(CheckedMode, StoreIntoReadOnlyRegionFaults) {
  std::vector<uint8_t> mem(16, 3);
  Error e = run_fault({I(Op::StB, 1, 0, 4, 1), exit_()}, input_region(mem, false));
  EXPECT_EQ(e.code, ErrorCode::kOutOfBounds);
  EXPECT_NE(e.msg.find("read-only region 'input'"), std::string::npos) << e.msg;
  EXPECT_EQ(mem[4], 3);
  // Loading from it is fine.
  Program p = link_or_fail({I(Op::LdxB, 0, 1, 4), exit_()});
  auto vm = interpreter_or_fail(p);
  NullEnv env;
  EXPECT_EQ(*vm->run(input_region(mem, false), RunOptions{}, env), 3u);
}

TEST(CheckedMode, BudgetRunsOutOnAnInfiniteLoop) {
  RunStats stats;
  Error e = run_fault({mov(0, 0), I(Op::Ja, 0, 0, -2)}, {}, nullptr, 1000, &stats);
  EXPECT_EQ(e.code, ErrorCode::kBudgetExhausted);
  EXPECT_NE(e.msg.find("1000"), std::string::npos) << e.msg;
  EXPECT_EQ(stats.insns_executed, 1000u);
}

TEST(CheckedMode, CountsExecutedInstructions) {
  Program p = link_or_fail({mov(0, 0), mov(1, 10), I(Op::Add64Imm, 0, 0, 0, 1), I(Op::Sub64Imm, 1, 0, 0, 1),
                            I(Op::Jne64Imm, 1, 0, -3, 0), exit_()});
  auto vm = interpreter_or_fail(p);
  NullEnv env;
  RunStats stats;
  EXPECT_EQ(*vm->run(RunInput{}, RunOptions{}, env, &stats), 10u);
  EXPECT_EQ(stats.insns_executed, 2u + 10 * 3 + 1);
  RunOptions exact;
  exact.budget = 33;
  EXPECT_TRUE(vm->run(RunInput{}, exact, env).ok());
  exact.budget = 32;
  EXPECT_EQ(vm->run(RunInput{}, exact, env).error().code, ErrorCode::kBudgetExhausted);
}

TEST(Interpreter, CreateRejectsUnsupportedInstructions) {
  DecodeOptions o;
  o.allow_unsupported = true;
  auto p = link({I(Op::MayGoto, 0, 0, 0), mov(0, 0), exit_()}, o);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  auto vm = Interpreter::create(*p, nullptr);
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(vm.error().pc, 0u);
}

TEST(Interpreter, RunsProgramsFromDecodedBytes) {
  // mov r0, 1; add r0, 2; exit
  std::vector<uint8_t> bytes = {0xb7, 0, 0, 0, 1,    0, 0, 0, 0x07, 0, 0, 0,
                                2,    0, 0, 0, 0x95, 0, 0, 0, 0,    0, 0, 0};
  auto p = decode(bytes);
  ASSERT_TRUE(p.ok());
  auto vm = interpreter_or_fail(*p);
  NullEnv env;
  EXPECT_EQ(*vm->run(RunInput{}, RunOptions{}, env), 3u);
}

// --- Robustness -----------------------------------------------------------------------------------

// Which raw fields an instruction form uses (the decoder rejects non-zero unused fields).
struct UsedFields {
  bool dst, src, off, imm;
};
UsedFields used_fields(Form f) {
  switch (f) {
    case Form::AluImm:
      return {true, false, false, true};
    case Form::AluReg:
      return {true, true, false, false};
    case Form::AluNeg:
    case Form::End:
    case Form::Callx:
      return {true, false, false, false};
    case Form::Ja:
    case Form::MayGoto:
      return {false, false, true, false};
    case Form::Ja32:
    case Form::Call:
    case Form::CallLocal:
    case Form::LdAbs:
      return {false, false, false, true};
    case Form::CallKfunc:
      return {false, false, true, true};
    case Form::JmpImm:
    case Form::St:
      return {true, false, true, true};
    case Form::JmpReg:
    case Form::Ldx:
    case Form::Stx:
    case Form::Atomic:
    case Form::LoadAcquire:
    case Form::StoreRelease:
      return {true, true, true, false};
    case Form::Lddw:
      return {true, false, false, true};
    case Form::LdInd:
      return {false, true, false, true};
    case Form::AddrSpaceCast:
      return {true, true, false, true};
    case Form::Exit:
      return {false, false, false, false};
  }
  return {};
}

TEST(Robustness, RandomValidProgramsNeverCrashInCheckedMode) {
  std::mt19937_64 rng(12345);
  HelperTable h = test_helpers();
  std::vector<const OpInfo*> rows;
  for (const OpInfo& i : all_ops())
    if (i.form != Form::MayGoto && i.form != Form::AddrSpaceCast && i.op != Op::LddwFunc) rows.push_back(&i);
  auto reg = [&] {  // biased toward the pointers r1 and r10
    uint64_t x = rng() % 16;
    return static_cast<uint8_t>(x < 3 ? 1 : x < 6 ? 10 : x % 10);
  };
  int accepted = 0, faults = 0;
  for (int iter = 0; iter < 40000 && accepted < 3000; ++iter) {
    size_t n = 2 + rng() % 24;
    std::vector<uint8_t> bytes;
    for (size_t k = 0; k < n; ++k) {
      const OpInfo& i = *rows[rng() % rows.size()];
      UsedFields u = used_fields(i.form);
      RawInsn raw{};
      raw.opcode = i.opcode;
      if (u.dst) raw.dst = reg();
      if (u.src) raw.src = reg();
      if (u.off) raw.off = static_cast<int16_t>(static_cast<int>(rng() % 17) - 8);
      if (u.imm) raw.imm = static_cast<int32_t>(rng() % 4 == 0 ? rng() : (rng() % 24) - 8);
      if (i.form == Form::Call) raw.imm = static_cast<int32_t>(rng() % 5);
      if (i.sel == Sel::Off) raw.off = static_cast<int16_t>(i.selval);
      if (i.sel == Sel::Imm) raw.imm = i.selval;
      if (i.sel == Sel::Src) raw.src = static_cast<uint8_t>(i.selval);
      uint8_t b[8];
      std::memcpy(b, &raw, 8);
      bytes.insert(bytes.end(), b, b + 8);
      if (i.form == Form::Lddw) {
        uint8_t hi[8] = {0, 0, 0, 0, static_cast<uint8_t>(rng()), 0, 0, 0};
        bytes.insert(bytes.end(), hi, hi + 8);
      }
    }
    uint8_t ex[8] = {0x95, 0, 0, 0, 0, 0, 0, 0};
    bytes.insert(bytes.end(), ex, ex + 8);
    auto p = decode(bytes);
    if (!p.ok()) continue;
    auto vm = Interpreter::create(*p, &h);
    if (!vm.ok()) continue;
    ++accepted;
    std::vector<uint8_t> mem(64, 0x5a);
    NullEnv env;
    RunOptions o;
    o.budget = 2000;
    auto r = (*vm)->run(mem, o, env);
    if (!r.ok()) ++faults;
  }
  EXPECT_GE(accepted, 1000) << "the generator should produce mostly decodable programs";
  EXPECT_GT(faults, 0);
  EXPECT_LT(faults, accepted);
}

}  // namespace
}  // namespace bpfvm

namespace bpfvm {
namespace {

// The permissions of the mapping holding `addr` in /proc/self/maps ("r--", "rw-", ...), or "".
std::string mapping_perms(const void* addr) {
  const auto a = reinterpret_cast<uint64_t>(addr);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    uint64_t lo = 0, hi = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) == 3 && a >= lo && a < hi)
      return std::string(perms, 3);
  }
  return "";
}

TEST(Interpreter, ThePredecodedProgramIsReadOnlyFromCreationOn) {
  Program p = link_or_fail({mov(0, 7), exit_()});
  auto vm = interpreter_or_fail(p);
  ASSERT_TRUE(vm);
  EXPECT_EQ(mapping_perms(vm->predecoded()), "r--");
  NullEnv env;
  std::vector<uint8_t> mem;
  auto r = vm->run(mem, RunOptions{}, env);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 7u);
}

}  // namespace
}  // namespace bpfvm
