#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "vm/decode.h"

namespace bpfvm {
namespace {

struct Slot {
  uint8_t opcode;
  uint8_t dst = 0, src = 0;
  int16_t off = 0;
  int32_t imm = 0;
};

std::vector<uint8_t> bytes(std::initializer_list<Slot> slots) {
  std::vector<uint8_t> out;
  for (const Slot& s : slots) {
    RawInsn r{};
    r.opcode = s.opcode;
    r.dst = s.dst;
    r.src = s.src;
    r.off = s.off;
    r.imm = s.imm;
    uint8_t b[8];
    std::memcpy(b, &r, 8);
    out.insert(out.end(), b, b + 8);
  }
  return out;
}

constexpr Slot kExit{0x95};
constexpr Slot kMovR0Imm1{0xb7, 0, 0, 0, 1};

void expect_error(const std::vector<uint8_t>& b, ErrorCode code, uint32_t pc, const char* needle) {
  auto r = decode(b);
  ASSERT_FALSE(r.ok()) << "decoded a bad program";
  EXPECT_EQ(r.error().code, code) << r.error().to_string();
  EXPECT_EQ(r.error().pc, pc) << r.error().to_string();
  EXPECT_NE(r.error().to_string().find(needle), std::string::npos) << r.error().to_string();
}

TEST(Decoder, DecodesAMinimalProgram) {
  auto r = decode(bytes({kMovR0Imm1, kExit}));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->insns.size(), 2u);
  EXPECT_EQ(r->insns[0].op, Op::Mov64Imm);
  EXPECT_EQ(r->insns[0].imm, 1);
  EXPECT_EQ(r->insns[1].op, Op::Exit);
  EXPECT_EQ(r->insns[1].pc, 1u);
}

TEST(Decoder, MergesLddwIntoOneInstruction) {
  auto r = decode(bytes({{0x18, 0, 0, 0, 0x55667788}, {0, 0, 0, 0, 0x11223344}, kExit}));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->insns.size(), 2u);
  EXPECT_EQ(r->insns[0].op, Op::Lddw);
  EXPECT_EQ(r->insns[0].imm64, 0x1122334455667788ull);
  EXPECT_EQ(r->insns[1].pc, 2u);
  EXPECT_EQ(r->num_slots, 3u);
  EXPECT_EQ(r->index_of_slot(1), -1);
  EXPECT_EQ(r->index_of_slot(2), 1);
}

TEST(Decoder, ResolvesJumpTargetsToInstructionIndexes) {
  // 0: lddw (2 slots); 2: ja -3 -> slot 0 ... use ja +1 over an lddw instead
  auto r = decode(bytes({{0x05, 0, 0, 2}, {0x18, 0, 0, 0, 1}, {0}, kExit}));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->insns[0].target, 2);
}

TEST(Decoder, EncodeIsTheInverseOfDecode) {
  auto b = bytes({{0x18, 1, 2, 0, 7}, {0, 0, 0, 0, 9}, {0xbf, 2, 1, 16}, {0xdb, 10, 1, -8, 0xf1}, {0x85, 0, 1, 0, 1},
                  kExit, {0xb7, 0, 0, 0, 3}, kExit});
  auto r = decode(b);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(encode(r->insns), b);
  EXPECT_EQ(r->subprogs, (std::vector<uint32_t>{0, 5}));
}

TEST(Decoder, RejectsEmptyProgram) {
  auto r = decode({});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kEmptyProgram);
}

TEST(Decoder, RejectsTruncatedSlot) {
  auto b = bytes({kMovR0Imm1, kExit});
  b.pop_back();
  expect_error(b, ErrorCode::kTruncated, 1, "not a multiple of 8");
}

TEST(Decoder, RejectsOversizedProgram) {
  std::vector<uint8_t> b;
  for (int i = 0; i < 11; ++i) {
    auto s = bytes({kMovR0Imm1});
    b.insert(b.end(), s.begin(), s.end());
  }
  auto r = decode(b, DecodeOptions{.max_insns = 10});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kProgramTooLarge);
  EXPECT_NE(r.error().msg.find("limit is 10"), std::string::npos);
}

TEST(Decoder, RejectsUnknownOpcode) {
  expect_error(bytes({kMovR0Imm1, {0xff}, kExit}), ErrorCode::kUnknownOpcode, 1, "unknown opcode 0xff");
}

TEST(Decoder, RejectsUnknownSelectorValue) {
  // div64 with offset 2 (only 0 = div and 1 = sdiv exist)
  expect_error(bytes({{0x37, 0, 0, 2, 1}, kExit}), ErrorCode::kUnknownOpcode, 0, "offset 2");
  // atomic with an unknown operation
  expect_error(bytes({{0xdb, 10, 1, -8, 0x10}, kExit}), ErrorCode::kUnknownOpcode, 0, "imm 16");
}

TEST(Decoder, RejectsNonZeroReservedFields) {
  expect_error(bytes({{0x07, 0, 3, 0, 1}, kExit}), ErrorCode::kReservedField, 0, "src");
  expect_error(bytes({{0x0f, 0, 1, 0, 5}, kExit}), ErrorCode::kReservedField, 0, "imm");
  expect_error(bytes({kMovR0Imm1, {0x95, 0, 0, 1}}), ErrorCode::kReservedField, 1, "offset");
  expect_error(bytes({{0x07, 0, 0, 4, 1}, kExit}), ErrorCode::kReservedField, 0, "offset");
}

