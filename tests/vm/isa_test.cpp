#include <set>

#include <gtest/gtest.h>

#include "vm/decode.h"
#include "vm/isa.h"

namespace bpfvm {
namespace {

TEST(IsaTable, EveryRowDecodesToItself) {
  for (const OpInfo& i : all_ops()) {
    RawInsn raw{};
    raw.opcode = i.opcode;
    if (i.sel == Sel::Off) raw.off = static_cast<int16_t>(i.selval);
    if (i.sel == Sel::Imm) raw.imm = i.selval;
    if (i.sel == Sel::Src) raw.src = static_cast<uint8_t>(i.selval);
    Op op;
    ASSERT_TRUE(lookup_op(raw, &op)) << i.mnemonic;
    EXPECT_EQ(op, i.op) << i.mnemonic;
  }
}

TEST(IsaTable, RowsAreUniqueByOpcodeAndSelector) {
  std::set<std::tuple<uint8_t, int, int32_t>> seen;
  for (const OpInfo& i : all_ops())
    EXPECT_TRUE(seen.insert({i.opcode, static_cast<int>(i.sel), i.selval}).second) << i.mnemonic;
}

TEST(IsaTable, DerivedFieldsMatchTheOpcodeLayout) {
  EXPECT_EQ(op_info(Op::Add64Imm).alu, AluOp::Add);
  EXPECT_TRUE(op_info(Op::Add64Imm).is64);
  EXPECT_FALSE(op_info(Op::Add32Reg).is64);
  EXPECT_TRUE(op_info(Op::Add32Reg).src_reg);
  EXPECT_EQ(op_info(Op::Sdiv64Imm).alu, AluOp::Sdiv);
  EXPECT_EQ(op_info(Op::Smod32Reg).alu, AluOp::Smod);
  EXPECT_EQ(op_info(Op::Movsx64_16).alu, AluOp::Movsx);
  EXPECT_EQ(op_info(Op::Movsx64_16).ext_bits, 16);
  EXPECT_EQ(op_info(Op::LdxH).size, 2);
  EXPECT_EQ(op_info(Op::LdxsB).size, 1);
  EXPECT_TRUE(op_info(Op::LdxsB).sign_ext);
  EXPECT_FALSE(op_info(Op::LdxB).sign_ext);
  EXPECT_EQ(op_info(Op::StxDw).size, 8);
  EXPECT_EQ(op_info(Op::Jsle32Reg).cond, Cond::Sle);
  EXPECT_FALSE(op_info(Op::Jsle32Reg).is64);
  EXPECT_EQ(op_info(Op::Ja).cond, Cond::Always);
  EXPECT_EQ(op_info(Op::AtomicFetchXor32).atomic, AtomicOp::Xor);
  EXPECT_TRUE(op_info(Op::AtomicFetchXor32).fetch);
  EXPECT_FALSE(op_info(Op::AtomicXor32).fetch);
  EXPECT_TRUE(op_info(Op::AtomicCmpxchg64).fetch);
  EXPECT_EQ(op_info(Op::Bswap32).ext_bits, 32);
  EXPECT_EQ(op_info(Op::LdAbsH).size, 2);
}

}  // namespace
}  // namespace bpfvm
