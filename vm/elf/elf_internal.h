// Internals of the ELF loader, exposed for tests and fuzzers: each parser takes bytes and returns a
// Result, so it can be driven on its own.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vm/elf/elf_loader.h"
#include "vm/result.h"

struct btf;  // libbpf
struct btf_type;

namespace bpfvm::elf_internal {

// Deepest chain of BTF modifiers and typedefs followed before giving up (malformed BTF can loop).
constexpr int kMaxBtfDepth = 32;

// The type `id` with modifiers (const, volatile, restrict, type tags) and typedefs skipped; its id in
// *out_id when not null. nullptr for a bad id or a chain deeper than kMaxBtfDepth.
const btf_type* skip_mods(const struct btf* b, uint32_t id, uint32_t* out_id = nullptr);

constexpr uint16_t kEmBpf = 247;
// Relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def).
constexpr uint32_t kRBpfNone = 0;
constexpr uint32_t kRBpf64_64 = 1;
constexpr uint32_t kRBpf64Abs64 = 2;
constexpr uint32_t kRBpf64Abs32 = 3;
constexpr uint32_t kRBpf64Nodyld32 = 4;
constexpr uint32_t kRBpf64_32 = 10;

struct Section {
  std::string name;
  uint32_t type = 0;   // SHT_*
  uint64_t flags = 0;  // SHF_*
  uint32_t link = 0, info = 0;
  uint64_t size = 0;
  std::span<const uint8_t> data;  // the section's bytes; empty for SHT_NOBITS
};

struct Symbol {
  std::string name;
  uint8_t type = 0;  // STT_*
  uint8_t bind = 0;  // STB_*
  uint32_t shndx = 0;
  uint64_t value = 0, size = 0;
};

struct Reloc {
  uint64_t offset = 0;  // into the target section, validated: offset + 8 <= section size
  uint32_t sym = 0;     // validated index into ElfImage::symbols
  uint32_t type = 0;
  // SHT_RELA (old LLVM, e.g. ovs/datapath.o): the addend replaces the instruction's own addend (imm).
  bool has_addend = false;
  int64_t addend = 0;
};

struct ElfImage {
  std::vector<Section> sections;
  std::vector<Symbol> symbols;
  // relocs[i]: the relocations that apply to section i, sorted by offset.
  std::vector<std::vector<Reloc>> relocs;
};

// Checks the ELF header and section header table against the buffer (64-bit, little-endian,
// EM_BPF, every section inside the file) before libelf sees it.
Status check_elf_header(std::span<const uint8_t> bytes);
// Parses the container. The spans in the result point into `bytes`.
Result<ElfImage> parse_elf(std::span<const uint8_t> bytes);

// Checks a raw BTF blob's header and section bounds before libbpf sees it.
Status check_btf_header(std::span<const uint8_t> bytes, std::string_view what);
// A libbpf BTF object owned by a unique handle.
struct BtfDeleter {
  void operator()(struct btf* b) const;
};
using BtfPtr = std::unique_ptr<struct btf, BtfDeleter>;
Result<BtfPtr> parse_btf(std::span<const uint8_t> bytes, std::string_view what);

// Legacy `struct bpf_map_def` records of a "maps" section: record size = section size / number of
// map symbols. `syms` are (symbol name, offset) of the section's map symbols.
Result<std::vector<MapDef>> parse_legacy_maps(std::span<const uint8_t> data, std::string_view section,
                                              std::vector<std::pair<std::string, uint64_t>> syms,
                                              std::vector<uint64_t>* offsets);

// BTF-defined maps of the `.maps` section: one per variable of the `.maps` DATASEC, in BTF order,
// with `offsets` their offsets in the section, and for each map the offset of its `values` array
// member (UINT64_MAX when none).
struct BtfMap {
  MapDef def;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t values_offset = UINT64_MAX;  // within the variable
};
// `symbols`: (name, offset, size) of the section's symbols; clang leaves the DATASEC offsets at 0 and
// they are taken from the symbols, as libbpf does.
struct SymPos {
  std::string name;
  uint64_t offset = 0, size = 0;
};
Result<std::vector<BtfMap>> parse_btf_maps(const struct btf* btf, uint64_t section_size,
                                           const std::vector<SymPos>& symbols);

// `.BTF.ext`: line info and CO-RE relocations, grouped by section name.
struct ExtLine {
  uint32_t insn_off = 0;  // bytes into the section
  std::string file, source;
  uint32_t line = 0, column = 0;
};
struct ExtCoreRelo {
  uint32_t insn_off = 0;
  uint32_t type_id = 0;
  std::string access;
  uint32_t kind = 0;
};
struct BtfExt {
  std::vector<std::pair<std::string, std::vector<ExtLine>>> lines;
  std::vector<std::pair<std::string, std::vector<ExtCoreRelo>>> core;
};
Result<BtfExt> parse_btf_ext(std::span<const uint8_t> bytes, const struct btf* btf);

// CO-RE: the new value for the instruction's imm/off for one relocation, computed from the local
// and the target BTF. `insn` is patched in place (RawInsn of the section; lddw uses two slots).
const char* core_kind_name(uint32_t kind);
Status apply_core_relo(const struct btf* local, const struct btf* target, const ExtCoreRelo& relo,
                       std::span<RawInsn> slots, uint32_t slot);

}  // namespace bpfvm::elf_internal
