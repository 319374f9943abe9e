#include "vm/decode.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

namespace bpfvm {
namespace {

// Rows grouped by opcode byte: kByOpcode[opcode] lists the Ops with that byte.
struct OpcodeIndex {
  std::array<std::vector<Op>, 256> rows;
  OpcodeIndex() {
    for (const OpInfo& i : all_ops()) rows[i.opcode].push_back(i.op);
  }
};
const OpcodeIndex& opcode_index() {
  static const OpcodeIndex idx;
  return idx;
}

int32_t selector_value(const RawInsn& raw, Sel sel) {
  switch (sel) {
    case Sel::Off: return raw.off;
    case Sel::Imm: return raw.imm;
    case Sel::Src: return raw.src;
    case Sel::None: return 0;
  }
  return 0;
}

// Field usage per form: which fields are used; the others must be zero.
struct Fields {
  bool dst, src, off, imm;
  bool writes_dst;
};

Fields fields_of(Form f) {
  switch (f) {
    case Form::AluImm: return {true, false, false, true, true};
    case Form::AluReg: return {true, true, false, false, true};
    case Form::AluNeg: return {true, false, false, false, true};
    case Form::End: return {true, false, false, false, true};
    case Form::AddrSpaceCast: return {true, true, false, true, true};
    case Form::Ja: return {false, false, true, false, false};
    case Form::Ja32: return {false, false, false, true, false};
    case Form::JmpImm: return {true, false, true, true, false};
    case Form::JmpReg: return {true, true, true, false, false};
    case Form::Call: return {false, false, false, true, false};
    case Form::CallLocal: return {false, false, false, true, false};
    case Form::CallKfunc: return {false, false, true, true, false};
    case Form::Callx: return {true, false, false, false, false};
    case Form::Exit: return {false, false, false, false, false};
    case Form::MayGoto: return {false, false, true, false, false};
    case Form::Lddw: return {true, false, false, true, true};
    case Form::Ldx: return {true, true, true, false, true};
    case Form::St: return {true, false, true, true, false};
    case Form::Stx: return {true, true, true, false, false};
    case Form::Atomic: return {true, true, true, false, false};
    case Form::LoadAcquire: return {true, true, true, false, true};
    case Form::StoreRelease: return {true, true, true, false, false};
    case Form::LdAbs: return {false, false, false, true, false};
    case Form::LdInd: return {false, true, false, true, false};
  }
  return {};
}

Error err(ErrorCode c, uint32_t pc, std::string msg) { return Error{c, pc, std::move(msg)}; }

// Checks the fields of one slot against its row. `raw` has already matched `info`.
Status check_fields(const RawInsn& raw, const OpInfo& info, uint32_t pc) {
  Fields f = fields_of(info.form);
  // The selector field is used by definition.
  if (info.sel == Sel::Off) f.off = true;
  if (info.sel == Sel::Imm) f.imm = true;
  if (info.sel == Sel::Src) f.src = true;
  auto reserved = [&](const char* field, int64_t v) {
    return err(ErrorCode::kReservedField, pc,
               fmt::format("{}: reserved field {} must be 0, is {}", info.mnemonic, field, v));
  };
  if (!f.dst && raw.dst != 0) return reserved("dst", raw.dst);
  if (!f.src && raw.src != 0) return reserved("src", raw.src);
  if (!f.off && raw.off != 0) return reserved("offset", raw.off);
  if (!f.imm && raw.imm != 0) return reserved("imm", raw.imm);
  if (f.dst && raw.dst > 10) return err(ErrorCode::kBadRegister, pc, fmt::format("invalid destination register r{}", raw.dst));
  if (f.src && info.sel != Sel::Src && raw.src > 10)
    return err(ErrorCode::kBadRegister, pc, fmt::format("invalid source register r{}", raw.src));
  if (f.writes_dst && raw.dst == kFrameReg)
    return err(ErrorCode::kWriteToR10, pc, fmt::format("{} writes r10, which is read-only", info.mnemonic));
  if (info.form == Form::Atomic && info.fetch && info.atomic != AtomicOp::Cmpxchg && raw.src == kFrameReg)
    return err(ErrorCode::kWriteToR10, pc, fmt::format("{} writes r10, which is read-only", info.mnemonic));
  if (!info.src_reg && info.form == Form::Callx) {
    // callx reads the register in dst; nothing else to check.
  }
  return Ok{};
}

bool is_jump_form(Form f) {
  return f == Form::Ja || f == Form::Ja32 || f == Form::JmpImm || f == Form::JmpReg || f == Form::MayGoto;
}
bool has_target(Form f, const Insn& in) {
  return is_jump_form(f) || f == Form::CallLocal ||
         (f == Form::Lddw && in.src == static_cast<uint8_t>(LddwSrc::Func));
}
// Relative slot offset of the target, counted from the next slot.
int64_t relative_target(const Insn& in, Form f) {
  if (f == Form::Ja || f == Form::JmpImm || f == Form::JmpReg || f == Form::MayGoto) return in.off;
  return in.imm;  // ja32, call local, lddw func
}

}  // namespace

bool lookup_op(const RawInsn& raw, Op* op) {
  for (Op candidate : opcode_index().rows[raw.opcode]) {
    const OpInfo& i = op_info(candidate);
    if (i.sel == Sel::None || selector_value(raw, i.sel) == i.selval) {
      *op = candidate;
      return true;
    }
  }
  return false;
}

int32_t Program::index_of_slot(uint32_t slot) const {
  if (slot >= num_slots) return -1;
  auto it = std::lower_bound(insns.begin(), insns.end(), slot,
                             [](const Insn& in, uint32_t s) { return in.pc < s; });
  if (it == insns.end() || it->pc != slot) return -1;
  return static_cast<int32_t>(it - insns.begin());
}

Result<Program> decode(std::span<const uint8_t> bytes, const DecodeOptions& opts) {
  if (bytes.empty()) return err(ErrorCode::kEmptyProgram, kNoPc, "empty program");
  if (bytes.size() % 8 != 0)
    return err(ErrorCode::kTruncated, static_cast<uint32_t>(bytes.size() / 8),
               fmt::format("program size {} is not a multiple of 8 bytes", bytes.size()));
  size_t nslots = bytes.size() / 8;
  if (nslots > opts.max_insns)
    return err(ErrorCode::kProgramTooLarge, kNoPc,
               fmt::format("program has {} instructions, the limit is {}", nslots, opts.max_insns));
  std::vector<Insn> insns;
  insns.reserve(nslots);
  for (size_t s = 0; s < nslots; ++s) {
    RawInsn raw;
    std::memcpy(&raw, bytes.data() + s * 8, 8);
    uint32_t pc = static_cast<uint32_t>(s);
    Op op;
    if (!lookup_op(raw, &op)) {
      if (opcode_index().rows[raw.opcode].empty())
        return err(ErrorCode::kUnknownOpcode, pc, fmt::format("unknown opcode 0x{:02x}", raw.opcode));
      const OpInfo& first = op_info(opcode_index().rows[raw.opcode].front());
      const char* field = first.sel == Sel::Off ? "offset" : first.sel == Sel::Imm ? "imm" : "src";
      return err(ErrorCode::kUnknownOpcode, pc,
                 fmt::format("unknown opcode 0x{:02x} with {} {}", raw.opcode, field, selector_value(raw, first.sel)));
    }
    const OpInfo& info = op_info(op);
    BPFVM_TRY(check_fields(raw, info, pc));
    Insn in;
    in.op = op;
    in.dst = raw.dst;
    in.src = raw.src;
    in.off = raw.off;
    in.imm = raw.imm;
    in.pc = pc;
    in.imm64 = static_cast<uint64_t>(static_cast<int64_t>(raw.imm));
    if (info.form == Form::Lddw) {
      if (s + 1 >= nslots) return err(ErrorCode::kLddwIncomplete, pc, "lddw without its second slot at the end of the program");
      RawInsn hi;
      std::memcpy(&hi, bytes.data() + (s + 1) * 8, 8);
      if (hi.opcode != 0 || hi.dst != 0 || hi.src != 0 || hi.off != 0)
        return err(ErrorCode::kLddwIncomplete, pc,
                   "lddw second slot must have opcode, registers and offset 0 (only the high 32 bits in imm)");
      in.imm64 = static_cast<uint32_t>(raw.imm) | (static_cast<uint64_t>(static_cast<uint32_t>(hi.imm)) << 32);
      ++s;
    }
    insns.push_back(in);
  }
  Result<Program> p = link(std::move(insns), opts);
  return p;
}

Result<Program> link(std::vector<Insn> insns, const DecodeOptions& opts) {
  if (insns.empty()) return err(ErrorCode::kEmptyProgram, kNoPc, "empty program");
  Program p;
  // Assign slots.
  uint32_t slot = 0;
  std::vector<int32_t> slot_to_index;
  slot_to_index.reserve(insns.size() + 8);
  for (size_t k = 0; k < insns.size(); ++k) {
    insns[k].pc = slot;
    slot_to_index.push_back(static_cast<int32_t>(k));
    if (insns[k].info().form == Form::Lddw) slot_to_index.push_back(-1);
    slot += insns[k].slots();
  }
  if (slot > opts.max_insns)
    return err(ErrorCode::kProgramTooLarge, kNoPc,
               fmt::format("program has {} instructions, the limit is {}", slot, opts.max_insns));
  p.num_slots = slot;
  p.subprogs.push_back(0);
  // Resolve targets.
  for (Insn& in : insns) {
    const OpInfo& info = in.info();
    if (!opts.allow_unsupported) {
      if (info.form == Form::MayGoto)
        return err(ErrorCode::kUnsupported, in.pc, "may_goto is not supported by bpfvm");
      if (info.form == Form::AddrSpaceCast)
        return err(ErrorCode::kUnsupported, in.pc, "addr_space_cast (BPF arena) is not supported by bpfvm");
    }
    in.target = -1;
    if (!has_target(info.form, in)) continue;
    // Targets count from the next slot; for lddw func (BPF_PSEUDO_FUNC) the kernel counts from the
    // lddw's second slot: target = pc + 1 + imm (verifier.c, add_subprog_and_kfunc).
    int64_t next = static_cast<int64_t>(in.pc) + (info.form == Form::Lddw ? 1 : in.slots());
    int64_t t = next + relative_target(in, info.form);
    const char* what = info.form == Form::CallLocal ? "call" : info.form == Form::Lddw ? "function reference" : "jump";
    if (t < 0 || t >= static_cast<int64_t>(p.num_slots))
      return err(ErrorCode::kJumpOutOfRange, in.pc,
                 fmt::format("{} target {} is outside the program (slots 0..{})", what, t, p.num_slots - 1));
    int32_t idx = slot_to_index[static_cast<size_t>(t)];
    if (idx < 0)
      return err(ErrorCode::kJumpIntoLddw, in.pc,
                 fmt::format("{} target {} is the second slot of an lddw", what, t));
    in.target = idx;
    if (info.form == Form::CallLocal || info.form == Form::Lddw) p.subprogs.push_back(static_cast<uint32_t>(idx));
  }
  std::sort(p.subprogs.begin(), p.subprogs.end());
  p.subprogs.erase(std::unique(p.subprogs.begin(), p.subprogs.end()), p.subprogs.end());
  // Per subprogram: jumps stay inside, the last instruction is exit or an unconditional jump.
  for (size_t s = 0; s < p.subprogs.size(); ++s) {
    uint32_t begin = p.subprogs[s];
    uint32_t end = s + 1 < p.subprogs.size() ? p.subprogs[s + 1] : static_cast<uint32_t>(insns.size());
    for (uint32_t k = begin; k < end; ++k) {
      const Insn& in = insns[k];
      if (in.target >= 0 && is_jump_form(in.info().form) &&
          (static_cast<uint32_t>(in.target) < begin || static_cast<uint32_t>(in.target) >= end))
        return err(ErrorCode::kJumpOutOfRange, in.pc,
                   fmt::format("jump to slot {} leaves the function that starts at slot {}", insns[in.target].pc,
                               insns[begin].pc));
    }
    const Insn& last = insns[end - 1];
    Form lf = last.info().form;
    if (lf != Form::Exit && lf != Form::Ja && lf != Form::Ja32)
      return err(ErrorCode::kFallsOffEnd, last.pc,
                 s + 1 < p.subprogs.size()
                     ? fmt::format("the function that starts at slot {} falls through into the next one: its last "
                                   "instruction is not exit or ja",
                                   insns[begin].pc)
                     : std::string("the program can fall off its end: the last instruction is not exit or ja"));
  }
  p.insns = std::move(insns);
  return p;
}

std::vector<uint8_t> encode(std::span<const Insn> insns) {
  std::vector<uint8_t> out;
  out.reserve(insns.size() * 8 + 8);
  auto put = [&](const RawInsn& r) {
    uint8_t b[8];
    std::memcpy(b, &r, 8);
    out.insert(out.end(), b, b + 8);
  };
  for (const Insn& in : insns) {
    RawInsn r{};
    r.opcode = in.info().opcode;
    r.dst = in.dst & 0xf;
    r.src = in.src & 0xf;
    r.off = in.off;
    r.imm = in.imm;
    if (in.info().form == Form::Lddw) {
      r.imm = static_cast<int32_t>(static_cast<uint32_t>(in.imm64));
      put(r);
      RawInsn hi{};
      hi.imm = static_cast<int32_t>(static_cast<uint32_t>(in.imm64 >> 32));
      put(hi);
    } else {
      put(r);
    }
  }
  return out;
}

}  // namespace bpfvm
