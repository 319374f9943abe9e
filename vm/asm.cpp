#include "vm/asm.h"

#include <cctype>
#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "vm/text_util.h"

namespace bpfvm {
namespace {

// Names of the lddw pseudo sources, indexed by the src field (LddwSrc). `map(NAME)` is an extra
// spelling of source 1 that records a MapRef.
constexpr std::string_view kPseudoNames[] = {"",     "map_fd",  "map_value",    "btf_id",
                                             "func", "map_idx", "map_idx_value"};
constexpr std::string_view kMapByName = "map";
constexpr size_t kMaxMnemonicWords = 3;  // "lock fetch add32"

// Mnemonic -> candidate rows, built from the opcode table. Two aliases are added on top of the
// table: the conformance suite's `swap16/32/64` for `bswap16/32/64`, and `call runtime` for
// `call kfunc`. (`call %rN` is turned into `callx` where the operand is parsed.)
struct MnemonicIndex {
  std::unordered_map<std::string, std::vector<Op>> rows;
  std::unordered_set<std::string> first_words;  // of multi-word mnemonics: "call", "lock"
  MnemonicIndex() {
    for (const OpInfo& i : all_ops()) {
      std::string m(i.mnemonic);
      rows[m].push_back(i.op);
      if (i.form == Form::End && m.rfind("bswap", 0) == 0) rows[m.substr(1)].push_back(i.op);
      size_t sp = m.find(' ');
      if (sp != std::string::npos) first_words.insert(m.substr(0, sp));
    }
    rows["call runtime"] = {Op::CallKfunc};
  }
};
const MnemonicIndex& mnemonic_index() {
  static const MnemonicIndex idx;
  return idx;
}

Error syntax(uint32_t line, std::string msg) {
  return Error{ErrorCode::kAsmSyntax, line, std::move(msg)};
}

using text::is_space;
using text::trim;

bool is_ident(std::string_view s) {
  if (s.empty()) return false;
  auto first = static_cast<unsigned char>(s[0]);
  if (!(std::isalpha(first) || s[0] == '_' || s[0] == '.')) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '_' || c == '.' || c == '$')) return false;
  }
  return true;
}

// ---- Numbers ----

enum class NumStatus { kOk, kNotNumber, kTooBig };
struct Num {
  bool neg = false;
  bool hex = false;
  uint64_t mag = 0;
};

// Decimal or 0x-hex, with an optional sign.
NumStatus parse_num(std::string_view s, Num* out) {
  Num n;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    n.neg = s[i] == '-';
    ++i;
  }
  if (s.size() - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    n.hex = true;
    i += 2;
  }
  if (i == s.size()) return NumStatus::kNotNumber;
  const uint64_t base = n.hex ? 16 : 10;
  bool too_big = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (n.hex && c >= 'a' && c <= 'f') {
      d = static_cast<uint64_t>(c - 'a' + 10);
    } else if (n.hex && c >= 'A' && c <= 'F') {
      d = static_cast<uint64_t>(c - 'A' + 10);
    } else {
      return NumStatus::kNotNumber;
    }
    if (n.mag > (std::numeric_limits<uint64_t>::max() - d) / base)
      too_big = true;
    else
      n.mag = n.mag * base + d;
  }
  *out = n;
  return too_big ? NumStatus::kTooBig : NumStatus::kOk;
}

// Signed value of a number whose magnitude is at most 2^63, else nullopt.
std::optional<int64_t> signed_value(const Num& n) {
  constexpr uint64_t kMinMag = uint64_t{1} << 63;
  if (n.neg) {
    if (n.mag > kMinMag) return std::nullopt;
    return n.mag == kMinMag ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(n.mag);
  }
  if (n.mag >= kMinMag) return std::nullopt;
  return static_cast<int64_t>(n.mag);
}

// A 32-bit immediate: int32 when written in decimal, uint32 (or a negated value down to INT32_MIN)
// when written in hex.
Result<int32_t> parse_imm32(std::string_view tok, uint32_t line, std::string_view what = "immediate") {
  Num n;
  NumStatus st = parse_num(tok, &n);
  if (st == NumStatus::kNotNumber) return syntax(line, fmt::format("expected {}, got '{}'", what, tok));
  if (st == NumStatus::kOk) {
    if (n.hex && !n.neg && n.mag <= 0xffffffffu) return static_cast<int32_t>(static_cast<uint32_t>(n.mag));
    std::optional<int64_t> v = signed_value(n);
    if (v && *v >= std::numeric_limits<int32_t>::min() && *v <= std::numeric_limits<int32_t>::max())
      return static_cast<int32_t>(*v);
  }
  return syntax(line, fmt::format("{} {} does not fit in 32 bits", what, tok));
}

