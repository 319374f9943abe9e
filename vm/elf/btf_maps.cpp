// BTF blobs (checked, then parsed by libbpf) and BTF-defined maps of the `.maps` section.
#include <bpf/btf.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "vm/elf/elf_internal.h"

namespace bpfvm::elf_internal {
namespace {

Error elf_error(std::string msg) { return Error{ErrorCode::kElf, kNoPc, std::move(msg)}; }



std::string name_of(const struct btf* b, uint32_t off) {
  const char* s = btf__name_by_offset(b, off);
  return s ? std::string(s) : std::string();
}

// __uint(name, N) is `int (*name)[N]`.
Result<uint32_t> int_field(const struct btf* b, const std::string& map, const std::string& field, uint32_t type) {
  const btf_type* t = skip_mods(b, type);
  if (!t || !btf_is_ptr(t))
    return elf_error(fmt::format("BTF map '{}': field '{}' is not a pointer to an array (__uint)", map, field));
  const btf_type* arr = skip_mods(b, t->type);
  if (!arr || !btf_is_array(arr))
    return elf_error(fmt::format("BTF map '{}': field '{}' does not point to an array (__uint)", map, field));
  return btf_array(arr)->nelems;
}

Result<uint32_t> pointee_size(const struct btf* b, const std::string& map, const std::string& field, uint32_t type) {
  const btf_type* t = skip_mods(b, type);
  if (!t || !btf_is_ptr(t))
    return elf_error(fmt::format("BTF map '{}': field '{}' is not a pointer (__type)", map, field));
  long long sz = btf__resolve_size(b, t->type);
  if (sz < 0 || sz > UINT32_MAX)
    return elf_error(fmt::format("BTF map '{}': cannot resolve the size of the '{}' type", map, field));
  return static_cast<uint32_t>(sz);
}

Status check_map_type(const std::string& map, uint32_t type) {
  if (type == 0 || type > static_cast<uint32_t>(MapType::Arena))
    return elf_error(fmt::format("map '{}' has unknown map type {}", map, type));
  return Ok{};
}

bool is_map_in_map(MapType t) { return t == MapType::ArrayOfMaps || t == MapType::HashOfMaps; }

// Parses one map definition struct. `depth` 0: an outer map; 1: the inner map of a map-in-map.
Status parse_map_struct(const struct btf* b, const std::string& name, const btf_type* st, int depth, BtfMap* out) {
  MapDef& def = out->def;
  def.name = name;
  const btf_member* m = btf_members(st);
  for (uint16_t k = 0; k < btf_vlen(st); ++k, ++m) {
    std::string field = name_of(b, m->name_off);
    if (field == "type" || field == "max_entries" || field == "map_flags" || field == "key_size" ||
        field == "value_size" || field == "numa_node" || field == "map_extra" || field == "pinning") {
      Result<uint32_t> v = int_field(b, name, field, m->type);
      if (!v) return v.error();
      if (field == "type") def.type = static_cast<MapType>(*v);
      if (field == "max_entries") def.max_entries = *v;
      if (field == "map_flags") def.map_flags = *v;
      if (field == "key_size" || field == "value_size") {
        uint32_t& dst = field == "key_size" ? def.key_size : def.value_size;
        if (dst != 0 && dst != *v)
          return elf_error(fmt::format("BTF map '{}': conflicting {} {} and {}", name, field, dst, *v));
        dst = *v;
      }
    } else if (field == "key" || field == "value") {
      Result<uint32_t> v = pointee_size(b, name, field, m->type);
      if (!v) return v.error();
      uint32_t& dst = field == "key" ? def.key_size : def.value_size;
      if (dst != 0 && dst != *v)
        return elf_error(fmt::format("BTF map '{}': conflicting {} size {} and {}", name, field, dst, *v));
      dst = *v;
    } else if (field == "values") {
      if (depth > 0) return elf_error(fmt::format("BTF map '{}': nested map-in-map 'values' is not supported", name));
      bool prog_array = def.type == MapType::ProgArray;
      if (!prog_array && !is_map_in_map(def.type))
        return elf_error(fmt::format("BTF map '{}': 'values' needs a prog array or map-in-map type (declare 'type' "
                                     "first)", name));
      const btf_type* arr = skip_mods(b, m->type);
      if (!arr || !btf_is_array(arr) || btf_array(arr)->nelems != 0)
        return elf_error(fmt::format("BTF map '{}': 'values' is not a flexible array", name));
      const btf_type* ptr = skip_mods(b, btf_array(arr)->type);
      if (!ptr || !btf_is_ptr(ptr)) return elf_error(fmt::format("BTF map '{}': 'values' elements are not pointers", name));
      const btf_type* inner = skip_mods(b, ptr->type);
      if (prog_array) {
        if (!inner || !btf_is_func_proto(inner))
          return elf_error(fmt::format("BTF map '{}': prog array 'values' must point to functions", name));
      } else {
        if (!inner || !btf_is_struct(inner))
          return elf_error(fmt::format("BTF map '{}': map-in-map 'values' must point to a map definition", name));
        BtfMap in;
        BPFVM_TRY(parse_map_struct(b, name + ".inner", inner, depth + 1, &in));
        def.inner.push_back(std::move(in.def));
      }
      // As libbpf: the slots hold 4-byte fds (program or map ids).
      if (def.value_size != 0 && def.value_size != 4)
        return elf_error(fmt::format("BTF map '{}': value size {} with 'values' (must be 4)", name, def.value_size));
      def.value_size = 4;
      uint32_t bit_off = btf_member_bit_offset(st, k);
      if (bit_off % 64 != 0) return elf_error(fmt::format("BTF map '{}': 'values' is not 8-byte aligned", name));
      out->values_offset = bit_off / 8;
    }
    // Other fields (pinning handled above as an int, unknown names) are ignored.
  }
  return check_map_type(name, static_cast<uint32_t>(def.type));
}

}  // namespace

void BtfDeleter::operator()(struct btf* b) const { btf__free(b); }

Status check_btf_header(std::span<const uint8_t> bytes, std::string_view what) {
  btf_header h;
  if (bytes.size() < sizeof h) return elf_error(fmt::format("{}: {} bytes is too short for a BTF header", what, bytes.size()));
  std::memcpy(&h, bytes.data(), sizeof h);
  if (h.magic != 0xeB9F) return elf_error(fmt::format("{}: bad BTF magic 0x{:x}", what, h.magic));
  if (h.version != 1) return elf_error(fmt::format("{}: unsupported BTF version {}", what, h.version));
  if (h.hdr_len < sizeof h || h.hdr_len > bytes.size())
    return elf_error(fmt::format("{}: BTF header length {} is invalid", what, h.hdr_len));
  uint64_t avail = bytes.size() - h.hdr_len;
  if (uint64_t{h.type_off} + h.type_len > avail || uint64_t{h.str_off} + h.str_len > avail)
    return elf_error(fmt::format("{}: BTF type or string section lies outside the {} bytes", what, bytes.size()));
  if (h.type_off % 4 != 0) return elf_error(fmt::format("{}: BTF type section is not 4-byte aligned", what));
  return Ok{};
}

Result<BtfPtr> parse_btf(std::span<const uint8_t> bytes, std::string_view what) {
  BPFVM_TRY(check_btf_header(bytes, what));
  struct btf* b = btf__new(bytes.data(), static_cast<uint32_t>(bytes.size()));
  if (!b) return elf_error(fmt::format("{}: libbpf rejects the BTF data", what));
  return BtfPtr(b);
}

Result<std::vector<MapDef>> parse_legacy_maps(std::span<const uint8_t> data, std::string_view section,
                                              std::vector<std::pair<std::string, uint64_t>> syms,
                                              std::vector<uint64_t>* offsets) {
  std::vector<MapDef> out;
  if (syms.empty()) return out;
  if (data.empty() || data.size() % syms.size() != 0)
    return elf_error(fmt::format("legacy map section '{}' of {} bytes cannot hold {} map definitions of equal size",
                                 section, data.size(), syms.size()));
  size_t rec = data.size() / syms.size();
  if (rec < 4 * 4)
    return elf_error(fmt::format("legacy map section '{}': record size {} is smaller than type, key_size, "
                                 "value_size and max_entries", section, rec));
  std::sort(syms.begin(), syms.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  for (const auto& [name, off] : syms) {
    if (off % rec != 0 || off >= data.size())
      return elf_error(fmt::format("legacy map '{}' at offset {} of section '{}' is not at a record boundary (record "
                                   "size {})", name, off, section, rec));
    uint32_t f[7] = {};
    size_t nf = std::min<size_t>(7, rec / 4);
    std::memcpy(f, data.data() + off, nf * 4);
    MapDef d;
    d.name = name;
    d.type = static_cast<MapType>(f[0]);
    d.key_size = f[1];
    d.value_size = f[2];
    d.max_entries = f[3];
    d.map_flags = f[4];
    BPFVM_TRY(check_map_type(name, f[0]));
    // f[5] = inner_map_idx: resolved by the loader once every map is known.
    if (nf > 5 && is_map_in_map(d.type)) {
      MapDef placeholder;
      placeholder.name = fmt::format("#{}", f[5]);
      d.inner.push_back(std::move(placeholder));
    }
    out.push_back(std::move(d));
    offsets->push_back(off);
  }
  return out;
}

Result<std::vector<BtfMap>> parse_btf_maps(const struct btf* b, uint64_t section_size,
                                           const std::vector<SymPos>& symbols) {
  std::vector<BtfMap> out;
  uint32_t n = btf__type_cnt(b);
  const btf_type* sec = nullptr;
  for (uint32_t id = 1; id < n; ++id) {
    const btf_type* t = btf__type_by_id(b, id);
    if (t && btf_is_datasec(t) && name_of(b, t->name_off) == ".maps") {
      sec = t;
      break;
    }
  }
  if (!sec) return elf_error("the object has a .maps section but its BTF has no .maps DATASEC");
  const btf_var_secinfo* vi = btf_var_secinfos(sec);
  for (uint16_t k = 0; k < btf_vlen(sec); ++k, ++vi) {
    const btf_type* var = btf__type_by_id(b, vi->type);
    if (!var || !btf_is_var(var)) return elf_error(fmt::format(".maps DATASEC entry {} is not a variable", k));
    std::string name = name_of(b, var->name_off);
    uint64_t offset = vi->offset, size = vi->size;
    for (const SymPos& s : symbols)
      if (s.name == name) {
        offset = s.offset;
        if (s.size) size = s.size;
      }
    if (offset > section_size || size > section_size - offset)
      return elf_error(fmt::format("BTF map '{}' (offset {}, size {}) lies outside the .maps section ({} bytes)", name,
                                   offset, size, section_size));
    const btf_type* st = skip_mods(b, var->type);
    if (!st || !btf_is_struct(st)) return elf_error(fmt::format("BTF map '{}' is not a struct", name));
    BtfMap m;
    m.offset = offset;
    m.size = size;
    BPFVM_TRY(parse_map_struct(b, name, st, 0, &m));
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace bpfvm::elf_internal
