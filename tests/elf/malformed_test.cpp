// Malformed objects: truncations and byte flips of the corpus objects and of the test programs end
// in a clean kElf error or a successful load, never a crash (the suite also runs under ASan+UBSan).
#include <elf.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "vm/elf/elf_internal.h"
#include "vm/elf/elf_loader.h"

namespace bpfvm {
namespace {

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<std::vector<uint8_t>> sample_objects() {
  std::vector<std::string> paths;
  std::string samples = std::string(BPFVM_SHARED_DIR) + "/ebpf-samples";
  if (std::filesystem::exists(samples))
    for (const auto& e : std::filesystem::recursive_directory_iterator(samples))
      if (e.path().extension() == ".o") paths.push_back(e.path().string());
  for (const auto& e : std::filesystem::directory_iterator(BPFVM_ELF_PROGS_DIR))
    if (e.path().extension() == ".o") paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  std::vector<std::vector<uint8_t>> out;
  for (const std::string& p : paths) out.push_back(read_all(p));
  return out;
}

// Byte ranges worth mutating: the ELF header, the section header table, and the contents of the
// symbol table, relocation sections, maps, .BTF and .BTF.ext.
std::vector<std::pair<size_t, size_t>> interesting_ranges(const std::vector<uint8_t>& b) {
  std::vector<std::pair<size_t, size_t>> r = {{0, sizeof(Elf64_Ehdr)}};
  Elf64_Ehdr eh;
  std::memcpy(&eh, b.data(), sizeof eh);
  r.emplace_back(eh.e_shoff, size_t{eh.e_shnum} * sizeof(Elf64_Shdr));
  Elf64_Shdr str;
  std::memcpy(&str, b.data() + eh.e_shoff + eh.e_shstrndx * sizeof(Elf64_Shdr), sizeof str);
  for (size_t i = 1; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, b.data() + eh.e_shoff + i * sizeof(Elf64_Shdr), sizeof sh);
    const char* name = reinterpret_cast<const char*>(b.data() + str.sh_offset + sh.sh_name);
    bool want = sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_REL || sh.sh_type == SHT_RELA ||
                std::strncmp(name, "maps", 4) == 0 || std::strcmp(name, ".maps") == 0 ||
                std::strncmp(name, ".BTF", 4) == 0 || (sh.sh_flags & SHF_EXECINSTR);
    if (want && sh.sh_type != SHT_NOBITS && sh.sh_size > 0) r.emplace_back(sh.sh_offset, sh.sh_size);
  }
  return r;
}

void expect_clean(std::span<const uint8_t> bytes, const std::string& what) {
  LoadOptions opts;
  opts.system_btf = false;
  opts.max_data_section_size = 1 << 20;
  Result<ObjectFile> r = load_object(bytes, opts);
  if (!r.ok()) {
    EXPECT_EQ(r.error().code, ErrorCode::kElf) << what << ": " << r.error().to_string();
    EXPECT_FALSE(r.error().msg.empty()) << what;
    return;
  }
  for (const ElfProgram& p : r->programs) {
    if (!p.status.ok()) {
      EXPECT_FALSE(p.status.error().msg.empty());
      continue;
    }
    for (const MapReloc& m : p.map_relocs) {
      ASSERT_LT(m.map, r->maps.size()) << what;
      ASSERT_LT(m.insn, p.code.insns.size()) << what;
    }
    EXPECT_TRUE(p.line_info.empty() || p.line_info.size() == p.code.insns.size()) << what;
  }
}

void run_mutations(size_t count, uint32_t seed) {
  std::vector<std::vector<uint8_t>> objs = sample_objects();
  ASSERT_GT(objs.size(), 135u) << "corpus or test programs missing";
  std::mt19937 rng(seed);
  for (size_t n = 0; n < count; ++n) {
    const std::vector<uint8_t>& orig = objs[rng() % objs.size()];
    std::vector<uint8_t> b = orig;
    auto ranges = interesting_ranges(orig);
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      auto [off, len] = ranges[rng() % ranges.size()];
      if (len == 0) continue;
      size_t at = off + rng() % len;
      switch (rng() % 4) {
        case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: b[at] = static_cast<uint8_t>(rng()); break;
        case 2: b[at] = 0xff; break;
        case 3: b[at] = 0; break;
      }
    }
    expect_clean(b, "mutation " + std::to_string(n));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(ElfMalformed, TruncatedObjectsFailCleanly) {
  std::vector<std::vector<uint8_t>> objs = sample_objects();
  ASSERT_GT(objs.size(), 135u);
  size_t errors = 0;
  for (size_t i = 0; i < objs.size(); i += 3) {
    const std::vector<uint8_t>& b = objs[i];
    for (size_t len : {size_t{0}, size_t{1}, size_t{16}, size_t{63}, size_t{64}, b.size() / 4, b.size() / 2,
                       b.size() - 64, b.size() - 1}) {
      if (len >= b.size()) continue;
      Result<ObjectFile> r = load_object(std::span(b.data(), len));
      ASSERT_FALSE(r.ok()) << "object " << i << " truncated to " << len;  // the section table is at the end
      EXPECT_EQ(r.error().code, ErrorCode::kElf);
      ++errors;
    }
  }
  EXPECT_GT(errors, 300u);
}

TEST(ElfMalformed, HeaderChecksNameTheProblem) {
  std::vector<uint8_t> b = read_all(std::string(BPFVM_ELF_PROGS_DIR) + "/maps.o");
  ASSERT_GT(b.size(), 64u);
  auto err = [&](std::vector<uint8_t> m) {
    Result<ObjectFile> r = load_object(m);
    return r.ok() ? std::string("ok") : r.error().msg;
  };
  std::vector<uint8_t> m = b;
  m[EI_CLASS] = ELFCLASS32;
  EXPECT_NE(err(m).find("ELFCLASS64"), std::string::npos);
  m = b;
  m[EI_DATA] = ELFDATA2MSB;
  EXPECT_NE(err(m).find("little-endian"), std::string::npos);
  m = b;
  m[18] = 62;  // e_machine = EM_X86_64
  EXPECT_NE(err(m).find("not BPF"), std::string::npos);
  m = b;
  m[0] = 0;
  EXPECT_NE(err(m).find("magic"), std::string::npos);
  m = b;
  m[0x3c] = 0xff;  // e_shnum low byte
  m[0x3d] = 0x7f;
  EXPECT_NE(err(m).find("outside the file"), std::string::npos) << err(m);
  EXPECT_EQ(err(b), "ok");
}

TEST(ElfMalformed, RelocationOutsideSectionIsRejected) {
  std::vector<uint8_t> b = read_all(std::string(BPFVM_ELF_PROGS_DIR) + "/globals.o");
  Elf64_Ehdr eh;
  std::memcpy(&eh, b.data(), sizeof eh);
  bool patched = false;
  for (size_t i = 1; i < eh.e_shnum && !patched; ++i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, b.data() + eh.e_shoff + i * sizeof sh, sizeof sh);
    if (sh.sh_type != SHT_REL) continue;
    Elf64_Rel rel;
    std::memcpy(&rel, b.data() + sh.sh_offset, sizeof rel);
    rel.r_offset = 1u << 20;
    std::memcpy(b.data() + sh.sh_offset, &rel, sizeof rel);
    patched = true;
  }
  ASSERT_TRUE(patched);
  Result<ObjectFile> r = load_object(b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().msg.find("lies outside section"), std::string::npos) << r.error().msg;
}

TEST(ElfMalformed, LegacyMapRecordsMustDivideTheSection) {
  std::vector<std::pair<std::string, uint64_t>> syms = {{"a", 0}, {"b", 20}};
  std::vector<uint8_t> data(41, 0);
  std::vector<uint64_t> offs;
  auto r = elf_internal::parse_legacy_maps(data, "maps", syms, &offs);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().msg.find("equal size"), std::string::npos);
  data.assign(40, 0);
  data[0] = 2;  // a: array
  data[20] = 99;  // b: unknown type
  r = elf_internal::parse_legacy_maps(data, "maps", syms, &offs);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().msg.find("unknown map type 99"), std::string::npos) << r.error().msg;
  data[20] = 1;
  r = elf_internal::parse_legacy_maps(data, "maps", syms, &offs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[1].type, MapType::Hash);
}

TEST(ElfMalformed, ThousandsOfByteFlipsEndCleanly) { run_mutations(3000, 1); }

// 100,000 mutations, part of every run (CI runs it under ASan and UBSan too).
TEST(ElfMalformed, HundredThousandByteFlipsEndCleanly) { run_mutations(100000, 2); }

}  // namespace
}  // namespace bpfvm
