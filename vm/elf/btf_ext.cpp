// `.BTF.ext` (line info, CO-RE relocations) and CO-RE relocation resolution. libbpf 1.1 exports
// neither, so this follows the format of linux/btf.h / libbpf's btf.c and relo_core.c, with every
// offset bounds-checked.
#include <bpf/btf.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "vm/elf/elf_internal.h"

namespace bpfvm::elf_internal {
namespace {

Error elf_error(std::string msg) { return Error{ErrorCode::kElf, kNoPc, std::move(msg)}; }

constexpr size_t kMaxAccess = 64;  // libbpf: BPF_CORE_SPEC_MAX_LEN

std::string str_at(const struct btf* b, uint32_t off) {
  const char* s = btf__name_by_offset(b, off);
  return s ? std::string(s) : std::string();
}

uint32_t rd32(std::span<const uint8_t> b, size_t off) {
  uint32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

// Walks one info subsection: rec_size, then {sec_name_off, num_info, records...} blocks.
template <class F>
Status walk_info(std::span<const uint8_t> sub, uint32_t min_rec, const char* what, F&& on_block) {
  if (sub.empty()) return Ok{};
  if (sub.size() < 4) return elf_error(fmt::format(".BTF.ext {}: truncated record size", what));
  uint32_t rec = rd32(sub, 0);
  if (rec < min_rec || rec % 4 != 0 || rec > 1024)
    return elf_error(fmt::format(".BTF.ext {}: invalid record size {}", what, rec));
  size_t p = 4;
  while (p < sub.size()) {
    if (sub.size() - p < 8) return elf_error(fmt::format(".BTF.ext {}: truncated section header at {}", what, p));
    uint32_t name_off = rd32(sub, p), num = rd32(sub, p + 4);
    p += 8;
    if (num == 0) return elf_error(fmt::format(".BTF.ext {}: section with no records at {}", what, p - 8));
    if (uint64_t{num} * rec > sub.size() - p)
      return elf_error(fmt::format(".BTF.ext {}: {} records of {} bytes overrun the subsection", what, num, rec));
    BPFVM_TRY(on_block(name_off, sub.subspan(p, size_t{num} * rec), rec, num));
    p += size_t{num} * rec;
  }
  return Ok{};
}

}  // namespace

Result<BtfExt> parse_btf_ext(std::span<const uint8_t> bytes, const struct btf* btf) {
  BtfExt ext;
  if (bytes.size() < 24) return elf_error(fmt::format(".BTF.ext: {} bytes is too short for its header", bytes.size()));
  uint16_t magic;
  std::memcpy(&magic, bytes.data(), 2);
  if (magic != 0xeB9F) return elf_error(fmt::format(".BTF.ext: bad magic 0x{:x}", magic));
  if (bytes[2] != 1) return elf_error(fmt::format(".BTF.ext: unsupported version {}", bytes[2]));
  uint32_t hdr_len = rd32(bytes, 4);
  if (hdr_len < 24 || hdr_len > bytes.size()) return elf_error(fmt::format(".BTF.ext: invalid header length {}", hdr_len));
  std::span<const uint8_t> body = bytes.subspan(hdr_len);
  auto sub = [&](size_t field, const char* what) -> Result<std::span<const uint8_t>> {
    if (field + 8 > hdr_len) return std::span<const uint8_t>{};
    uint32_t off = rd32(bytes, field), len = rd32(bytes, field + 4);
    if (uint64_t{off} + len > body.size())
      return elf_error(fmt::format(".BTF.ext {} (offset {}, length {}) lies outside the section", what, off, len));
    if (off % 4 != 0) return elf_error(fmt::format(".BTF.ext {} is not 4-byte aligned", what));
    return body.subspan(off, len);
  };
  Result<std::span<const uint8_t>> lines = sub(16, "line info");
  if (!lines) return lines.error();
  Result<std::span<const uint8_t>> core = sub(24, "CO-RE relocations");
  if (!core) return core.error();

  BPFVM_TRY(walk_info(*lines, 16, "line info", [&](uint32_t name_off, std::span<const uint8_t> recs, uint32_t rec,
                                                   uint32_t num) -> Status {
    std::vector<ExtLine> v;
    v.reserve(num);
    for (uint32_t k = 0; k < num; ++k) {
      size_t o = size_t{k} * rec;
      ExtLine l;
      l.insn_off = rd32(recs, o);
      l.file = str_at(btf, rd32(recs, o + 4));
      l.source = str_at(btf, rd32(recs, o + 8));
      uint32_t lc = rd32(recs, o + 12);
      l.line = lc >> 10;
      l.column = lc & 0x3ff;
      v.push_back(std::move(l));
    }
    ext.lines.emplace_back(str_at(btf, name_off), std::move(v));
    return Ok{};
  }));
  BPFVM_TRY(walk_info(*core, 16, "CO-RE relocations", [&](uint32_t name_off, std::span<const uint8_t> recs,
                                                          uint32_t rec, uint32_t num) -> Status {
    std::vector<ExtCoreRelo> v;
    v.reserve(num);
    for (uint32_t k = 0; k < num; ++k) {
      size_t o = size_t{k} * rec;
      ExtCoreRelo r;
      r.insn_off = rd32(recs, o);
      r.type_id = rd32(recs, o + 4);
      r.access = str_at(btf, rd32(recs, o + 8));
      r.kind = rd32(recs, o + 12);
      v.push_back(std::move(r));
    }
    ext.core.emplace_back(str_at(btf, name_off), std::move(v));
    return Ok{};
  }));
  return ext;
}

// ---------------------------------------------------------------------------------------------
// CO-RE

namespace {

enum CoreKind : uint32_t {
  kFieldByteOffset = 0,
  kFieldByteSize = 1,
  kFieldExists = 2,
  kFieldSigned = 3,
  kFieldLshiftU64 = 4,
  kFieldRshiftU64 = 5,
  kTypeIdLocal = 6,
  kTypeIdTarget = 7,
  kTypeExists = 8,
  kTypeSize = 9,
  kEnumvalExists = 10,
  kEnumvalValue = 11,
  kTypeMatches = 12,
};

bool is_field_kind(uint32_t k) { return k <= kFieldRshiftU64; }
bool is_enum_kind(uint32_t k) { return k == kEnumvalExists || k == kEnumvalValue; }


// "task_struct___v2" -> "task_struct"
std::string_view essential(std::string_view s) {
  size_t p = s.find("___");
  return p == std::string_view::npos ? s : s.substr(0, p);
}

bool kinds_compatible(const btf_type* a, const btf_type* b) {
  if (btf_kind(a) == btf_kind(b)) return true;
  if (btf_is_any_enum(a) && btf_is_any_enum(b)) return true;
  if (btf_is_composite(a) && btf_is_fwd(b)) return true;
  return false;
}

// The resolved location of a field: bit offset, its type, bitfield size (0 if none).
struct FieldSpec {
  uint64_t bit_off = 0;
  uint32_t type_id = 0;
  uint32_t bitfield = 0;
  bool ok = false;
};

// Finds member `name` of composite `t`, descending into anonymous struct/union members.
bool find_member(const struct btf* b, const btf_type* t, std::string_view name, uint64_t* bit_off, uint32_t* type,
                 uint32_t* bitfield, int depth) {
  if (depth > kMaxBtfDepth) return false;
  const btf_member* m = btf_members(t);
  for (uint16_t k = 0; k < btf_vlen(t); ++k, ++m) {
    std::string mn = str_at(b, m->name_off);
    uint64_t off = btf_member_bit_offset(t, k);
    if (mn.empty()) {
      const btf_type* inner = skip_mods(b, m->type, nullptr);
      if (inner && btf_is_composite(inner)) {
        uint64_t sub = 0;
        if (find_member(b, inner, name, &sub, type, bitfield, depth + 1)) {
          *bit_off = off + sub;
          return true;
        }
      }
      continue;
    }
    if (mn == name) {
      *bit_off = off;
      *type = m->type;
      *bitfield = btf_member_bitfield_size(t, k);
      return true;
    }
  }
  return false;
}

struct Access {
  std::vector<uint32_t> idx;
};

Result<Access> parse_access(const std::string& s) {
  Access a;
  size_t p = 0;
  if (s.empty()) return elf_error("empty CO-RE access string");
  while (p <= s.size()) {
    size_t q = s.find(':', p);
    if (q == std::string::npos) q = s.size();
    std::string_view part(s.data() + p, q - p);
    if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string_view::npos)
      return elf_error(fmt::format("malformed CO-RE access string '{}'", s));
    a.idx.push_back(static_cast<uint32_t>(std::stoul(std::string(part))));
    if (a.idx.size() > kMaxAccess) return elf_error(fmt::format("CO-RE access string '{}' is too long", s));
    p = q + 1;
    if (q == s.size()) break;
  }
  return a;
}

// One step of the local access path, replayed on a candidate by member name (or array index).
struct Step {
  bool is_member;
  std::string name;  // member name (empty when the member is anonymous: matched by index)
  uint32_t index;    // array index, or member index when anonymous
};

// Resolves the local spec: bit offset, field type, and the steps to replay on targets.
Result<FieldSpec> resolve_local(const struct btf* b, uint32_t root, const Access& a, std::vector<Step>* steps) {
  FieldSpec f;
  uint32_t id = 0;
  const btf_type* t = skip_mods(b, root, &id);
  if (!t) return elf_error(fmt::format("CO-RE: local type {} does not exist", root));
  long long sz = btf__resolve_size(b, id);
  if (sz < 0) return elf_error(fmt::format("CO-RE: cannot size local type {}", root));
  f.bit_off = uint64_t{a.idx[0]} * static_cast<uint64_t>(sz) * 8;
  f.type_id = id;
  for (size_t k = 1; k < a.idx.size(); ++k) {
    t = skip_mods(b, f.type_id, &id);
    if (!t) return elf_error("CO-RE: broken local type chain");
    uint32_t i = a.idx[k];
    if (btf_is_composite(t)) {
      if (i >= btf_vlen(t)) return elf_error(fmt::format("CO-RE: member index {} out of range", i));
      const btf_member* m = btf_members(t) + i;
      f.bit_off += btf_member_bit_offset(t, i);
      f.bitfield = btf_member_bitfield_size(t, i);
      f.type_id = m->type;
      steps->push_back({true, str_at(b, m->name_off), i});
    } else if (btf_is_array(t)) {
      const struct btf_array* arr = btf_array(t);
      long long esz = btf__resolve_size(b, arr->type);
      if (esz < 0) return elf_error("CO-RE: cannot size array element");
      f.bit_off += uint64_t{i} * static_cast<uint64_t>(esz) * 8;
      f.type_id = arr->type;
      f.bitfield = 0;
      steps->push_back({false, {}, i});
    } else {
      return elf_error(fmt::format("CO-RE: access index {} into a type that is neither struct, union nor array", i));
    }
  }
  f.ok = true;
  return f;
}

// Replays the steps on a target root type. ok = false when the candidate does not match.
FieldSpec resolve_target(const struct btf* b, uint32_t root, uint32_t first_idx, const std::vector<Step>& steps) {
  FieldSpec f;
  uint32_t id = 0;
  const btf_type* t = skip_mods(b, root, &id);
  if (!t) return f;
  long long sz = btf__resolve_size(b, id);
  if (sz < 0) return f;
  f.bit_off = uint64_t{first_idx} * static_cast<uint64_t>(sz) * 8;
  f.type_id = id;
  for (const Step& s : steps) {
    t = skip_mods(b, f.type_id, &id);
    if (!t) return f;
    if (s.is_member) {
      if (!btf_is_composite(t)) return f;
      uint64_t off = 0;
      uint32_t ty = 0, bf = 0;
      if (s.name.empty()) {
        if (s.index >= btf_vlen(t)) return f;
        off = btf_member_bit_offset(t, s.index);
        ty = (btf_members(t) + s.index)->type;
        bf = btf_member_bitfield_size(t, s.index);
      } else if (!find_member(b, t, s.name, &off, &ty, &bf, 0)) {
        return f;
      }
      f.bit_off += off;
      f.type_id = ty;
      f.bitfield = bf;
    } else {
      if (!btf_is_array(t)) return f;
      const struct btf_array* arr = btf_array(t);
      if (arr->nelems != 0 && s.index >= arr->nelems) return f;
      long long esz = btf__resolve_size(b, arr->type);
      if (esz < 0) return f;
      f.bit_off += uint64_t{s.index} * static_cast<uint64_t>(esz) * 8;
      f.type_id = arr->type;
      f.bitfield = 0;
    }
  }
  f.ok = true;
  return f;
}

// libbpf's bpf_core_calc_field_relo.
Result<uint64_t> field_value(const struct btf* b, const FieldSpec& f, uint32_t kind, uint32_t* byte_size) {
  const btf_type* mt = skip_mods(b, f.type_id, nullptr);
  if (!mt) return elf_error("CO-RE: field type does not exist");
  long long sz = btf__resolve_size(b, f.type_id);
  if (sz < 0) return elf_error("CO-RE: cannot size field");
  uint64_t byte_sz = static_cast<uint64_t>(sz), byte_off = f.bit_off / 8, bit_sz = byte_sz * 8;
  if (f.bitfield) {
    if (byte_sz == 0) return elf_error("CO-RE: bitfield of size 0");
    bit_sz = f.bitfield;
    byte_off = f.bit_off / 8 / byte_sz * byte_sz;
    while (f.bit_off + bit_sz - byte_off * 8 > byte_sz * 8) {
      if (byte_sz >= 8) return elf_error("CO-RE: bitfield does not fit in 8 bytes");
      byte_sz *= 2;
      byte_off = f.bit_off / 8 / byte_sz * byte_sz;
    }
  }
  *byte_size = static_cast<uint32_t>(byte_sz);
  switch (kind) {
    case kFieldByteOffset: return byte_off;
    case kFieldByteSize: return byte_sz;
    case kFieldExists: return 1;
    case kFieldSigned:
      return uint64_t{(btf_is_any_enum(mt) && btf_kflag(mt)) ||
                      (btf_is_int(mt) && (btf_int_encoding(mt) & BTF_INT_SIGNED))};
    case kFieldLshiftU64: return 64 - (f.bit_off + bit_sz - byte_off * 8);
    case kFieldRshiftU64: return 64 - bit_sz;
  }
  return elf_error(fmt::format("CO-RE: unknown field relocation kind {}", kind));
}

struct EnumVal {
  std::string name;
  int64_t value;
};
std::vector<EnumVal> enum_values(const struct btf* b, const btf_type* t) {
  std::vector<EnumVal> out;
  if (btf_is_enum(t)) {
    const struct btf_enum* e = btf_enum(t);
    for (uint16_t k = 0; k < btf_vlen(t); ++k, ++e) out.push_back({str_at(b, e->name_off), e->val});
  } else if (btf_is_enum64(t)) {
    const struct btf_enum64* e = btf_enum64(t);
    for (uint16_t k = 0; k < btf_vlen(t); ++k, ++e)
      out.push_back({str_at(b, e->name_off), static_cast<int64_t>(btf_enum64_value(e))});
  }
  return out;
}

// libbpf's poison: an invalid helper call the verifier rejects if the code is reachable.
constexpr int32_t kPoisonHelper = 0xbad2310;

void poison(std::span<RawInsn> slots, uint32_t slot) {
  bool wide = slots[slot].opcode == 0x18 && slot + 1 < slots.size();
  auto p = [&](RawInsn& r) { r = RawInsn{0x85, 0, 0, 0, kPoisonHelper}; };
  p(slots[slot]);
  if (wide) p(slots[slot + 1]);
}

Status patch(std::span<RawInsn> slots, uint32_t slot, uint64_t value, uint32_t local_size, uint32_t target_size,
             uint32_t kind, const std::string& where) {
  RawInsn& in = slots[slot];
  uint8_t cls = in.opcode & 7;
  if (cls == 4 || cls == 7) {  // ALU / ALU64
    if ((in.opcode & 0x08) != 0) return elf_error(fmt::format("{}: CO-RE relocation on an ALU instruction with a register "
                                                              "source", where));
    if (value > UINT32_MAX && static_cast<int64_t>(value) < INT32_MIN)
      return elf_error(fmt::format("{}: CO-RE value {} does not fit in imm", where, value));
    in.imm = static_cast<int32_t>(value);
    return Ok{};
  }
  if (cls == 1 || cls == 2 || cls == 3) {  // LDX, ST, STX
    if (value > INT16_MAX) return elf_error(fmt::format("{}: CO-RE offset {} does not fit in the 16-bit offset", where, value));
    in.off = static_cast<int16_t>(value);
    if (kind == kFieldByteOffset && local_size != target_size && (in.opcode & 0xe0) == 0x60 /* BPF_MEM */) {
      uint8_t code;
      switch (target_size) {
        case 1: code = 0x10; break;
        case 2: code = 0x08; break;
        case 4: code = 0x00; break;
        case 8: code = 0x18; break;
        default: return elf_error(fmt::format("{}: CO-RE target field size {} cannot be loaded", where, target_size));
      }
      in.opcode = static_cast<uint8_t>((in.opcode & ~0x18) | code);
    }
    return Ok{};
  }
  if (in.opcode == 0x18) {
    if (slot + 1 >= slots.size()) return elf_error(fmt::format("{}: CO-RE relocation on a truncated lddw", where));
    in.imm = static_cast<int32_t>(static_cast<uint32_t>(value));
    slots[slot + 1].imm = static_cast<int32_t>(static_cast<uint32_t>(value >> 32));
    return Ok{};
  }
  return elf_error(fmt::format("{}: CO-RE relocation on opcode 0x{:02x}, which has no immediate or offset to patch",
                               where, in.opcode));
}

}  // namespace

const char* core_kind_name(uint32_t kind) {
  static const char* const kNames[] = {"byte_off",    "byte_sz",   "field_exists", "signed",   "lshift_u64",
                                       "rshift_u64",  "local_type_id", "target_type_id", "type_exists",
                                       "type_size",   "enumval_exists", "enumval_value", "type_matches"};
  return kind < std::size(kNames) ? kNames[kind] : "unknown";
}

Status apply_core_relo(const struct btf* local, const struct btf* target, const ExtCoreRelo& relo,
                       std::span<RawInsn> slots, uint32_t slot) {
  std::string where = fmt::format("CO-RE relocation {} (type {}, access '{}')", core_kind_name(relo.kind), relo.type_id,
                                  relo.access);
  if (relo.kind > kTypeMatches) return elf_error(fmt::format("{}: unknown kind {}", where, relo.kind));
  if (slot >= slots.size()) return elf_error(fmt::format("{}: instruction outside the section", where));
  uint32_t local_id = 0;
  const btf_type* lt = skip_mods(local, relo.type_id, &local_id);
  if (!lt || relo.type_id == 0) return elf_error(fmt::format("{}: local type does not exist", where));
  if (relo.kind == kTypeIdLocal) return patch(slots, slot, relo.type_id, 0, 0, relo.kind, where);
  if (!target) return elf_error(fmt::format("{}: no target BTF to resolve it against (LoadOptions::target_btf_path)", where));
  Result<Access> acc = parse_access(relo.access);
  if (!acc) return Error{ErrorCode::kElf, kNoPc, fmt::format("{}: {}", where, acc.error().msg)};
  const btf_type* root = btf__type_by_id(local, relo.type_id);
  std::string lname = str_at(local, root->name_off);
  if (lname.empty()) return elf_error(fmt::format("{}: CO-RE relocation against an anonymous type", where));

  std::vector<Step> steps;
  FieldSpec local_field;
  int64_t local_enum_value = 0;
  std::string enum_name;
  if (is_field_kind(relo.kind)) {
    Result<FieldSpec> lf = resolve_local(local, relo.type_id, *acc, &steps);
    if (!lf) return Error{ErrorCode::kElf, kNoPc, fmt::format("{}: {}", where, lf.error().msg)};
    local_field = *lf;
  } else if (is_enum_kind(relo.kind)) {
    const btf_type* et = skip_mods(local, relo.type_id, nullptr);
    std::vector<EnumVal> vals = et ? enum_values(local, et) : std::vector<EnumVal>{};
    if (acc->idx.size() != 1 || acc->idx[0] >= vals.size())
      return elf_error(fmt::format("{}: enumerator index out of range", where));
    enum_name = vals[acc->idx[0]].name;
    local_enum_value = vals[acc->idx[0]].value;
  } else if (acc->idx.size() != 1 || acc->idx[0] != 0) {
    return elf_error(fmt::format("{}: type relocation with access other than '0'", where));
  }
  (void)local_enum_value;

  // Candidates: target types of a compatible kind with the same essential name.
  std::string_view ess = essential(lname);
  bool found = false;
  uint64_t value = 0;
  uint32_t target_size = 0;
  uint32_t local_size = 0;
  if (is_field_kind(relo.kind)) {
    Result<uint64_t> lv = field_value(local, local_field, kFieldByteSize, &local_size);
    if (!lv) return Error{ErrorCode::kElf, kNoPc, fmt::format("{}: {}", where, lv.error().msg)};
  }
  uint32_t n = btf__type_cnt(target);
  for (uint32_t id = 1; id < n; ++id) {
    const btf_type* t = btf__type_by_id(target, id);
    if (!t || !kinds_compatible(root, t)) continue;
    const char* tn = btf__name_by_offset(target, t->name_off);
    if (!tn || essential(tn) != ess) continue;
    uint64_t v = 0;
    uint32_t tsz = 0;
    if (is_field_kind(relo.kind)) {
      FieldSpec tf = resolve_target(target, id, acc->idx[0], steps);
      if (!tf.ok) continue;
      const btf_type* lft = skip_mods(local, local_field.type_id, nullptr);
      const btf_type* tft = skip_mods(target, tf.type_id, nullptr);
      if (!lft || !tft || !kinds_compatible(lft, tft)) continue;
      Result<uint64_t> r = field_value(target, tf, relo.kind, &tsz);
      if (!r) continue;
      v = *r;
    } else if (is_enum_kind(relo.kind)) {
      bool hit = false;
      for (const EnumVal& e : enum_values(target, t))
        if (essential(e.name) == essential(enum_name)) {
          v = relo.kind == kEnumvalExists ? 1 : static_cast<uint64_t>(e.value);
          hit = true;
          break;
        }
      if (!hit) continue;
    } else {
      long long sz = btf__resolve_size(target, id);
      switch (relo.kind) {
        case kTypeIdTarget: v = id; break;
        case kTypeExists:
        case kTypeMatches: v = 1; break;
        case kTypeSize:
          if (sz < 0) continue;
          v = static_cast<uint64_t>(sz);
          break;
      }
    }
    if (found && v != value && relo.kind != kTypeIdTarget)
      return elf_error(fmt::format("{}: ambiguous: target candidates give {} and {}", where, value, v));
    if (!found) {
      value = v;
      target_size = tsz;
      found = true;
    }
  }
  if (!found) {
    if (relo.kind == kFieldExists || relo.kind == kTypeExists || relo.kind == kEnumvalExists ||
        relo.kind == kTypeMatches)
      return patch(slots, slot, 0, 0, 0, relo.kind, where);
    poison(slots, slot);  // as libbpf: fails only if the program reaches it
    return Ok{};
  }
  return patch(slots, slot, value, local_size, target_size, relo.kind, where);
}

const btf_type* skip_mods(const struct btf* b, uint32_t id, uint32_t* out_id) {
  const btf_type* t = btf__type_by_id(b, id);
  for (int d = 0; t && d < kMaxBtfDepth; ++d) {
    if (!btf_is_mod(t) && !btf_is_typedef(t)) {
      if (out_id) *out_id = id;
      return t;
    }
    id = t->type;
    t = btf__type_by_id(b, id);
  }
  return nullptr;
}

}  // namespace bpfvm::elf_internal
