// The instruction set, generated from opcodes.def: the Op enum, per-row information, and the typed
// instruction (Insn) that every stage after the decoder reads.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace bpfvm {

enum class Op : uint8_t {
#define BPF_OP(name, opcode, sel, selval, form, mnemonic, isa) name,
#include "vm/opcodes.def"
#undef BPF_OP
  kCount
};
constexpr size_t kNumOps = static_cast<size_t>(Op::kCount);

// Which raw field distinguishes rows sharing an opcode byte.
enum class Sel : uint8_t { None, Off, Imm, Src };

// Operand shape of an instruction. It fixes which raw fields are used (the rest must be zero) and
// how the instruction reads in assembly.
enum class Form : uint8_t {
  AluImm,         // op dst, imm
  AluReg,         // op dst, src
  AluNeg,         // neg dst
  End,            // le16/be32/bswap64 dst (width in imm)
  AddrSpaceCast,  // addr_space_cast dst, src, imm (arena; unsupported)
  Ja,             // ja off
  Ja32,           // ja32 imm (gotol)
  JmpImm,         // jeq dst, imm, off
  JmpReg,         // jeq dst, src, off
  Call,           // call imm (helper number)
  CallLocal,      // call local imm (relative slot offset)
  CallKfunc,      // call kfunc imm (BTF id), off (module fd index)
  Callx,          // callx dst (helper number or function address in dst)
  Exit,           // exit
  MayGoto,        // may_goto off (unsupported)
  Lddw,           // lddw dst, imm64 (pseudo source in src)
  Ldx,            // ldx dst, [src+off]
  St,             // st [dst+off], imm
  Stx,            // stx [dst+off], src
  Atomic,         // lock op [dst+off], src
  LoadAcquire,    // dst = load_acquire [src+off]
  StoreRelease,   // store_release [dst+off], src
  LdAbs,          // r0 = ntoh(*(packet + imm))  (legacy)
  LdInd,          // r0 = ntoh(*(packet + src + imm))  (legacy)
};

// RFC 9669 instruction classes (low 3 bits of the opcode).
enum class OpClass : uint8_t { Ld = 0, Ldx = 1, St = 2, Stx = 3, Alu = 4, Jmp = 5, Jmp32 = 6, Alu64 = 7 };

// ALU operations (high 4 bits of an ALU opcode), with signed variants and movsx folded in.
enum class AluOp : uint8_t { Add, Sub, Mul, Div, Sdiv, Or, And, Lsh, Rsh, Neg, Mod, Smod, Xor, Mov, Movsx, Arsh,
                             Le, Be, Bswap, None };
// Conditions of conditional jumps.
enum class Cond : uint8_t { Eq, Gt, Ge, Set, Ne, Sgt, Sge, Lt, Le, Slt, Sle, Always, None };
// Atomic operations (BPF_ATOMIC imm, without the fetch bit).
enum class AtomicOp : uint8_t { Add, Or, And, Xor, Xchg, Cmpxchg, None };

// Pseudo sources of lddw (the src field), as in linux/bpf.h.
enum class LddwSrc : uint8_t { Imm64 = 0, MapFd = 1, MapValue = 2, BtfId = 3, Func = 4, MapIdx = 5,
                               MapIdxValue = 6 };

struct OpInfo {
  Op op;
  uint8_t opcode;
  Sel sel;
  int32_t selval;
  Form form;
  std::string_view mnemonic;
  uint8_t isa;  // 1..4
  // Derived from the opcode byte once, so that no later stage looks at opcode bits.
  OpClass cls;
  bool is64;       // 64-bit ALU or JMP class (as opposed to ALU32/JMP32); for memory ops: size == 8
  bool src_reg;    // BPF_X: the second operand is a register
  uint8_t size;    // memory access size in bytes (loads, stores, atomics, LD_ABS/IND), else 0
  bool sign_ext;   // sign-extending load (ldxs*) or movsx
  bool fetch;      // atomic that writes back the old value (fetch variants, xchg, cmpxchg)
  AluOp alu;
  Cond cond;
  AtomicOp atomic;
  uint8_t ext_bits;  // movsx: source width; byte swaps: width
};

// Information about one opcode row. `op` must be valid.
const OpInfo& op_info(Op op);
// All rows, in table order.
std::span<const OpInfo> all_ops();

// The encoded 64-bit instruction slot (RFC 9669 section 3, little-endian host).
struct RawInsn {
  uint8_t opcode;
  uint8_t dst : 4;
  uint8_t src : 4;
  int16_t off;
  int32_t imm;
};
static_assert(sizeof(RawInsn) == 8);

// The typed instruction. `lddw` is one instruction (its second slot folded into imm64).
// Raw field values are kept, so the instruction encodes back to the exact bytes it came from.
struct Insn {
  Op op;
  uint8_t dst = 0;
  uint8_t src = 0;
  int16_t off = 0;
  int32_t imm = 0;
  uint32_t pc = 0;       // slot index of the instruction in the encoded program
  int32_t target = -1;   // jumps, local calls, lddw func: index (into the Insn list) of the target
  uint64_t imm64 = 0;    // lddw: the 64-bit immediate (second slot's imm in the high half)

  const OpInfo& info() const { return op_info(op); }
  // Number of 8-byte slots the instruction occupies (2 for lddw, else 1).
  uint32_t slots() const { return info().form == Form::Lddw ? 2 : 1; }
};

constexpr int kNumRegs = 11;  // r0..r10
constexpr int kFrameReg = 10;
constexpr uint32_t kStackSize = 512;  // bytes per frame, as in the kernel
constexpr int kMaxCallDepth = 8;      // frames, as the kernel's MAX_CALL_FRAMES

}  // namespace bpfvm
