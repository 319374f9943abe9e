#include "vm/data_file.h"

#include <fmt/format.h>

#include "vm/asm.h"
#include "vm/decode.h"
#include "vm/text_util.h"

namespace bpfvm {
namespace {

enum class Section { kNone, kAsm, kResult, kMem, kRaw, kIgnored, kError };

Error bad(uint32_t line, std::string msg) {
  return Error{ErrorCode::kBadInput, kNoPc, fmt::format("line {}: {}", line, msg)};
}

using text::is_space;
using text::trim;

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i]))
      ++i;
    size_t j = i;
    while (j < s.size() && !is_space(s[j]))
      ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Unsigned 64-bit number: hex when `hex`, else decimal. False on bad digits or overflow.
bool parse_u64(std::string_view s, bool hex, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t base = hex ? 16 : 10;
  uint64_t v = 0;
  for (char c : s) {
    int d = hex ? hex_digit(c) : (c >= '0' && c <= '9' ? c - '0' : -1);
    if (d < 0) return false;
    if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / base) return false;
    v = v * base + static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

// A number with 0x/0X prefix (hex) or without (decimal).
bool parse_prefixed(std::string_view s, uint64_t* out) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) return parse_u64(s.substr(2), true, out);
  return parse_u64(s, false, out);
}

// Section picked by substring, in the reference parser's order.
std::optional<Section> header_section(std::string_view line) {
  struct Key {
    std::string_view text;
    Section section;
  };
  static constexpr Key kKeys[] = {{"asm", Section::kAsm},
                                  {"result", Section::kResult},
                                  {"mem", Section::kMem},
                                  {"raw", Section::kRaw},
                                  {"no register offset", Section::kIgnored},
                                  {" c", Section::kIgnored},
                                  {"error", Section::kError}};
  for (const Key& k : kKeys)
    if (line.find(k.text) != std::string_view::npos) return k.section;
  return std::nullopt;
}

}  // namespace

Result<DataFile> parse_data_file(std::string_view text) {
  DataFile f;
  Section section = Section::kNone;
  uint32_t asm_lines = 0;  // lines already in f.asm_text
  std::string_view result_text, error_text;
  uint32_t result_line = 0;
  uint32_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    if (line.find("--") != std::string_view::npos) {
      std::optional<Section> s = header_section(line);
      if (!s) return bad(line_no, fmt::format("unknown section header '{}'", trim(line)));
      section = *s;
      if (section == Section::kAsm && f.asm_line == 0) f.asm_line = line_no;
      continue;
    }
    if (section == Section::kAsm) {
      // Keep line k of asm_text == line k of the file.
      while (asm_lines + 1 < line_no) {
        f.asm_text += '\n';
        ++asm_lines;
      }
      f.asm_text.append(line);
      f.asm_text += '\n';
      ++asm_lines;
      continue;
    }
    std::string_view t = trim(line);
    if (t.empty()) continue;
    switch (section) {
      case Section::kNone:
        return bad(line_no, fmt::format("text outside of any section: '{}'", t));
      case Section::kAsm:
      case Section::kIgnored:
        break;
      case Section::kResult:
        result_text = t;
        result_line = line_no;
        break;
      case Section::kError:
        error_text = t;
        break;
      case Section::kMem:
        for (std::string_view b : split_ws(t)) {
          uint64_t v;
          if (b.size() > 2 || !parse_u64(b, true, &v))
            return bad(line_no, fmt::format("bad memory byte '{}'", b));
          f.mem.push_back(static_cast<uint8_t>(v));
        }
        break;
      case Section::kRaw: {
        if (!f.raw_bytes) f.raw_bytes.emplace();
        for (std::string_view w : split_ws(t)) {
          uint64_t v;
          if (!parse_prefixed(w, &v)) return bad(line_no, fmt::format("bad raw instruction word '{}'", w));
          for (int b = 0; b < 8; ++b)
            f.raw_bytes->push_back(static_cast<uint8_t>(v >> (8 * b)));
        }
        break;
      }
    }
  }
  if (result_line != 0) {
    bool hex =
        result_text.find("0x") != std::string_view::npos || result_text.find("0X") != std::string_view::npos;
    uint64_t v;
    bool ok = hex ? result_text.size() > 2 && result_text[0] == '0' && parse_prefixed(result_text, &v)
                  : parse_u64(result_text, false, &v);
    if (!ok) return bad(result_line, fmt::format("bad result '{}'", result_text));
    f.result = v;
  }
  if (!error_text.empty()) f.error = std::string(error_text);
  return f;
}

Result<std::vector<uint8_t>> program_bytes(const DataFile& file) {
  if (file.raw_bytes) return *file.raw_bytes;
  Result<AsmOutput> out = assemble(file.asm_text);
  if (!out) return out.error();
  return encode(out->program.insns);
}

}  // namespace bpfvm
