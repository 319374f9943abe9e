// Robustness: random and mutated inputs through the fuzz targets. Run under ASan and UBSan in CI.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fuzz/targets.h"
#include "tests/test_util.h"
#include "vm/data_file.h"
#include "vm/isa.h"
#include "vm/runtime/input.h"

namespace bpfvm {
namespace {

struct Seeds {
  std::vector<std::vector<uint8_t>> programs;  // encoded conformance programs
  std::vector<std::string> texts;              // their .data texts
};

const Seeds& seeds() {
  static const Seeds s = [] {
    Seeds s;
    for (const std::string& path : conformance_files()) {
      auto bytes = read_file(path);
      if (!bytes) continue;
      s.texts.emplace_back(bytes->begin(), bytes->end());
      auto df = parse_data_file(s.texts.back());
      if (!df) continue;
      auto code = program_bytes(*df);
      if (code) s.programs.push_back(*code);
    }
    return s;
  }();
  return s;
}

// One random valid-looking slot: a real opcode row with plausible fields.
void random_slot(std::mt19937_64& rng, uint8_t* out) {
  auto ops = all_ops();
  const OpInfo& row = ops[rng() % ops.size()];
  RawInsn raw{};
  raw.opcode = row.opcode;
  raw.dst = rng() % 11;
  raw.src = row.sel == Sel::Src ? row.selval : rng() % 11;
  raw.off = row.sel == Sel::Off ? static_cast<int16_t>(row.selval) : static_cast<int16_t>(rng() % 17) - 8;
  raw.imm = row.sel == Sel::Imm ? row.selval : static_cast<int32_t>(rng() % 64) - 8;
  if (rng() % 3 == 0) raw.off = 0;
  if (rng() % 3 == 0) raw.imm = 0;
  if (rng() % 3 == 0) raw.src = 0;
  std::memcpy(out, &raw, 8);
}

std::vector<uint8_t> mutate(std::mt19937_64& rng, std::vector<uint8_t> b) {
  int n = 1 + rng() % 4;
  for (int k = 0; k < n; ++k) {
    switch (rng() % 7) {
      case 0:  // flip a bit
        if (!b.empty()) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // random byte
        if (!b.empty()) b[rng() % b.size()] = static_cast<uint8_t>(rng());
        break;
      case 2:  // truncate
        if (!b.empty()) b.resize(rng() % b.size());
        break;
      case 3: {  // replace a slot with a random valid-looking one
        if (b.size() >= 8) random_slot(rng, &b[(rng() % (b.size() / 8)) * 8]);
        break;
      }
      case 4: {  // duplicate a slot
        if (b.size() >= 8) {
          size_t s = (rng() % (b.size() / 8)) * 8;
          std::vector<uint8_t> slot(b.begin() + s, b.begin() + s + 8);
          b.insert(b.begin() + s, slot.begin(), slot.end());
        }
        break;
      }
      case 5: {  // delete a slot
        if (b.size() >= 16) {
          size_t s = (rng() % (b.size() / 8)) * 8;
          b.erase(b.begin() + s, b.begin() + s + 8);
        }
        break;
      }
      default: {  // perturb an offset or immediate
        if (b.size() >= 8) {
          size_t s = (rng() % (b.size() / 8)) * 8;
          int16_t off;
          std::memcpy(&off, &b[s + 2], 2);
          off = static_cast<int16_t>(off + static_cast<int>(rng() % 9) - 4);
          std::memcpy(&b[s + 2], &off, 2);
        }
        break;
      }
    }
  }
  return b;
}

TEST(Robustness, HundredThousandProgramsThroughDecoderAndCheckedInterpreter) {
  const Seeds& s = seeds();
  ASSERT_FALSE(s.programs.empty()) << "no conformance programs to mutate";
  std::mt19937_64 rng(20261125);
  for (int i = 0; i < 100000; ++i) {
    std::vector<uint8_t> b;
    switch (i % 3) {
      case 0:
        b = mutate(rng, s.programs[rng() % s.programs.size()]);
        break;
      case 1: {  // structured random program ending in exit
        size_t n = 1 + rng() % 24;
        b.resize(n * 8);
        for (size_t k = 0; k < n; ++k) random_slot(rng, &b[k * 8]);
        if (rng() % 4) {
          std::memset(&b[(n - 1) * 8], 0, 8);
          b[(n - 1) * 8] = 0x95;
        }
        break;
      }
      default: {  // random bytes
        b.resize(rng() % 96);
        for (auto& x : b) x = static_cast<uint8_t>(rng());
        break;
      }
    }
    fuzz::decode_and_run(b.data(), b.size());
  }
}

TEST(Robustness, MutatedAssemblyNeverCrashesTheAssembler) {
  const Seeds& s = seeds();
  ASSERT_FALSE(s.texts.empty());
  std::mt19937_64 rng(7);
  const char* tokens[] = {"%r", "[", "]", "+", "-", ",", ":", "0x", "lddw", "call", "lock", "map(", "func(",
                          "\n", " ", "99999999999999999999", "-2147483649", "exit", "%r11", "label"};
  for (int i = 0; i < 20000; ++i) {
    std::string t = s.texts[rng() % s.texts.size()];
    auto at = t.find("-- asm");
    if (at != std::string::npos) t = t.substr(at + 6);
    int n = 1 + rng() % 4;
    for (int k = 0; k < n && !t.empty(); ++k) {
      size_t pos = rng() % t.size();
      if (rng() % 2)
        t.insert(pos, tokens[rng() % std::size(tokens)]);
      else
        t.erase(pos, 1 + rng() % 8);
    }
    fuzz::assemble_text(reinterpret_cast<const uint8_t*>(t.data()), t.size());
  }
}

TEST(Robustness, MutatedDataFilesNeverCrashTheParser) {
  const Seeds& s = seeds();
  ASSERT_FALSE(s.texts.empty());
  std::mt19937_64 rng(9);
  for (int i = 0; i < 20000; ++i) {
    std::string t = s.texts[rng() % s.texts.size()];
    std::vector<uint8_t> b(t.begin(), t.end());
    b = mutate(rng, b);
    fuzz::parse_data(b.data(), b.size());
  }
}

}  // namespace
}  // namespace bpfvm
