#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "vm/asm.h"
#include "vm/data_file.h"
#include "vm/decode.h"

namespace bpfvm {
namespace {

// One encoded slot.
std::vector<uint8_t> slot(uint8_t opcode, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  RawInsn r{};
  r.opcode = opcode;
  r.dst = dst & 0xf;
  r.src = src & 0xf;
  r.off = off;
  r.imm = imm;
  std::vector<uint8_t> b(8);
  std::memcpy(b.data(), &r, 8);
  return b;
}

std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

const std::vector<uint8_t> kExit = slot(0x95, 0, 0, 0, 0);

std::vector<uint8_t> assemble_bytes(std::string_view text, const AsmOptions& opts = {}) {
  Result<AsmOutput> r = assemble(text, opts);
  EXPECT_TRUE(r.ok()) << text << "\n-> " << (r.ok() ? "" : r.error().to_string());
  if (!r) return {};
  return encode(r->program.insns);
}

// ---- The conformance suite ----

TEST(Assembler, AssemblesEveryConformanceProgram) {
  std::vector<std::string> files = conformance_files();
  ASSERT_EQ(files.size(), 313u);
  int ok = 0;
  for (const std::string& path : files) {
    Result<DataFile> f = parse_data_file(read_text(path));
    ASSERT_TRUE(f.ok()) << path << ": " << f.error().to_string();
    Result<AsmOutput> a = assemble(f->asm_text);
    EXPECT_TRUE(a.ok()) << path << ": " << (a.ok() ? "" : a.error().to_string());
    if (a.ok()) {
      ++ok;
      EXPECT_TRUE(a->map_refs.empty());
      // The assembled program decodes back to itself.
      std::vector<uint8_t> bytes = encode(a->program.insns);
      Result<Program> d = decode(bytes);
      ASSERT_TRUE(d.ok()) << path << ": " << d.error().to_string();
      EXPECT_EQ(encode(d->insns), bytes) << path;
    }
  }
  EXPECT_EQ(ok, 313);
}

TEST(Assembler, LddwFileAsmMatchesItsRawSection) {
  Result<DataFile> f = parse_data_file(read_text(shared_dir() + "/conformance/tests/lddw.data"));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->raw_bytes.has_value());
  EXPECT_EQ(assemble_bytes(f->asm_text), *f->raw_bytes);
}

// ---- Syntax of the conformance suite ----

TEST(Assembler, AluImmediateAndRegisterForms) {
  EXPECT_EQ(assemble_bytes("add %r1, 5\nexit"), cat({slot(0x07, 1, 0, 0, 5), kExit}));
  EXPECT_EQ(assemble_bytes("add %r1, %r2\nexit"), cat({slot(0x0f, 1, 2, 0, 0), kExit}));
  EXPECT_EQ(assemble_bytes("add32 %r1, -1\nexit"), cat({slot(0x04, 1, 0, 0, -1), kExit}));
  EXPECT_EQ(assemble_bytes("mov32 %r1, 0xffffffff\nexit"), cat({slot(0xb4, 1, 0, 0, -1), kExit}));
  EXPECT_EQ(assemble_bytes("sdiv %r1, %r2\nexit"), cat({slot(0x3f, 1, 2, 1, 0), kExit}));
  EXPECT_EQ(assemble_bytes("smod32 %r1, 3\nexit"), cat({slot(0x94, 1, 0, 1, 3), kExit}));
  EXPECT_EQ(assemble_bytes("movsx1664 %r1, %r2\nexit"), cat({slot(0xbf, 1, 2, 16, 0), kExit}));
  EXPECT_EQ(assemble_bytes("neg %r3\nexit"), cat({slot(0x87, 3, 0, 0, 0), kExit}));
  EXPECT_EQ(assemble_bytes("be16 %r3\nle64 %r4\nexit"),
            cat({slot(0xdc, 3, 0, 0, 16), slot(0xd4, 4, 0, 0, 64), kExit}));
  // The conformance suite's swapNN spelling of bswapNN.
  EXPECT_EQ(assemble_bytes("swap32 %r1\nbswap32 %r1\nexit"),
            cat({slot(0xd7, 1, 0, 0, 32), slot(0xd7, 1, 0, 0, 32), kExit}));
}

TEST(Assembler, OperandSeparatorsAndComments) {
  std::vector<uint8_t> want = cat({slot(0x07, 1, 0, 0, 5), kExit});
  EXPECT_EQ(assemble_bytes("add %r1 5\nexit"), want);
  EXPECT_EQ(assemble_bytes("add %r1,5\nexit"), want);
  EXPECT_EQ(assemble_bytes("  add   %r1,   5   # comment\nexit // more"), want);
  EXPECT_EQ(assemble_bytes("add %r1, 5 ; comment\n\n; only a comment\nexit\r\n"), want);
}

TEST(Assembler, MemoryOperands) {
  EXPECT_EQ(assemble_bytes("ldxw %r0, [%r1]\nexit"), cat({slot(0x61, 0, 1, 0, 0), kExit}));
  EXPECT_EQ(assemble_bytes("ldxb %r0, [%r1+0x2]\nexit"), cat({slot(0x71, 0, 1, 2, 0), kExit}));
  EXPECT_EQ(assemble_bytes("ldxsh %r0, [%r10-8]\nexit"), cat({slot(0x89, 0, 10, -8, 0), kExit}));
  EXPECT_EQ(assemble_bytes("stdw [%r10-16], -3\nexit"), cat({slot(0x7a, 10, 0, -16, -3), kExit}));
  EXPECT_EQ(assemble_bytes("stxh [%r1+32767], %r2\nexit"), cat({slot(0x6b, 1, 2, 32767, 0), kExit}));
  EXPECT_EQ(assemble_bytes("stxb [%r1 - 32768], %r2\nexit"), cat({slot(0x73, 1, 2, -32768, 0), kExit}));
}

TEST(Assembler, Atomics) {
  EXPECT_EQ(assemble_bytes("lock add [%r10-8], %r1\nexit"), cat({slot(0xdb, 10, 1, -8, 0x00), kExit}));
  EXPECT_EQ(assemble_bytes("lock fetch or32 [%r10-4], %r1\nexit"), cat({slot(0xc3, 10, 1, -4, 0x41), kExit}));
  EXPECT_EQ(assemble_bytes("lock xchg [%r1], %r2\nexit"), cat({slot(0xdb, 1, 2, 0, 0xe1), kExit}));
  EXPECT_EQ(assemble_bytes("lock cmpxchg32 [%r1+4], %r2\nexit"), cat({slot(0xc3, 1, 2, 4, 0xf1), kExit}));
}

TEST(Assembler, JumpsByLabelAndRelativeOffset) {
  // Forward and backward labels; lddw counts two slots.
  std::string text =
      "top:\n"
      "jeq %r1, 0, done\n"  // slot 0 -> slot 4: +3
      "lddw %r2, 1\n"       // slots 1-2
      "ja top\n"            // slot 3 -> 0: -4
      "done: exit\n";       // slot 4
  EXPECT_EQ(assemble_bytes(text), cat({slot(0x15, 1, 0, 3, 0), slot(0x18, 2, 0, 0, 1), slot(0, 0, 0, 0, 0),
                                       slot(0x05, 0, 0, -4, 0), kExit}));
  EXPECT_EQ(assemble_bytes("jne32 %r1, %r2, +1\nexit\nexit"), cat({slot(0x5e, 1, 2, 1, 0), kExit, kExit}));
  EXPECT_EQ(assemble_bytes("ja +0\nexit"), cat({slot(0x05, 0, 0, 0, 0), kExit}));
  EXPECT_EQ(assemble_bytes("ja32 end\nmov %r0, 1\nend:\nexit"),
            cat({slot(0x06, 0, 0, 0, 1), slot(0xb7, 0, 0, 0, 1), kExit}));
}

TEST(Assembler, ImplicitExitLabelIsTheFirstExit) {
  EXPECT_EQ(assemble_bytes("jeq %r1, 0, exit\nmov %r0, 1\nexit\nexit"),
            cat({slot(0x15, 1, 0, 1, 0), slot(0xb7, 0, 0, 0, 1), kExit, kExit}));
  // An explicit label named exit takes precedence.
  EXPECT_EQ(assemble_bytes("ja exit\nexit\nexit:\nexit"), cat({slot(0x05, 0, 0, 1, 0), kExit, kExit}));
}

TEST(Assembler, Calls) {
  EXPECT_EQ(assemble_bytes("call 5\nexit"), cat({slot(0x85, 0, 0, 0, 5), kExit}));
  EXPECT_EQ(assemble_bytes("call %r2\nexit"), cat({slot(0x8d, 2, 0, 0, 0), kExit}));
  EXPECT_EQ(assemble_bytes("call local f\nexit\nf:\nexit"), cat({slot(0x85, 0, 1, 0, 1), kExit, kExit}));
  EXPECT_EQ(assemble_bytes("call local +1\nexit\nexit"), cat({slot(0x85, 0, 1, 0, 1), kExit, kExit}));
  EXPECT_EQ(assemble_bytes("call runtime 7\nexit"), cat({slot(0x85, 0, 2, 0, 7), kExit}));
}

// ---- Extensions (docs/ASSEMBLY.md) ----

TEST(AssemblerExtensions, LddwPseudoSources) {
  auto lddw = [](uint8_t dst, uint8_t src, int32_t lo, int32_t hi) {
    return cat({slot(0x18, dst, src, 0, lo), slot(0, 0, 0, 0, hi)});
  };
  EXPECT_EQ(assemble_bytes("lddw %r1, map_fd(3)\nexit"), cat({lddw(1, 1, 3, 0), kExit}));
  EXPECT_EQ(assemble_bytes("lddw %r1, map_value(3)+16\nexit"), cat({lddw(1, 2, 3, 16), kExit}));
  EXPECT_EQ(assemble_bytes("lddw %r1, map_value(3)\nexit"), cat({lddw(1, 2, 3, 0), kExit}));
  EXPECT_EQ(assemble_bytes("lddw %r1, map_value(3)+4294967295\nexit"), cat({lddw(1, 2, 3, -1), kExit}));
  EXPECT_EQ(assemble_bytes("lddw %r1, map_value(3)-1\nexit"), cat({lddw(1, 2, 3, -1), kExit}));
  EXPECT_EQ(assemble_bytes("lddw %r1, btf_id(77)\nexit"), cat({lddw(1, 3, 77, 0), kExit}));
  EXPECT_EQ(assemble_bytes("lddw %r1, map_idx(2)\nexit"), cat({lddw(1, 5, 2, 0), kExit}));
  EXPECT_EQ(assemble_bytes("lddw %r1, map_idx_value(2)+8\nexit"), cat({lddw(1, 6, 2, 8), kExit}));
  // func: imm is the slot offset counted from the lddw's second slot (the kernel's target = pc + 1 + imm).
  EXPECT_EQ(assemble_bytes("lddw %r1, func(cb)\nexit\ncb:\nexit"), cat({lddw(1, 4, 2, 0), kExit, kExit}));
  EXPECT_EQ(assemble_bytes("lddw %r1, func(+2)\nexit\nexit"), cat({lddw(1, 4, 2, 0), kExit, kExit}));
  // Negative and large plain immediates.
  EXPECT_EQ(assemble_bytes("lddw %r1, -1\nexit"), cat({lddw(1, 0, -1, -1), kExit}));
  EXPECT_EQ(assemble_bytes("lddw %r1, 18446744073709551615\nexit"), cat({lddw(1, 0, -1, -1), kExit}));
}

TEST(AssemblerExtensions, SymbolicMapsProduceMapRefs) {
  Result<AsmOutput> r = assemble("mov %r0, 0\nlddw %r1, map(counters)\nlddw %r2, map_value(cfg)+8\nexit");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->map_refs.size(), 2u);
  EXPECT_EQ(r->map_refs[0].insn_index, 1u);
  EXPECT_EQ(r->map_refs[0].name, "counters");
  EXPECT_EQ(r->map_refs[1].insn_index, 2u);
  EXPECT_EQ(r->map_refs[1].name, "cfg");
  const Insn& a = r->program.insns[1];
  EXPECT_EQ(a.op, Op::LddwMapFd);
  EXPECT_EQ(a.src, 1);
  EXPECT_EQ(a.imm64, 0u);
  const Insn& b = r->program.insns[2];
  EXPECT_EQ(b.op, Op::LddwMapValue);
  EXPECT_EQ(b.src, 2);
  EXPECT_EQ(b.imm64, uint64_t{8} << 32);
}

