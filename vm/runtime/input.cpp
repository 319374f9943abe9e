#include "vm/runtime/input.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "vm/asm.h"
#include "vm/data_file.h"

namespace bpfvm {

const char* input_format_name(InputFormat f) {
  switch (f) {
    case InputFormat::Elf: return "elf";
    case InputFormat::Data: return "data";
    case InputFormat::Asm: return "asm";
    case InputFormat::Raw: return "raw";
  }
  return "?";
}

static bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

InputFormat detect_format(std::string_view path, std::span<const uint8_t> bytes) {
  if (bytes.size() >= 4 && bytes[0] == 0x7f && bytes[1] == 'E' && bytes[2] == 'L' && bytes[3] == 'F')
    return InputFormat::Elf;
  if (ends_with(path, ".data")) return InputFormat::Data;
  if (ends_with(path, ".asm") || ends_with(path, ".s")) return InputFormat::Asm;
  return InputFormat::Raw;
}

Result<std::vector<uint8_t>> read_file(const std::string& path, size_t max_size) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) return Error{ErrorCode::kIo, kNoPc, fmt::format("cannot open {}: {}", path, std::strerror(errno))};
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    if (out.size() + n > max_size)
      return Error{ErrorCode::kIo, kNoPc, fmt::format("{} is larger than {} bytes", path, max_size)};
    out.insert(out.end(), buf, buf + n);
  }
  if (std::ferror(f.get()))
    return Error{ErrorCode::kIo, kNoPc, fmt::format("cannot read {}: {}", path, std::strerror(errno))};
  return out;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::vector<uint8_t>> parse_hex_bytes(std::string_view text) {
  std::vector<uint8_t> out;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
      ++i;
      continue;
    }
    int hi = hex_value(c);
    int lo = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
    if (hi < 0 || lo < 0)
      return Error{ErrorCode::kBadInput, kNoPc,
                   fmt::format("bad hex byte at character {}: expected two hex digits per byte", i + 1)};
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Result<ProgramInput> load_program_bytes(std::string_view path, std::span<const uint8_t> bytes,
                                        const DecodeOptions& opts) {
  ProgramInput in;
  std::string_view base = path;
  if (auto slash = base.rfind('/'); slash != std::string_view::npos) base = base.substr(slash + 1);
  in.name = std::string(base);
  in.format = detect_format(path, bytes);
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  switch (in.format) {
    case InputFormat::Elf:
      return Error{ErrorCode::kElf, kNoPc, fmt::format("{} is an ELF object: load it with the object loader", path)};
    case InputFormat::Data: {
      auto df = parse_data_file(text);
      if (!df) return df.error();
      auto code = program_bytes(*df);
      if (!code) return code.error();
      auto p = decode(*code, opts);
      if (!p) return p.error();
      in.program = std::move(*p);
      in.mem = df->mem;
      in.expected_result = df->result;
      return in;
    }
    case InputFormat::Asm: {
      AsmOptions ao;
      ao.allow_unsupported = opts.allow_unsupported;
      auto a = assemble(text, ao);
      if (!a) return a.error();
      in.program = std::move(a->program);
      return in;
    }
    case InputFormat::Raw: {
      auto p = decode(bytes, opts);
      if (!p) return p.error();
      in.program = std::move(*p);
      return in;
    }
  }
  return Error{ErrorCode::kInternal, kNoPc, "unreachable"};
}

Result<ProgramInput> load_program(const std::string& path, const DecodeOptions& opts) {
  auto bytes = read_file(path);
  if (!bytes) return bytes.error();
  return load_program_bytes(path, *bytes, opts);
}

}  // namespace bpfvm