Result<uint64_t> parse_imm64(std::string_view tok, uint32_t line) {
  Num n;
  NumStatus st = parse_num(tok, &n);
  if (st == NumStatus::kNotNumber)
    return syntax(line,
                  fmt::format("expected 64-bit immediate or pseudo source such as map_fd(N), got '{}'", tok));
  if (st == NumStatus::kOk) {
    if (!n.neg) return n.mag;
    if (std::optional<int64_t> v = signed_value(n)) return static_cast<uint64_t>(*v);
  }
  return syntax(line, fmt::format("immediate {} does not fit in 64 bits", tok));
}

Result<int16_t> parse_off16(std::string_view tok, uint32_t line) {
  Num n;
  NumStatus st = parse_num(tok, &n);
  if (st == NumStatus::kNotNumber) return syntax(line, fmt::format("expected offset, got '{}'", tok));
  if (st == NumStatus::kOk) {
    std::optional<int64_t> v = signed_value(n);
    if (v && *v >= std::numeric_limits<int16_t>::min() && *v <= std::numeric_limits<int16_t>::max())
      return static_cast<int16_t>(*v);
  }
  return syntax(line, fmt::format("offset {} does not fit in 16 bits", tok));
}

// ---- Registers, memory operands, jump targets ----

Result<uint8_t> parse_reg(std::string_view tok, uint32_t line) {
  bool digits = tok.size() >= 3 && tok.size() <= 5 && tok[0] == '%' && tok[1] == 'r';
  for (size_t i = 2; digits && i < tok.size(); ++i)
    digits = tok[i] >= '0' && tok[i] <= '9';
  if (!digits) return syntax(line, fmt::format("expected register, got '{}'", tok));
  int v = 0;
  for (size_t i = 2; i < tok.size(); ++i)
    v = v * 10 + (tok[i] - '0');
  if (v >= kNumRegs) return syntax(line, fmt::format("register {} out of range", tok));
  return static_cast<uint8_t>(v);
}

struct MemOperand {
  uint8_t reg;
  int16_t off;
};

Result<MemOperand> parse_mem(std::string_view tok, uint32_t line) {
  if (tok.size() < 2 || tok.front() != '[' || tok.back() != ']')
    return syntax(line, fmt::format("bad memory operand '{}' (expected [%rN], [%rN+off] or [%rN-off])", tok));
  std::string_view inner = tok.substr(1, tok.size() - 2);
  size_t sign = inner.find_first_of("+-");
  std::string_view reg = inner.substr(0, sign);
  if (reg.empty() || reg[0] != '%')
    return syntax(line, fmt::format("bad memory operand '{}' (expected [%rN], [%rN+off] or [%rN-off])", tok));
  Result<uint8_t> r = parse_reg(reg, line);
  if (!r) return r.error();
  MemOperand m{*r, 0};
  if (sign != std::string_view::npos) {
    std::string_view off = inner.substr(sign);
    Num n;
    if (off.size() < 2 || parse_num(off, &n) == NumStatus::kNotNumber)
      return syntax(line, fmt::format("bad memory operand '{}': bad offset '{}'", tok, off));
    Result<int16_t> o = parse_off16(off, line);
    if (!o) return o.error();
    m.off = *o;
  }
  return m;
}

struct Target {
  std::string token;
  bool relative = false;
  int64_t rel = 0;
  std::string label;
};

Result<Target> parse_target(std::string_view tok, uint32_t line) {
  Target t;
  t.token = std::string(tok);
  if (!tok.empty() && (tok[0] == '+' || tok[0] == '-')) {
    Num n;
    NumStatus st = parse_num(tok, &n);
    if (st == NumStatus::kNotNumber) return syntax(line, fmt::format("bad jump target '{}'", tok));
    std::optional<int64_t> v = st == NumStatus::kOk ? signed_value(n) : std::nullopt;
    if (!v || *v < std::numeric_limits<int32_t>::min() || *v > std::numeric_limits<int32_t>::max())
      return syntax(line, fmt::format("jump target {} out of range", tok));
    t.relative = true;
    t.rel = *v;
    return t;
  }
  if (!is_ident(tok))
    return syntax(line, fmt::format("bad jump target '{}' (expected a label or +N/-N)", tok));
  t.label = std::string(tok);
  return t;
}

