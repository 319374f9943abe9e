// The ELF loader: BPF object files (clang -target bpf) in, linked programs, map definitions and
// global data out. Supports legacy `SEC("maps")` and BTF-defined `.maps` map definitions, `.text`
// subprograms (bpf-to-bpf calls and callback references), global data sections, `.BTF.ext` line
// info and CO-RE relocations. docs/ELF.md describes the rules.
//
// Every input is untrusted: malformed objects end in ErrorCode::kElf naming the section, symbol or
// offset, never in a crash or an unbounded allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vm/decode.h"
#include "vm/elf/prog_type.h"
#include "vm/isa.h"
#include "vm/map_def.h"
#include "vm/result.h"

namespace bpfvm {

// One lddw of a linked program that refers to a map. The instruction itself is rewritten to be
// self-describing: src = LddwSrc::MapIdx (imm = map index) or LddwSrc::MapIdxValue (imm = map
// index, high half of imm64 = byte offset into the map's value), as BPF_PSEUDO_MAP_IDX[_VALUE].
struct MapReloc {
  uint32_t insn = 0;    // index into ElfProgram::code.insns
  uint32_t map = 0;     // index into ObjectFile::maps
  LddwSrc src = LddwSrc::MapIdx;
  uint32_t offset = 0;  // MapIdxValue: byte offset into the value; else 0
};

// Source position of an instruction, from `.BTF.ext` line info. line == 0: none.
struct LineInfo {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  std::string source;  // the source line text as clang recorded it
};

struct ElfProgram {
  std::string name;     // function symbol, or the section name for a section without function symbols
  std::string section;  // ELF section the program's entry lies in
  ProgType type = ProgType::SchedCls;
  bool type_known = false;  // false: the section name matched no convention and `type` is the default
  // Non-ok when this program cannot be linked (call to an extern function, unresolvable CO-RE
  // relocation, ...). Other programs of the object are still usable; `code` is then empty.
  Status status = Ok{};
  Program code;  // linked: the entry function first, then every subprogram it reaches, each once
  std::vector<MapReloc> map_relocs;
  std::vector<LineInfo> line_info;  // empty, or one entry per instruction of `code`
};

struct ObjectFile {
  std::vector<ElfProgram> programs;  // sorted by (section index, offset)
  // Legacy maps (in section order), then `.maps` (in BTF order), then global data sections
  // (.data, .rodata, .bss, .rodata.*, .data.*; named after the section, Array of one element).
  std::vector<MapDef> maps;
  std::string license;
  std::optional<uint32_t> kernel_version;  // the `version` section
  std::vector<uint8_t> btf;                // raw `.BTF` section, empty if none
  std::vector<uint8_t> btf_ext;            // raw `.BTF.ext` section, empty if none

  // Index of the program named `name` (first match), or -1.
  int find_program(std::string_view name) const;
  // Index of the map named `name`, or -1.
  int find_map(std::string_view name) const;
};

struct LoadOptions {
  // Type for every program, instead of the section-name convention.
  std::optional<ProgType> type_override;
  // Type of programs whose section name matches no convention.
  ProgType default_type = ProgType::SchedCls;
  // BTF that CO-RE relocations are resolved against: a raw BTF file (/sys/kernel/btf/vmlinux) or an
  // ELF object with a .BTF section. Empty: /sys/kernel/btf/vmlinux when `system_btf` and it exists,
  // else none (then programs with CO-RE relocations get an error naming the relocation).
  std::string target_btf_path;
  bool system_btf = true;
  // Input caps (the loader never allocates beyond these).
  size_t max_object_size = 256u << 20;
  size_t max_data_section_size = 64u << 20;  // .bss/.data/.rodata value size
  size_t max_maps = 4096;
  DecodeOptions decode;
};

Result<ObjectFile> load_object(std::span<const uint8_t> bytes, const LoadOptions& opts = {});
// Reads the file (kIo on failure) and loads it.
Result<ObjectFile> load_object_file(const std::string& path, const LoadOptions& opts = {});

}  // namespace bpfvm