TEST(AssemblerExtensions, KfuncCalls) {
  EXPECT_EQ(assemble_bytes("call kfunc 1234\nexit"), cat({slot(0x85, 0, 2, 0, 1234), kExit}));
  EXPECT_EQ(assemble_bytes("call kfunc 1234, 2\nexit"), cat({slot(0x85, 0, 2, 2, 1234), kExit}));
}

TEST(AssemblerExtensions, LegacyPacketLoads) {
  EXPECT_EQ(assemble_bytes("ldabsb 12\nldabsh 14\nldabsw 0x10\nexit"),
            cat({slot(0x30, 0, 0, 0, 12), slot(0x28, 0, 0, 0, 14), slot(0x20, 0, 0, 0, 16), kExit}));
  EXPECT_EQ(assemble_bytes("ldindb %r1, 2\nldindh %r2, -4\nldindw %r3, 0\nexit"),
            cat({slot(0x50, 0, 1, 0, 2), slot(0x48, 0, 2, 0, -4), slot(0x40, 0, 3, 0, 0), kExit}));
}

TEST(AssemblerExtensions, CallxSynonym) {
  EXPECT_EQ(assemble_bytes("callx %r3\nexit"), assemble_bytes("call %r3\nexit"));
  EXPECT_EQ(assemble_bytes("callx %r3\nexit"), cat({slot(0x8d, 3, 0, 0, 0), kExit}));
}

