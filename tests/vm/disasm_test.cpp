#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "vm/asm.h"
#include "vm/data_file.h"
#include "vm/decode.h"
#include "vm/disasm.h"

namespace bpfvm {
namespace {

Program must_assemble(std::string_view text, bool allow_unsupported = false) {
  AsmOptions o;
  o.allow_unsupported = allow_unsupported;
  return assemble_or_fail(text, o);
}

TEST(Disassembler, ConformanceProgramsRoundTrip) {
  std::vector<std::string> files = conformance_files();
  ASSERT_EQ(files.size(), 313u);
  int same = 0;
  for (const std::string& path : files) {
    Result<DataFile> f = parse_data_file(read_text(path));
    ASSERT_TRUE(f.ok()) << path;
    Result<std::vector<uint8_t>> bytes = program_bytes(*f);
    ASSERT_TRUE(bytes.ok()) << path << ": " << bytes.error().to_string();
    Result<Program> p = decode(*bytes);
    ASSERT_TRUE(p.ok()) << path << ": " << p.error().to_string();
    std::string text = disassemble(*p);
    Result<AsmOutput> again = assemble(text);
    ASSERT_TRUE(again.ok()) << path << ": " << again.error().to_string() << "\n" << text;
    EXPECT_EQ(encode(again->program.insns), *bytes) << path << "\n" << text;
    if (encode(again->program.insns) == *bytes) ++same;
  }
  EXPECT_EQ(same, 313);
}

TEST(Disassembler, PrintsTheAssemblerSyntax) {
  Program p = must_assemble(
      "mov %r0, -5\n"
      "add32 %r1, %r2\n"
      "ldxh %r3, [%r1+6]\n"
      "stw [%r10-4], 7\n"
      "stxdw [%r10], %r3\n"
      "lock fetch xor32 [%r10-8], %r1\n"
      "be16 %r3\n"
      "jsgt %r1, 3, +3\n"
      "jeq32 %r1, %r2, -3\n"
      "lddw %r4, 0x1122334455667788\n"
      "lddw %r5, map_value(3)+16\n"
      "lddw %r5, map_fd(4)\n"
      "call 5\n"
      "call %r2\n"
      "call runtime 9\n"
      "call local +1\n"
      "exit\n"
      "exit\n");
  EXPECT_EQ(disassemble(p),
            "mov %r0, -5\n"
            "add32 %r1, %r2\n"
            "ldxh %r3, [%r1+6]\n"
            "stw [%r10-4], 7\n"
            "stxdw [%r10], %r3\n"
            "lock fetch xor32 [%r10-8], %r1\n"
            "be16 %r3\n"
            "jsgt %r1, 3, +3\n"
            "jeq32 %r1, %r2, -3\n"
            "lddw %r4, 0x1122334455667788\n"
            "lddw %r5, map_value(3)+16\n"
            "lddw %r5, map_fd(4)\n"
            "call 5\n"
            "callx %r2\n"
            "call kfunc 9\n"
            "call local +1\n"
            "exit\n"
            "exit\n");
}

TEST(Disassembler, PcPrefixAndAnnotations) {
  Program p = must_assemble("lddw %r1, 7\nmov %r0, 0\nexit");
  DisasmOptions o;
  o.show_pc = true;
  o.annotate = [](const Insn& in) {
    return in.op == Op::Mov64Imm ? std::string("set r0\nnow") : std::string();
  };
  EXPECT_EQ(disassemble(p, o), "   0: lddw %r1, 0x7\n   2: mov %r0, 0  # set r0 now\n   3: exit\n");
}

// ---- Random instructions: every row of the table, random legal fields ----

struct Gen {
  std::mt19937_64 rng{2024};
  uint64_t u64() { return rng(); }
  int32_t imm() {
    switch (rng() % 4) {
      case 0:
        return static_cast<int32_t>(rng() % 33) - 16;
      case 1:
        return std::numeric_limits<int32_t>::min() + static_cast<int32_t>(rng() % 2);
      default:
        return static_cast<int32_t>(static_cast<uint32_t>(rng()));
    }
  }
  int16_t off() {
    return rng() % 2 ? static_cast<int16_t>(static_cast<int>(rng() % 64) - 32) : static_cast<int16_t>(rng());
  }
  uint8_t reg() { return static_cast<uint8_t>(rng() % 11); }
};

// A program: `before` exits, the instruction under test, `after` exits. Targets of jumps and calls
// are picked among the exits, so every target is a valid instruction start and every function ends
// in exit.
std::vector<Insn> random_program(Gen& g, const OpInfo& info) {
  uint32_t before = 1 + static_cast<uint32_t>(g.rng() % 5);  // so that a call target always exists
  uint32_t after = 1 + static_cast<uint32_t>(g.rng() % 5);
  Insn x;
  x.op = info.op;
  uint32_t xs = x.slots();
  uint32_t pc = before;
  uint32_t num_slots = before + xs + after;
  // A random target slot among the exits, as an offset from the next slot.
  auto target = [&](bool allow_right_after) {
    while (true) {
      uint32_t t = static_cast<uint32_t>(g.rng() % num_slots);
      if (t >= pc && t < pc + xs) continue;
      if (!allow_right_after && t == pc + xs) continue;
      return static_cast<int64_t>(t) - (pc + xs);
    }
  };
  switch (info.form) {
    case Form::AluImm:
      x.dst = g.reg();
      x.imm = g.imm();
      break;
    case Form::AluReg:
      x.dst = g.reg();
      x.src = g.reg();
      break;
    case Form::AluNeg:
    case Form::End:
    case Form::Callx:
      x.dst = g.reg();
      break;
    case Form::AddrSpaceCast:
      x.dst = g.reg();
      x.src = g.reg();
      x.imm = g.imm();
      break;
    case Form::Ja:
    case Form::MayGoto:
      x.off = static_cast<int16_t>(target(true));
      break;
    case Form::Ja32:
      x.imm = static_cast<int32_t>(target(true));
      break;
    case Form::JmpImm:
      x.dst = g.reg();
      x.imm = g.imm();
      x.off = static_cast<int16_t>(target(true));
      break;
    case Form::JmpReg:
      x.dst = g.reg();
      x.src = g.reg();
      x.off = static_cast<int16_t>(target(true));
      break;
    case Form::Call:
    case Form::LdAbs:
      x.imm = g.imm();
      break;
    case Form::CallLocal:
      x.imm = static_cast<int32_t>(target(false));
      break;
    case Form::CallKfunc:
      x.imm = g.imm();
      x.off = g.rng() % 2 ? 0 : g.off();
      break;
    case Form::Exit:
      break;
    case Form::Lddw: {
      x.dst = g.reg();
      uint32_t lo = static_cast<uint32_t>(g.imm());
      uint32_t hi = g.rng() % 3 == 0 ? 0 : static_cast<uint32_t>(g.imm());
      // lddw func counts from its second slot (kernel: target = pc + 1 + imm).
      if (info.op == Op::LddwFunc) lo = static_cast<uint32_t>(static_cast<int32_t>(target(false) + 1));
      x.imm = static_cast<int32_t>(lo);
      x.imm64 = lo | (static_cast<uint64_t>(hi) << 32);
      break;
    }
    case Form::Ldx:
    case Form::LoadAcquire:
      x.dst = g.reg();
      x.src = g.reg();
      x.off = g.off();
      break;
    case Form::St:
      x.dst = g.reg();
      x.off = g.off();
      x.imm = g.imm();
      break;
    case Form::Stx:
    case Form::Atomic:
    case Form::StoreRelease:
      x.dst = g.reg();
      x.src = g.reg();
      x.off = g.off();
      break;
    case Form::LdInd:
      x.src = g.reg();
      x.imm = g.imm();
      break;
  }
  switch (info.sel) {
    case Sel::Off:
      x.off = static_cast<int16_t>(info.selval);
      break;
    case Sel::Imm:
      x.imm = info.selval;
      break;
    case Sel::Src:
      x.src = static_cast<uint8_t>(info.selval);
      break;
    case Sel::None:
      break;
  }
  Insn e;
  e.op = Op::Exit;
  std::vector<Insn> out(before, e);
  out.push_back(x);
  out.insert(out.end(), after, e);
  return out;
}

TEST(Disassembler, RandomInstructionsOfEveryRowRoundTrip) {
  Gen g;
  DecodeOptions dopts;
  dopts.allow_unsupported = true;
  int checked = 0;
  for (int round = 0; round < 40; ++round) {
    for (const OpInfo& info : all_ops()) {
      // Rejections (e.g. a write to r10) are regenerated; valid programs must round-trip.
      for (int attempt = 0; attempt < 20; ++attempt) {
        std::vector<uint8_t> bytes = encode(random_program(g, info));
        Result<Program> p = decode(bytes, dopts);
        if (!p.ok()) {
          ASSERT_EQ(p.error().code, ErrorCode::kWriteToR10) << info.mnemonic << ": " << p.error().to_string();
          continue;
        }
        std::string text = disassemble(*p);
        AsmOptions aopts;
        aopts.allow_unsupported = true;
        Result<AsmOutput> a = assemble(text, aopts);
        ASSERT_TRUE(a.ok()) << info.mnemonic << ": " << a.error().to_string() << "\n" << text;
        ASSERT_EQ(encode(a->program.insns), bytes) << info.mnemonic << "\n" << text;
        ++checked;
        break;
      }
    }
  }
  EXPECT_GE(checked, 40 * static_cast<int>(kNumOps) * 9 / 10);
  EXPECT_GE(checked, 5000);
}

TEST(Disassembler, LddwPseudoSourcesRoundTripWithNonZeroHighHalf) {
  for (uint8_t src = 0; src <= 6; ++src) {
    Insn l;
    ASSERT_TRUE(lookup_op(RawInsn{0x18, 1, src, 0, 0}, &l.op));
    l.dst = 1;
    l.src = src;
    l.imm = src == 4 ? 2 : 3;  // func: the second exit (slot 3 = pc + 1 + 2)
    l.imm64 = static_cast<uint32_t>(l.imm) | (uint64_t{0xfffffff0} << 32);
    Insn e;
    e.op = Op::Exit;
    std::vector<Insn> insns = {l, e, e};
    std::vector<uint8_t> bytes = encode(insns);
    Result<Program> p = decode(bytes);
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    std::string text = disassemble(*p);
    EXPECT_EQ(encode(must_assemble(text).insns), bytes) << text;
  }
}

}  // namespace
}  // namespace bpfvm
