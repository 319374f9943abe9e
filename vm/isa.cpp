#include "vm/isa.h"

namespace bpfvm {
namespace {

struct Row {
  Op op;
  uint8_t opcode;
  Sel sel;
  int32_t selval;
  Form form;
  std::string_view mnemonic;
  uint8_t isa;
};

constexpr Row kRows[] = {
#define BPF_OP(name, opcode, sel, selval, form, mnemonic, isa) \
  {Op::name, opcode, Sel::sel, selval, Form::form, mnemonic, isa},
#include "vm/opcodes.def"
#undef BPF_OP
};
static_assert(std::size(kRows) == kNumOps);

constexpr uint8_t mem_size(uint8_t opcode) {
  switch (opcode & 0x18) {
    case 0x00:
      return 4;
    case 0x08:
      return 2;
    case 0x10:
      return 1;
    default:
      return 8;
  }
}

constexpr AluOp alu_op(const Row& r) {
  switch (r.form) {
    case Form::End:
      return r.opcode == 0xd4 ? AluOp::Le : r.opcode == 0xdc ? AluOp::Be : AluOp::Bswap;
    case Form::AddrSpaceCast:
      return AluOp::None;
    default:
      break;
  }
  bool sel_off = r.sel == Sel::Off;
  switch (r.opcode & 0xf0) {
    case 0x00:
      return AluOp::Add;
    case 0x10:
      return AluOp::Sub;
    case 0x20:
      return AluOp::Mul;
    case 0x30:
      return sel_off && r.selval == 1 ? AluOp::Sdiv : AluOp::Div;
    case 0x40:
      return AluOp::Or;
    case 0x50:
      return AluOp::And;
    case 0x60:
      return AluOp::Lsh;
    case 0x70:
      return AluOp::Rsh;
    case 0x80:
      return AluOp::Neg;
    case 0x90:
      return sel_off && r.selval == 1 ? AluOp::Smod : AluOp::Mod;
    case 0xa0:
      return AluOp::Xor;
    case 0xb0:
      return sel_off && r.selval != 0 ? AluOp::Movsx : AluOp::Mov;
    case 0xc0:
      return AluOp::Arsh;
    default:
      return AluOp::None;
  }
}

constexpr Cond jmp_cond(uint8_t opcode) {
  switch (opcode & 0xf0) {
    case 0x00:
      return Cond::Always;
    case 0x10:
      return Cond::Eq;
    case 0x20:
      return Cond::Gt;
    case 0x30:
      return Cond::Ge;
    case 0x40:
      return Cond::Set;
    case 0x50:
      return Cond::Ne;
    case 0x60:
      return Cond::Sgt;
    case 0x70:
      return Cond::Sge;
    case 0xa0:
      return Cond::Lt;
    case 0xb0:
      return Cond::Le;
    case 0xc0:
      return Cond::Slt;
    case 0xd0:
      return Cond::Sle;
    default:
      return Cond::None;
  }
}

constexpr AtomicOp atomic_op(int32_t imm) {
  switch (imm & ~1) {
    case 0x00:
      return AtomicOp::Add;
    case 0x40:
      return AtomicOp::Or;
    case 0x50:
      return AtomicOp::And;
    case 0xa0:
      return AtomicOp::Xor;
    case 0xe0:
      return AtomicOp::Xchg;
    case 0xf0:
      return AtomicOp::Cmpxchg;
    default:
      return AtomicOp::None;
  }
}

constexpr OpInfo derive(const Row& r) {
  OpInfo i{};
  i.op = r.op;
  i.opcode = r.opcode;
  i.sel = r.sel;
  i.selval = r.selval;
  i.form = r.form;
  i.mnemonic = r.mnemonic;
  i.isa = r.isa;
  i.cls = static_cast<OpClass>(r.opcode & 7);
  i.alu = AluOp::None;
  i.cond = Cond::None;
  i.atomic = AtomicOp::None;
  switch (i.cls) {
    case OpClass::Alu:
    case OpClass::Alu64:
      i.is64 = i.cls == OpClass::Alu64;
      i.alu = alu_op(r);
      i.src_reg = r.form == Form::AluReg || r.form == Form::AddrSpaceCast;
      if (i.alu == AluOp::Movsx) {
        i.sign_ext = true;
        i.ext_bits = static_cast<uint8_t>(r.selval);
      }
      if (r.form == Form::End) {
        i.ext_bits = static_cast<uint8_t>(r.selval);
        i.is64 = r.selval == 64;
      }
      break;
    case OpClass::Jmp:
    case OpClass::Jmp32:
      i.is64 = i.cls == OpClass::Jmp;
      i.src_reg = r.form == Form::JmpReg || r.form == Form::Callx;
      if (r.form == Form::Ja || r.form == Form::Ja32 || r.form == Form::JmpImm || r.form == Form::JmpReg)
        i.cond = jmp_cond(r.opcode);
      break;
    case OpClass::Ld:
    case OpClass::Ldx:
    case OpClass::St:
    case OpClass::Stx:
      i.size = r.form == Form::Lddw ? 8 : mem_size(r.opcode);
      i.is64 = i.size == 8;
      i.sign_ext = (r.opcode & 0xe0) == 0x80 && i.cls == OpClass::Ldx;
      i.src_reg = r.form == Form::Stx || r.form == Form::Atomic || r.form == Form::StoreRelease ||
                  r.form == Form::Ldx || r.form == Form::LoadAcquire || r.form == Form::LdInd;
      if (r.form == Form::Atomic) {
        i.atomic = atomic_op(r.selval);
        i.fetch = (r.selval & 1) != 0;
      }
      break;
  }
  return i;
}

struct Table {
  std::array<OpInfo, kNumOps> ops{};
  constexpr Table() {
    for (size_t k = 0; k < kNumOps; ++k)
      ops[k] = derive(kRows[k]);
  }
};

// Built at compile time: op_info, called for almost every instruction by every stage, is a load.
constexpr Table kTable;

}  // namespace

const OpInfo& op_info(Op op) {
  return kTable.ops[static_cast<size_t>(op)];
}
std::span<const OpInfo> all_ops() {
  return kTable.ops;
}

}  // namespace bpfvm