TEST(AssemblerExtensions, LoadAcquireStoreRelease) {
  EXPECT_EQ(assemble_bytes("load_acquirew %r1, [%r2+4]\nstore_releasedw [%r3-8], %r4\nexit"),
            cat({slot(0xc3, 1, 2, 4, 0x100), slot(0xdb, 3, 4, -8, 0x110), kExit}));
  EXPECT_EQ(assemble_bytes("load_acquireb %r1, [%r2]\nstore_releaseh [%r3], %r4\nexit"),
            cat({slot(0xd3, 1, 2, 0, 0x100), slot(0xcb, 3, 4, 0, 0x110), kExit}));
}

TEST(AssemblerExtensions, UnsupportedInstructionsNeedAllowUnsupported) {
  AsmOptions allow;
  allow.allow_unsupported = true;
  EXPECT_EQ(assemble_bytes("may_goto +1\nmov %r0, 0\nexit", allow),
            cat({slot(0xe5, 0, 0, 1, 0), slot(0xb7, 0, 0, 0, 0), kExit}));
  EXPECT_EQ(assemble_bytes("addr_space_cast %r1, %r2, 1\nexit", allow), cat({slot(0xbf, 1, 2, 1, 1), kExit}));
  for (std::string_view text : {"may_goto +0\nexit", "addr_space_cast %r1, %r2, 1\nexit"}) {
    Result<AsmOutput> r = assemble(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported) << text;
    EXPECT_EQ(r.error().pc, 0u);
    EXPECT_NE(r.error().msg.find("line 1"), std::string::npos) << r.error().msg;
  }
}

