#include "vm/disasm.h"

#include <fmt/format.h>

#include "vm/asm.h"

namespace bpfvm {
namespace {

std::string reg(uint8_t r) {
  return fmt::format("%r{}", r);
}

// "+3", "-2", "+0": relative slot offsets.
std::string rel(int64_t v) {
  return v < 0 ? fmt::format("{}", v) : fmt::format("+{}", v);
}

std::string mem(uint8_t r, int16_t off) {
  if (off == 0) return fmt::format("[%r{}]", r);
  return fmt::format("[%r{}{}]", r, rel(off));
}

std::string lddw_operand(const Insn& in) {
  auto src = static_cast<LddwSrc>(in.src);
  uint32_t lo = static_cast<uint32_t>(in.imm64);
  uint32_t hi = static_cast<uint32_t>(in.imm64 >> 32);
  if (src == LddwSrc::Imm64) return fmt::format("{:#x}", in.imm64);
  std::string_view name = lddw_pseudo_name(in.src);
  std::string arg =
      src == LddwSrc::Func ? rel(static_cast<int32_t>(lo)) : fmt::format("{}", static_cast<int32_t>(lo));
  // The high half is printed for the value forms always, for the others only when non-zero (the
  // kernel requires it to be zero there, but the encoding allows it and the text must round-trip).
  bool show_hi = hi != 0 || src == LddwSrc::MapValue || src == LddwSrc::MapIdxValue;
  if (!show_hi) return fmt::format("{}({})", name, arg);
  return fmt::format("{}({})+{}", name, arg, hi);
}

}  // namespace

std::string disassemble_insn(const Insn& in) {
  const OpInfo& info = in.info();
  std::string_view m = info.mnemonic;
  switch (info.form) {
    case Form::AluImm:
      return fmt::format("{} {}, {}", m, reg(in.dst), in.imm);
    case Form::AluReg:
      return fmt::format("{} {}, {}", m, reg(in.dst), reg(in.src));
    case Form::AluNeg:
    case Form::End:
    case Form::Callx:
      return fmt::format("{} {}", m, reg(in.dst));
    case Form::AddrSpaceCast:
      return fmt::format("{} {}, {}, {}", m, reg(in.dst), reg(in.src), in.imm);
    case Form::Ja:
    case Form::MayGoto:
      return fmt::format("{} {}", m, rel(in.off));
    case Form::Ja32:
    case Form::CallLocal:
      return fmt::format("{} {}", m, rel(in.imm));
    case Form::JmpImm:
      return fmt::format("{} {}, {}, {}", m, reg(in.dst), in.imm, rel(in.off));
    case Form::JmpReg:
      return fmt::format("{} {}, {}, {}", m, reg(in.dst), reg(in.src), rel(in.off));
    case Form::Call:
    case Form::LdAbs:
      return fmt::format("{} {}", m, in.imm);
    case Form::CallKfunc:
      if (in.off == 0) return fmt::format("{} {}", m, in.imm);
      return fmt::format("{} {}, {}", m, in.imm, in.off);
    case Form::Exit:
      return std::string(m);
    case Form::Lddw:
      return fmt::format("{} {}, {}", m, reg(in.dst), lddw_operand(in));
    case Form::Ldx:
    case Form::LoadAcquire:
      return fmt::format("{} {}, {}", m, reg(in.dst), mem(in.src, in.off));
    case Form::St:
      return fmt::format("{} {}, {}", m, mem(in.dst, in.off), in.imm);
    case Form::Stx:
    case Form::Atomic:
    case Form::StoreRelease:
      return fmt::format("{} {}, {}", m, mem(in.dst, in.off), reg(in.src));
    case Form::LdInd:
      return fmt::format("{} {}, {}", m, reg(in.src), in.imm);
  }
  return fmt::format("<form {}>", static_cast<int>(info.form));
}

std::string disassemble(const Program& program, const DisasmOptions& opts) {
  std::string out;
  for (const Insn& in : program.insns) {
    if (opts.show_pc) out += fmt::format("{:4}: ", in.pc);
    out += disassemble_insn(in);
    if (opts.annotate) {
      std::string note = opts.annotate(in);
      for (char& c : note)
        if (c == '\n' || c == '\r') c = ' ';
      if (!note.empty()) out += "  # " + note;
    }
    out += '\n';
  }
  return out;
}

}  // namespace bpfvm