TEST(Decoder, RejectsBadRegisters) {
  expect_error(bytes({{0xb7, 11, 0, 0, 1}, kExit}), ErrorCode::kBadRegister, 0, "r11");
  expect_error(bytes({{0xbf, 0, 12}, kExit}), ErrorCode::kBadRegister, 0, "r12");
}

TEST(Decoder, RejectsWritesToR10) {
  expect_error(bytes({{0x07, 10, 0, 0, 8}, kExit}), ErrorCode::kWriteToR10, 0, "r10");
  expect_error(bytes({{0x79, 10, 1}, kExit}), ErrorCode::kWriteToR10, 0, "read-only");
  expect_error(bytes({{0xdb, 1, 10, 0, 0x01}, kExit}), ErrorCode::kWriteToR10, 0, "r10");
  // Stores through r10 are fine: r10 is the base, not written.
  EXPECT_TRUE(decode(bytes({{0x7a, 10, 0, -8, 1}, kExit})).ok());
}

TEST(Decoder, RejectsIncompleteLddw) {
  expect_error(bytes({kMovR0Imm1, {0x18, 0, 0, 0, 1}}), ErrorCode::kLddwIncomplete, 1, "second slot");
  expect_error(bytes({{0x18, 0, 0, 0, 1}, {0xb7}, kExit}), ErrorCode::kLddwIncomplete, 0, "second slot");
}

TEST(Decoder, RejectsJumpsOutOfRange) {
  expect_error(bytes({{0x05, 0, 0, 5}, kExit}), ErrorCode::kJumpOutOfRange, 0, "outside the program");
  expect_error(bytes({{0x15, 1, 0, -3}, kExit}), ErrorCode::kJumpOutOfRange, 0, "outside the program");
  expect_error(bytes({{0x85, 0, 1, 0, 7}, kExit}), ErrorCode::kJumpOutOfRange, 0, "call target");
}

TEST(Decoder, RejectsJumpsIntoTheMiddleOfLddw) {
  expect_error(bytes({{0x05, 0, 0, 1}, {0x18, 0, 0, 0, 1}, {0}, kExit}), ErrorCode::kJumpIntoLddw, 0,
               "second slot of an lddw");
}

TEST(Decoder, RejectsJumpsAcrossFunctions) {
  // main: call +2 (slot 3); ja +1 -> slot 3 is in the callee
  expect_error(bytes({{0x85, 0, 1, 0, 2}, {0x05, 0, 0, 1}, kExit, kMovR0Imm1, kExit}), ErrorCode::kJumpOutOfRange, 1,
               "leaves the function");
}

TEST(Decoder, RejectsFallingOffTheEnd) {
  expect_error(bytes({kMovR0Imm1}), ErrorCode::kFallsOffEnd, 0, "fall off its end");
  expect_error(bytes({kMovR0Imm1, {0x15, 0, 0, -2}}), ErrorCode::kFallsOffEnd, 1, "fall off its end");
  // a function that runs into the next one
  expect_error(bytes({{0x85, 0, 1, 0, 1}, kMovR0Imm1, kMovR0Imm1, kExit}), ErrorCode::kFallsOffEnd, 1,
               "falls through");
}

TEST(Decoder, RejectsUnsupportedInstructionsUnlessAsked) {
  auto b = bytes({{0xe5, 0, 0, 0}, kExit});
  expect_error(b, ErrorCode::kUnsupported, 0, "may_goto");
  EXPECT_TRUE(decode(b, DecodeOptions{.allow_unsupported = true}).ok());
  expect_error(bytes({{0xbf, 1, 2, 1, 1}, kExit}), ErrorCode::kUnsupported, 0, "addr_space_cast");
}

TEST(Decoder, NeverCrashesOnRandomBytes) {
  std::mt19937_64 rng(42);
  size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> b((rng() % 16 + 1) * 8 + (rng() % 8 == 0 ? rng() % 8 : 0));
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    // Bias towards valid opcodes so the deeper checks are reached.
    for (size_t k = 0; k + 8 <= b.size(); k += 8) {
      if (rng() % 2) {
        auto ops = all_ops();
        const OpInfo& row = ops[rng() % ops.size()];
        RawInsn raw{};
        raw.opcode = row.opcode;
        raw.dst = rng() % 11;
        raw.src = row.sel == Sel::Src ? row.selval : (rng() % 3 ? 0 : rng() % 11);
        raw.off = row.sel == Sel::Off ? row.selval : (rng() % 2 ? 0 : static_cast<int16_t>(rng() % 8));
        raw.imm = row.sel == Sel::Imm ? row.selval : (rng() % 2 ? 0 : static_cast<int32_t>(rng() % 8));
        std::memcpy(&b[k], &raw, 8);
      }
    }
    if (b.size() % 8 == 0 && rng() % 2) std::memcpy(&b[b.size() - 8], "\x95\0\0\0\0\0\0\0", 8);
    auto r = decode(b);
    if (r.ok()) {
      ++accepted;
      EXPECT_EQ(encode(r->insns), b);
    } else {
      EXPECT_FALSE(r.error().msg.empty());
    }
  }
  EXPECT_GT(accepted, 0u);
}

}  // namespace
}  // namespace bpfvm