// ---- Errors: code, line and the offending token ----

void expect_error(std::string_view text,
                  uint32_t line,
                  std::string_view needle,
                  ErrorCode code = ErrorCode::kAsmSyntax) {
  Result<AsmOutput> r = assemble(text);
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_EQ(r.error().code, code) << text << "\n-> " << r.error().to_string();
  if (code == ErrorCode::kAsmSyntax) {
    EXPECT_EQ(r.error().pc, line) << text << "\n-> " << r.error().to_string();
  }
  EXPECT_NE(r.error().to_string().find(needle), std::string::npos)
      << text << "\n-> " << r.error().to_string();
}

TEST(AssemblerErrors, UnknownMnemonic) {
  expect_error("mov %r0, 0\nexit\nad %r1, 2", 3, "line 3: unknown mnemonic 'ad'");
  expect_error("lock foo [%r1], %r2\nexit", 1, "unknown mnemonic 'lock foo'");
  expect_error("add64 %r1, 1\nexit", 1, "unknown mnemonic 'add64'");
}
TEST(AssemblerErrors, ImmediateOutOfRange) {
  expect_error("\n\n\n\nmov %r0, 0x1ffffffff\nexit", 5,
               "line 5: immediate 0x1ffffffff does not fit in 32 bits");
  expect_error("mov %r0, 2147483648\nexit", 1, "immediate 2147483648 does not fit in 32 bits");
  expect_error("mov %r0, -2147483649\nexit", 1, "immediate -2147483649 does not fit in 32 bits");
  expect_error("lddw %r0, 0x10000000000000000\nexit", 1,
               "immediate 0x10000000000000000 does not fit in 64 bits");
  expect_error("lddw %r0, -9223372036854775809\nexit", 1, "does not fit in 64 bits");
}
TEST(AssemblerErrors, ExpectedImmediate) {
  expect_error("mov %r0, foo\nexit", 1, "expected immediate, got 'foo'");
  expect_error("call five\nexit", 1, "expected immediate, got 'five'");
}
TEST(AssemblerErrors, UndefinedLabel) {
  expect_error("mov %r0, 0\n\n\n\n\n\nja foo\nexit", 7, "line 7: undefined label 'foo'");
  expect_error("call local nowhere\nexit", 1, "undefined label 'nowhere'");
  expect_error("lddw %r1, func(nowhere)\nexit", 1, "undefined label 'nowhere'");
}
TEST(AssemblerErrors, DuplicateLabel) {
  expect_error("x:\nx:\nexit", 2, "line 2: duplicate label 'x'");
}
TEST(AssemblerErrors, BadLabel) {
  expect_error("1abc:\nexit", 1, "bad label '1abc:'");
}
TEST(AssemblerErrors, LabelAtEnd) {
  expect_error("ja end\nexit\nend:", 1, "label 'end' is not followed");
}
TEST(AssemblerErrors, ExpectedRegister) {
  expect_error("\n\n\nmov 5, %r1\nexit", 4, "line 4: expected register, got '5'");
  expect_error("neg r1\nexit", 1, "expected register, got 'r1'");
}
TEST(AssemblerErrors, RegisterOutOfRange) {
  expect_error("\n\n\n\n\n\n\n\nmov %r11, 1\nexit", 9, "line 9: register %r11 out of range");
  expect_error("ldxw %r0, [%r15+2]\nexit", 1, "register %r15 out of range");
}
TEST(AssemblerErrors, WrongOperandCount) {
  expect_error("add %r1\nexit", 1, "'add' takes 2 operands, got 1");
  expect_error("exit %r0", 1, "'exit' takes 0 operands, got 1");
  expect_error("neg %r1, %r2\nexit", 1, "'neg' takes 1 operand, got 2");
  expect_error("jeq %r1, 1\nexit", 1, "'jeq' takes 3 operands, got 2");
  expect_error("call kfunc 1, 2, 3\nexit", 1, "'call kfunc' takes 1 or 2 operands, got 3");
}
TEST(AssemblerErrors, EmptyOperand) {
  expect_error("add %r1,,5\nexit", 1, "empty operand");
  expect_error("add %r1 , 5\nexit", 1, "stray ','");
}
TEST(AssemblerErrors, BadMemoryOperand) {
  expect_error("ldxw %r0, %r1\nexit", 1, "bad memory operand '%r1'");
  expect_error("ldxw %r0, [%r1+x]\nexit", 1, "bad memory operand '[%r1+x]'");
  expect_error("stw [5], 1\nexit", 1, "bad memory operand '[5]'");
  expect_error("stw [%r1+4, 1\nexit", 1, "bad memory operand");
}
TEST(AssemblerErrors, OffsetOutOfRange) {
  expect_error("ldxw %r0, [%r1+32768]\nexit", 1, "offset +32768 does not fit in 16 bits");
  expect_error("stxw [%r1-32769], %r2\nexit", 1, "offset -32769 does not fit in 16 bits");
}
TEST(AssemblerErrors, JumpTargetOutOfRange) {
  expect_error("ja +40000\nexit", 1, "jump target +40000 out of range");
  expect_error("ja +5\nexit", 1, "jump target +5 out of range");
  expect_error("jeq %r1, 0, -3\nexit", 1, "jump target -3 out of range");
  expect_error("call local +99999999999\nexit", 1, "jump target +99999999999 out of range");
  // A label too far away for a 16-bit offset.
  std::string body;
  for (int i = 0; i < 33000; ++i)
    body += "mov %r0, 0\n";
  body += "end:\nexit\n";
  expect_error("ja end\n" + body, 1, "jump target end out of range (offset 33000 does not fit in 16 bits)");
  // ja32 reaches it.
  std::string far = "ja32 end\n" + body;
  EXPECT_TRUE(assemble(far).ok());
}
TEST(AssemblerErrors, BadJumpTarget) {
  expect_error("ja 5\nexit", 1, "bad jump target '5'");
}
TEST(AssemblerErrors, BadLddwOperand) {
  expect_error("lddw %r1, foo(3)\nexit", 1, "unknown lddw pseudo source 'foo'");
  expect_error("lddw %r1, map_fd(3\nexit", 1, "missing ')'");
  expect_error("lddw %r1, map_fd(x)\nexit", 1, "expected map_fd() argument, got 'x'");
  expect_error("lddw %r1, map(3)\nexit", 1, "map() takes a map name");
  expect_error("lddw %r1, map_value(3)*2\nexit", 1, "expected +off or -off");
  expect_error("lddw %r1, map_value(3)+0x100000000\nexit", 1,
               "lddw offset +0x100000000 does not fit in 32 bits");
  expect_error("lddw %r1, hello\nexit", 1, "expected 64-bit immediate or pseudo source");
}
TEST(AssemblerErrors, LinkerErrorsKeepTheirCodeAndNameTheLine) {
  expect_error("mov %r0, 0", 0, "line 1: the program can fall off its end", ErrorCode::kFallsOffEnd);
  expect_error("mov %r0, 0\nmov %r10, 1\nexit", 0, "line 2:", ErrorCode::kWriteToR10);
  expect_error("lddw %r0, 1\nja -2\nexit", 0, "line 2:", ErrorCode::kJumpIntoLddw);
  expect_error("", 0, "empty program", ErrorCode::kEmptyProgram);
  expect_error("# nothing\n\n", 0, "empty program", ErrorCode::kEmptyProgram);
}