// ---- Instructions ----

enum class TargetField { kNone, kOff, kImm };

struct Pending {
  Insn insn;
  uint32_t line = 0;
  TargetField field = TargetField::kNone;
  Target target;
};

int operand_count(Form f) {
  switch (f) {
    case Form::Exit:
      return 0;
    case Form::AluNeg:
    case Form::End:
    case Form::Ja:
    case Form::Ja32:
    case Form::Call:
    case Form::CallLocal:
    case Form::Callx:
    case Form::MayGoto:
    case Form::LdAbs:
      return 1;
    case Form::AluImm:
    case Form::AluReg:
    case Form::Lddw:
    case Form::Ldx:
    case Form::St:
    case Form::Stx:
    case Form::Atomic:
    case Form::LoadAcquire:
    case Form::StoreRelease:
    case Form::LdInd:
    case Form::CallKfunc:
      return 2;  // kfunc: the module offset is optional
    case Form::AddrSpaceCast:
    case Form::JmpImm:
    case Form::JmpReg:
      return 3;
  }
  return 0;
}

class Assembler {
 public:
  explicit Assembler(const AsmOptions& opts) : opts_(opts) {}

  Result<AsmOutput> run(std::string_view text) {
    uint32_t line_no = 0;
    size_t pos = 0;
    while (true) {
      size_t nl = text.find('\n', pos);
      std::string_view line =
          text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      ++line_no;
      if (Status s = parse_line(line, line_no); !s) return s.error();
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
    return finish();
  }

 private:
  static std::string_view strip_comment(std::string_view line) {
    size_t cut = line.size();
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '#' || line[i] == ';' || (line[i] == '/' && i + 1 < line.size() && line[i + 1] == '/')) {
        cut = i;
        break;
      }
    }
    return line.substr(0, cut);
  }

  // Splits on whitespace, keeping whitespace inside [] and () out of the tokens.
  static std::vector<std::string> tokenize(std::string_view s) {
    std::vector<std::string> toks;
    std::string cur;
    int depth = 0;
    for (char c : s) {
      if (c == '[' || c == '(') ++depth;
      if ((c == ']' || c == ')') && depth > 0) --depth;
      if (is_space(c)) {
        if (depth > 0) continue;
        if (!cur.empty()) toks.push_back(std::move(cur));
        cur.clear();
        continue;
      }
      cur.push_back(c);
    }
    if (!cur.empty()) toks.push_back(std::move(cur));
    return toks;
  }

  Status parse_line(std::string_view raw, uint32_t line) {
    std::vector<std::string> toks = tokenize(trim(strip_comment(raw)));
    size_t k = 0;
    // Labels: `name:` (several may precede an instruction on the same line).
    while (k < toks.size() && toks[k].size() >= 1 && toks[k].back() == ':') {
      std::string name = toks[k].substr(0, toks[k].size() - 1);
      if (!is_ident(name)) return syntax(line, fmt::format("bad label '{}'", toks[k]));
      if (!labels_.emplace(name, static_cast<uint32_t>(pending_.size())).second)
        return syntax(line, fmt::format("duplicate label '{}'", name));
      ++k;
    }
    if (k == toks.size()) return Ok{};
    // Mnemonic: the longest run of up to three words that names a table row (or an alias).
    const MnemonicIndex& idx = mnemonic_index();
    const std::vector<Op>* cands = nullptr;
    std::string mnemonic;
    for (size_t words = std::min(kMaxMnemonicWords, toks.size() - k); words >= 1 && !cands; --words) {
      std::string key = toks[k];
      for (size_t w = 1; w < words; ++w)
        key += " " + toks[k + w];
      auto it = idx.rows.find(key);
      if (it != idx.rows.end()) {
        cands = &it->second;
        mnemonic = key;
        k += words;
      }
    }
    if (!cands) {
      std::string shown = toks[k];
      if (idx.first_words.count(shown) && k + 1 < toks.size()) shown += " " + toks[k + 1];
      return syntax(line, fmt::format("unknown mnemonic '{}'", shown));
    }
    // Operands: one trailing comma per token is dropped; commas inside a token separate operands.
    std::vector<std::string> ops;
    for (; k < toks.size(); ++k) {
      std::string_view t = toks[k];
      if (!t.empty() && t.back() == ',') t.remove_suffix(1);
      if (t.empty()) return syntax(line, "stray ','");
      while (true) {
        size_t comma = t.find(',');
        std::string_view piece = t.substr(0, comma);
        if (piece.empty()) return syntax(line, fmt::format("empty operand in '{}'", toks[k]));
        ops.emplace_back(piece);
        if (comma == std::string_view::npos) break;
        t = t.substr(comma + 1);
      }
    }
    // Row selection: `call %rN` is callx; otherwise the row whose operand kind (register or
    // immediate source) matches; lddw rows are chosen by the pseudo source.
    Op op = cands->front();
    if (op == Op::Call && !ops.empty() && ops[0].starts_with('%')) op = Op::Callx;
    if (cands->size() > 1 && op_info(op).form != Form::Lddw) {
      bool reg = ops.size() >= 2 && ops[1].starts_with('%');
      for (Op c : *cands)
        if (op_info(c).src_reg == reg) op = c;
    }
    const OpInfo& info = op_info(op);
    int want = operand_count(info.form);
    bool count_ok = static_cast<int>(ops.size()) == want || (info.form == Form::CallKfunc && ops.size() == 1);
    if (!count_ok)
      return syntax(line, fmt::format("'{}' takes {} operand{}, got {}", mnemonic,
                                      info.form == Form::CallKfunc ? "1 or 2" : std::to_string(want),
                                      want == 1 ? "" : "s", ops.size()));
    Pending p;
    p.line = line;
    p.insn.op = op;
    BPFVM_TRY(parse_operands(info, ops, line, &p));
    // lddw: the row is the one of the pseudo source that the operand named.
    if (info.form == Form::Lddw)
      for (Op c : *cands)
        if (op_info(c).selval == p.insn.src) p.insn.op = c;
    const OpInfo& row = p.insn.info();
    // The selector field is fixed by the row.
    switch (row.sel) {
      case Sel::Off:
        p.insn.off = static_cast<int16_t>(row.selval);
        break;
      case Sel::Imm:
        p.insn.imm = row.selval;
        break;
      case Sel::Src:
        p.insn.src = static_cast<uint8_t>(row.selval);
        break;
      case Sel::None:
        break;
    }
    if (info.form == Form::Exit && !first_exit_) first_exit_ = static_cast<uint32_t>(pending_.size());
    pending_.push_back(std::move(p));
    return Ok{};
  }

  Status set_target(std::string_view tok, uint32_t line, TargetField field, Pending* p) {
    Result<Target> t = parse_target(tok, line);
    if (!t) return t.error();
    p->target = std::move(*t);
    p->field = field;
    return Ok{};
  }

  Status parse_operands(const OpInfo& info, const std::vector<std::string>& ops, uint32_t line, Pending* p) {
    Insn& in = p->insn;
    auto reg = [&](size_t i, uint8_t* out) -> Status {
      Result<uint8_t> r = parse_reg(ops[i], line);
      if (!r) return r.error();
      *out = *r;
      return Ok{};
    };
    auto imm = [&](size_t i) -> Status {
      Result<int32_t> v = parse_imm32(ops[i], line);
      if (!v) return v.error();
      in.imm = *v;
      return Ok{};
    };
    auto mem = [&](size_t i, uint8_t* r) -> Status {
      Result<MemOperand> m = parse_mem(ops[i], line);
      if (!m) return m.error();
      *r = m->reg;
      in.off = m->off;
      return Ok{};
    };
    switch (info.form) {
      case Form::AluImm:
        BPFVM_TRY(reg(0, &in.dst));
        return imm(1);
      case Form::AluReg:
        BPFVM_TRY(reg(0, &in.dst));
        return reg(1, &in.src);
      case Form::AluNeg:
      case Form::End:
      case Form::Callx:
        return reg(0, &in.dst);
      case Form::AddrSpaceCast:
        BPFVM_TRY(reg(0, &in.dst));
        BPFVM_TRY(reg(1, &in.src));
        return imm(2);
      case Form::Ja:
      case Form::MayGoto:
        return set_target(ops[0], line, TargetField::kOff, p);
      case Form::Ja32:
      case Form::CallLocal:
        return set_target(ops[0], line, TargetField::kImm, p);
      case Form::JmpImm:
        BPFVM_TRY(reg(0, &in.dst));
        BPFVM_TRY(imm(1));
        return set_target(ops[2], line, TargetField::kOff, p);
      case Form::JmpReg:
        BPFVM_TRY(reg(0, &in.dst));
        BPFVM_TRY(reg(1, &in.src));
        return set_target(ops[2], line, TargetField::kOff, p);
      case Form::Call:
      case Form::LdAbs:
        return imm(0);
      case Form::CallKfunc: {
        BPFVM_TRY(imm(0));
        if (ops.size() < 2) return Ok{};
        Result<int16_t> o = parse_off16(ops[1], line);
        if (!o) return o.error();
        in.off = *o;
        return Ok{};
      }
      case Form::Exit:
        return Ok{};
      case Form::Lddw:
        BPFVM_TRY(reg(0, &in.dst));
        return parse_lddw_value(ops[1], line, p);
      case Form::Ldx:
      case Form::LoadAcquire:
        BPFVM_TRY(reg(0, &in.dst));
        return mem(1, &in.src);
      case Form::St:
        BPFVM_TRY(mem(0, &in.dst));
        return imm(1);
      case Form::Stx:
      case Form::Atomic:
      case Form::StoreRelease:
        BPFVM_TRY(mem(0, &in.dst));
        return reg(1, &in.src);
      case Form::LdInd:
        BPFVM_TRY(reg(0, &in.src));
        return imm(1);
    }
    return syntax(line, "internal: unhandled form");
  }

  // `lddw %rD, <value>` where value is a 64-bit number or a pseudo source `name(arg)[+off]`.
  Status parse_lddw_value(std::string_view tok, uint32_t line, Pending* p) {
    Insn& in = p->insn;
    size_t lp = tok.find('(');
    if (lp == std::string_view::npos || lp == 0 || !is_ident(tok.substr(0, lp))) {
      Result<uint64_t> v = parse_imm64(tok, line);
      if (!v) return v.error();
      in.src = 0;
      in.imm64 = *v;
      in.imm = static_cast<int32_t>(static_cast<uint32_t>(*v));
      return Ok{};
    }
    std::string_view name = tok.substr(0, lp);
    size_t rp = tok.find(')', lp);
    if (rp == std::string_view::npos)
      return syntax(line, fmt::format("bad lddw operand '{}': missing ')'", tok));
    std::string_view arg = tok.substr(lp + 1, rp - lp - 1);
    std::string_view suffix = tok.substr(rp + 1);
    uint8_t src = 0;
    bool by_name = false;
    if (name == kMapByName) {
      src = static_cast<uint8_t>(LddwSrc::MapFd);
      by_name = true;
      if (!is_ident(arg))
        return syntax(
            line, fmt::format("map() takes a map name, got '{}' (use map_fd(N) for a file descriptor)", arg));
    } else {
      for (size_t s = 1; s < std::size(kPseudoNames); ++s)
        if (kPseudoNames[s] == name) src = static_cast<uint8_t>(s);
      if (src == 0) return syntax(line, fmt::format("unknown lddw pseudo source '{}'", name));
      if (src == static_cast<uint8_t>(LddwSrc::MapValue) && is_ident(arg)) by_name = true;
    }
    // Optional +off/-off: the second slot's imm (the high half of imm64).
    uint32_t hi = 0;
    if (!suffix.empty()) {
      Num n;
      NumStatus st = parse_num(suffix, &n);
      if ((suffix[0] != '+' && suffix[0] != '-') || st == NumStatus::kNotNumber)
        return syntax(line, fmt::format("bad lddw operand '{}': expected +off or -off after ')'", tok));
      std::optional<int64_t> v = st == NumStatus::kOk ? signed_value(n) : std::nullopt;
      if (!v || *v < std::numeric_limits<int32_t>::min() || *v > std::numeric_limits<uint32_t>::max())
        return syntax(line, fmt::format("lddw offset {} does not fit in 32 bits", suffix));
      hi = static_cast<uint32_t>(*v);
    }
    in.src = src;
    in.imm = 0;
    if (by_name) {
      map_refs_.push_back(MapRef{static_cast<uint32_t>(pending_.size()), std::string(arg)});
    } else if (src == static_cast<uint8_t>(LddwSrc::Func)) {
      BPFVM_TRY(set_target(arg, line, TargetField::kImm, p));
    } else {
      Result<int32_t> v = parse_imm32(arg, line, fmt::format("{}() argument", name));
      if (!v) return v.error();
      in.imm = *v;
    }
    in.imm64 = static_cast<uint32_t>(in.imm) | (static_cast<uint64_t>(hi) << 32);
    return Ok{};
  }

  Result<AsmOutput> finish() {
    if (!labels_.count("exit") && first_exit_) labels_.emplace("exit", *first_exit_);
    // Slots.
    std::vector<uint32_t> slot_of(pending_.size() + 1, 0);
    std::vector<uint32_t> slot_line;
    uint32_t slot = 0;
    for (size_t i = 0; i < pending_.size(); ++i) {
      slot_of[i] = slot;
      uint32_t n = pending_[i].insn.slots();
      for (uint32_t s = 0; s < n; ++s)
        slot_line.push_back(pending_[i].line);
      slot += n;
    }
    slot_of[pending_.size()] = slot;
    const int64_t num_slots = slot;
    // Targets.
    for (size_t i = 0; i < pending_.size(); ++i) {
      Pending& p = pending_[i];
      if (p.field == TargetField::kNone) continue;
      // Offsets count from the next slot, except for lddw func: the kernel counts its imm from the
      // lddw's second slot (target = pc + 1 + imm), so that is where `next` is for it.
      int64_t next = static_cast<int64_t>(slot_of[i]) + (p.insn.info().form == Form::Lddw ? 1 : p.insn.slots());
      int64_t rel;
      if (p.target.relative) {
        rel = p.target.rel;
      } else {
        auto it = labels_.find(p.target.label);
        if (it == labels_.end()) return syntax(p.line, fmt::format("undefined label '{}'", p.target.label));
        if (it->second >= pending_.size())
          return syntax(p.line, fmt::format("label '{}' is not followed by an instruction", p.target.label));
        rel = static_cast<int64_t>(slot_of[it->second]) - next;
      }
      bool fits =
          p.field == TargetField::kOff
              ? rel >= std::numeric_limits<int16_t>::min() && rel <= std::numeric_limits<int16_t>::max()
              : rel >= std::numeric_limits<int32_t>::min() && rel <= std::numeric_limits<int32_t>::max();
      if (!fits)
        return syntax(p.line, fmt::format("jump target {} out of range (offset {} does not fit in {} bits)",
                                          p.target.token, rel, p.field == TargetField::kOff ? 16 : 32));
      int64_t dest = next + rel;
      if (dest < 0 || dest >= num_slots)
        return syntax(p.line,
                      fmt::format("jump target {} out of range: slot {} is outside the program (slots 0..{})",
                                  p.target.token, dest, num_slots - 1));
      if (p.field == TargetField::kOff) {
        p.insn.off = static_cast<int16_t>(rel);
      } else {
        p.insn.imm = static_cast<int32_t>(rel);
        if (p.insn.info().form == Form::Lddw)
          p.insn.imm64 = static_cast<uint32_t>(p.insn.imm) | (p.insn.imm64 & 0xffffffff00000000ull);
      }
    }
    std::vector<Insn> insns;
    insns.reserve(pending_.size());
    for (const Pending& p : pending_)
      insns.push_back(p.insn);
    DecodeOptions dopts;
    dopts.max_insns = opts_.max_insns;
    dopts.allow_unsupported = opts_.allow_unsupported;
    // decode() runs the per-slot field checks (reserved fields, writes to r10), which link() alone
    // does not, and then link(); the encoding carries every field the assembler set.
    Result<Program> prog = insns.empty() ? link(std::move(insns), dopts) : decode(encode(insns), dopts);
    if (!prog) {
      Error e = prog.error();
      if (e.pc != kNoPc && e.pc < slot_line.size())
        e.msg = fmt::format("line {}: {}", slot_line[e.pc], e.msg);
      return e;
    }
    AsmOutput out;
    out.program = std::move(*prog);
    out.map_refs = std::move(map_refs_);
    return out;
  }

  AsmOptions opts_;
  std::vector<Pending> pending_;
  std::vector<MapRef> map_refs_;
  std::unordered_map<std::string, uint32_t> labels_;  // name -> index into pending_
  std::optional<uint32_t> first_exit_;
};

}  // namespace

std::string_view lddw_pseudo_name(uint8_t src) {
  return src < std::size(kPseudoNames) ? kPseudoNames[src] : std::string_view();
}

Result<AsmOutput> assemble(std::string_view text, const AsmOptions& opts) {
  Assembler a(opts);
  return a.run(text);
}

}  // namespace bpfvm
