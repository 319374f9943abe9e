// Reading programs and input bytes the way every bpfvm command does: an ELF object by its magic
// number, a conformance test file by `.data`, assembly by `.asm`, anything else as raw
// little-endian bytecode.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vm/decode.h"
#include "vm/result.h"

namespace bpfvm {

enum class InputFormat { Elf, Data, Asm, Raw };
const char* input_format_name(InputFormat f);
InputFormat detect_format(std::string_view path, std::span<const uint8_t> bytes);

// Whole file; kIo with the path and strerror on failure. Files above `max_size` are refused.
Result<std::vector<uint8_t>> read_file(const std::string& path, size_t max_size = size_t{1} << 30);

// Hex bytes with optional white space between bytes: "00 01 ff", "0001ff", "0x00 0x01" is not
// accepted. kBadInput naming the offending character position.
Result<std::vector<uint8_t>> parse_hex_bytes(std::string_view text);

// One program read from a file, decoded and linked.
struct ProgramInput {
  std::string name;    // file name, or the ELF program's name
  InputFormat format;
  Program program;
  std::optional<std::vector<uint8_t>> mem;  // a .data file's `-- mem`
  std::optional<uint64_t> expected_result;  // a .data file's `-- result`
};

// Reads `path` (or bytes already read) as a single program (raw, asm or .data).
// ELF objects are handled by the object loader (vm/elf).
Result<ProgramInput> load_program_bytes(std::string_view path, std::span<const uint8_t> bytes,
                                        const DecodeOptions& opts = {});
Result<ProgramInput> load_program(const std::string& path, const DecodeOptions& opts = {});

}  // namespace bpfvm