// ---- Robustness ----

TEST(Assembler, NeverCrashesOnRandomOrMutatedText) {
  std::mt19937_64 rng(12345);
  std::vector<std::string> seeds = {
      "mov %r0, 1\nexit",
      "lddw %r1, map_value(3)+16\nexit",
      "jeq %r1, 0x10, +1\nexit\nexit",
      "lock fetch add32 [%r10-8], %r1\nexit",
      "call local f\nexit\nf:\nlddw %r1, func(f)\nexit",
      "ldxdw %r0, [%r1+8]\nstb [%r10-1], 0xff\nexit",
  };
  for (const std::string& path : conformance_files()) {
    if (seeds.size() > 40) break;
    Result<DataFile> f = parse_data_file(read_text(path));
    if (f.ok()) seeds.push_back(f->asm_text);
  }
  const std::string alphabet = "%r0123456789abcdefx+-[](),:#;/ \n\tlddwmovjaexitcallocklabel_.";
  int runs = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string text;
    if (iter % 4 == 0) {
      size_t n = rng() % 64;
      for (size_t i = 0; i < n; ++i)
        text.push_back(static_cast<char>(rng() % 256));
    } else {
      text = seeds[rng() % seeds.size()];
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !text.empty(); ++e) {
        size_t pos = rng() % text.size();
        switch (rng() % 3) {
          case 0:
            text[pos] = alphabet[rng() % alphabet.size()];
            break;
          case 1:
            text.erase(pos, 1 + rng() % 3);
            break;
          default:
            text.insert(pos, 1, alphabet[rng() % alphabet.size()]);
            break;
        }
      }
    }
    Result<AsmOutput> r = assemble(text);
    if (r.ok()) {
      EXPECT_FALSE(r->program.insns.empty());
    } else {
      EXPECT_FALSE(r.error().msg.empty());
      if (r.error().code == ErrorCode::kAsmSyntax) {
        EXPECT_GE(r.error().pc, 1u);
      }
    }
    ++runs;
  }
  EXPECT_EQ(runs, 4000);
}

}  // namespace
}  // namespace bpfvm
