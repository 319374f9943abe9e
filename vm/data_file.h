// Parser for the eBPF conformance suite's test files (*.data), following the rules of its reference
// parser (see /work/shared/conformance/README.md, "Test file format").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vm/result.h"

namespace bpfvm {

struct DataFile {
  // The `-- asm` section with comments removed. Line k of asm_text is line k of the file (lines
  // outside the section are left empty), so assembler errors name the file's line.
  std::string asm_text;
  std::optional<std::vector<uint8_t>> raw_bytes;  // `-- raw`: 8 little-endian bytes per number
  std::vector<uint8_t> mem;                       // `-- mem`
  std::optional<uint64_t> result;                 // `-- result`
  std::optional<std::string> error;               // `-- error`
  uint32_t asm_line = 0;                          // 1-based line of the `-- asm` header; 0 without one
};

// Errors are kBadInput with the file line at the start of the message ("line 7: ...").
Result<DataFile> parse_data_file(std::string_view text);

// The program's encoded bytes: `-- raw` if present, else the assembled `-- asm` section (assembler
// errors carry the line number within the whole file).
Result<std::vector<uint8_t>> program_bytes(const DataFile& file);

}  // namespace bpfvm
