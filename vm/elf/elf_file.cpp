// The ELF container: our own bounds checks on the header and section table, then libelf.
#include <gelf.h>
#include <libelf.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "vm/elf/elf_internal.h"

namespace bpfvm::elf_internal {
namespace {

Error elf_error(std::string msg) { return Error{ErrorCode::kElf, kNoPc, std::move(msg)}; }

template <class T>
T read_le(std::span<const uint8_t> b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

// Closes the libelf handle on every path.
struct ElfHandle {
  Elf* e = nullptr;
  ~ElfHandle() {
    if (e) elf_end(e);
  }
};

constexpr size_t kMaxSections = 65535;
constexpr size_t kMaxNameLen = 4096;

std::string section_label(const ElfImage& img, size_t i) {
  if (i < img.sections.size() && !img.sections[i].name.empty())
    return fmt::format("section {} ({})", i, img.sections[i].name);
  return fmt::format("section {}", i);
}

}  // namespace

Status check_elf_header(std::span<const uint8_t> b) {
  if (b.size() < sizeof(Elf64_Ehdr))
    return elf_error(fmt::format("file of {} bytes is too short for an ELF header (64 bytes)", b.size()));
  if (std::memcmp(b.data(), ELFMAG, SELFMAG) != 0) return elf_error("not an ELF file (bad magic)");
  if (b[EI_CLASS] != ELFCLASS64) return elf_error(fmt::format("ELF class {} is not ELFCLASS64", b[EI_CLASS]));
  if (b[EI_DATA] != ELFDATA2LSB)
    return elf_error(fmt::format("ELF data encoding {} is not little-endian (ELFDATA2LSB)", b[EI_DATA]));
  if (b[EI_VERSION] != EV_CURRENT) return elf_error(fmt::format("ELF version {} is not 1", b[EI_VERSION]));
  Elf64_Ehdr eh;
  std::memcpy(&eh, b.data(), sizeof eh);
  if (eh.e_type != ET_REL) return elf_error(fmt::format("ELF type {} is not a relocatable object (ET_REL)", eh.e_type));
  // LLVM before 3.9 wrote EM_NONE for BPF objects (ovs/datapath.o of the corpus has it).
  if (eh.e_machine != kEmBpf && eh.e_machine != EM_NONE)
    return elf_error(fmt::format("ELF machine {} is not BPF ({})", eh.e_machine, kEmBpf));
  if (eh.e_ehsize < sizeof(Elf64_Ehdr)) return elf_error(fmt::format("ELF header size {} is too small", eh.e_ehsize));
  if (eh.e_shoff == 0 || eh.e_shnum == 0) return elf_error("the object has no section header table");
  if (eh.e_shentsize != sizeof(Elf64_Shdr))
    return elf_error(fmt::format("section header size {} is not {}", eh.e_shentsize, sizeof(Elf64_Shdr)));
  // e_shnum == 0 with the count in section 0 (SHN_LORESERVE and more sections) is not supported.
  uint64_t table_end = eh.e_shoff + uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr);
  if (eh.e_shoff > b.size() || table_end > b.size() || table_end < eh.e_shoff)
    return elf_error(fmt::format("section header table at offset {} ({} entries) lies outside the file of {} bytes",
                                 eh.e_shoff, eh.e_shnum, b.size()));
  if (eh.e_shoff % 8 != 0) return elf_error(fmt::format("section header table offset {} is not 8-aligned", eh.e_shoff));
  if (eh.e_shstrndx == SHN_UNDEF || eh.e_shstrndx >= eh.e_shnum)
    return elf_error(fmt::format("section name table index {} is outside the {} sections", eh.e_shstrndx, eh.e_shnum));
  for (size_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, b.data() + eh.e_shoff + i * sizeof(Elf64_Shdr), sizeof sh);
    if (i == 0) continue;
    if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL) {
      if (sh.sh_offset > b.size() || sh.sh_size > b.size() - sh.sh_offset)
        return elf_error(fmt::format("section {} (offset {}, size {}) lies outside the file of {} bytes", i,
                                     sh.sh_offset, sh.sh_size, b.size()));
    }
    if (sh.sh_link >= eh.e_shnum)
      return elf_error(fmt::format("section {} links to section {}, which does not exist", i, sh.sh_link));
    if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_REL || sh.sh_type == SHT_RELA) {
      size_t want = sh.sh_type == SHT_SYMTAB ? sizeof(Elf64_Sym) : sh.sh_type == SHT_REL ? sizeof(Elf64_Rel)
                                                                                        : sizeof(Elf64_Rela);
      if (sh.sh_entsize != want)
        return elf_error(fmt::format("section {} has entry size {}, expected {}", i, sh.sh_entsize, want));
      if (sh.sh_size % want != 0)
        return elf_error(fmt::format("section {} size {} is not a multiple of its entry size {}", i, sh.sh_size, want));
      if (sh.sh_offset % 8 != 0)
        return elf_error(fmt::format("section {} offset {} is not 8-aligned", i, sh.sh_offset));
    }
  }
  Elf64_Shdr shstr;
  std::memcpy(&shstr, b.data() + eh.e_shoff + eh.e_shstrndx * sizeof(Elf64_Shdr), sizeof shstr);
  if (shstr.sh_type != SHT_STRTAB)
    return elf_error(fmt::format("section name table (section {}) is not a string table", eh.e_shstrndx));
  if (shstr.sh_size == 0 || b[shstr.sh_offset + shstr.sh_size - 1] != 0)
    return elf_error("section name table is empty or not NUL-terminated");
  return Ok{};
}

Result<ElfImage> parse_elf(std::span<const uint8_t> bytes) {
  BPFVM_TRY(check_elf_header(bytes));
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes.data(), sizeof eh);
  if (elf_version(EV_CURRENT) == EV_NONE) return elf_error("libelf initialisation failed");
  // libelf wants a mutable image; it reads it in place.
  std::vector<char> image(bytes.begin(), bytes.end());
  ElfHandle h;
  h.e = elf_memory(image.data(), image.size());
  if (!h.e) return elf_error(fmt::format("libelf cannot read the object: {}", elf_errmsg(-1)));
  if (elf_kind(h.e) != ELF_K_ELF) return elf_error("libelf does not recognise an ELF object");
  size_t shnum = 0;
  if (elf_getshdrnum(h.e, &shnum) != 0 || shnum != eh.e_shnum || shnum > kMaxSections)
    return elf_error("libelf disagrees on the number of sections");

  ElfImage img;
  img.sections.resize(shnum);
  img.relocs.resize(shnum);
  const uint8_t* shstr_base = nullptr;
  size_t shstr_size = 0;
  {
    Elf64_Shdr s;
    std::memcpy(&s, bytes.data() + eh.e_shoff + eh.e_shstrndx * sizeof(Elf64_Shdr), sizeof s);
    shstr_base = bytes.data() + s.sh_offset;
    shstr_size = s.sh_size;
  }
  int symtab = -1;
  for (size_t i = 1; i < shnum; ++i) {
    Elf_Scn* scn = elf_getscn(h.e, i);
    GElf_Shdr sh;
    if (!scn || !gelf_getshdr(scn, &sh)) return elf_error(fmt::format("libelf cannot read section header {}", i));
    Section& s = img.sections[i];
    if (sh.sh_name >= shstr_size) return elf_error(fmt::format("section {} name offset {} is outside the name table", i, sh.sh_name));
    const char* nm = reinterpret_cast<const char*>(shstr_base + sh.sh_name);
    s.name.assign(nm, strnlen(nm, std::min(kMaxNameLen, shstr_size - sh.sh_name)));
    s.type = sh.sh_type;
    s.flags = sh.sh_flags;
    s.link = sh.sh_link;
    s.info = sh.sh_info;
    s.size = sh.sh_size;
    if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL) s.data = bytes.subspan(sh.sh_offset, sh.sh_size);
    if (sh.sh_type == SHT_SYMTAB) {
      if (symtab >= 0) return elf_error(fmt::format("more than one symbol table (sections {} and {})", symtab, i));
      symtab = static_cast<int>(i);
    }
  }
  if (symtab < 0) return elf_error("the object has no symbol table");

  // Symbols.
  {
    const Section& st = img.sections[symtab];
    if (st.link == 0 || img.sections[st.link].type != SHT_STRTAB)
      return elf_error(fmt::format("symbol table (section {}) does not link to a string table", symtab));
    std::span<const uint8_t> strs = img.sections[st.link].data;
    Elf_Data* d = elf_getdata(elf_getscn(h.e, symtab), nullptr);
    size_t n = st.size / sizeof(Elf64_Sym);
    if (!d || d->d_size != st.size) return elf_error("libelf cannot read the symbol table");
    img.symbols.resize(n);
    for (size_t k = 0; k < n; ++k) {
      GElf_Sym sym;
      if (!gelf_getsym(d, static_cast<int>(k), &sym)) return elf_error(fmt::format("libelf cannot read symbol {}", k));
      Symbol& out = img.symbols[k];
      if (sym.st_name >= strs.size() && sym.st_name != 0)
        return elf_error(fmt::format("symbol {} name offset {} is outside the string table", k, sym.st_name));
      if (sym.st_name < strs.size()) {
        const char* nm = reinterpret_cast<const char*>(strs.data() + sym.st_name);
        out.name.assign(nm, strnlen(nm, std::min(kMaxNameLen, strs.size() - sym.st_name)));
      }
      out.type = GELF_ST_TYPE(sym.st_info);
      out.bind = GELF_ST_BIND(sym.st_info);
      out.shndx = sym.st_shndx;
      out.value = sym.st_value;
      out.size = sym.st_size;
      if (out.shndx != SHN_UNDEF && out.shndx < SHN_LORESERVE && out.shndx >= shnum)
        return elf_error(fmt::format("symbol {} ({}) is in section {}, which does not exist", k, out.name, out.shndx));
      if (out.shndx == SHN_XINDEX) return elf_error(fmt::format("symbol {} ({}) uses SHN_XINDEX, not supported", k, out.name));
    }
  }

  // Relocations.
  for (size_t i = 1; i < shnum; ++i) {
    const Section& rs = img.sections[i];
    if (rs.type != SHT_REL && rs.type != SHT_RELA) continue;
    bool rela = rs.type == SHT_RELA;
    size_t entsize = rela ? sizeof(Elf64_Rela) : sizeof(Elf64_Rel);
    if (rs.link != static_cast<uint32_t>(symtab))
      return elf_error(fmt::format("{} does not refer to the symbol table", section_label(img, i)));
    if (rs.info == 0 || rs.info >= shnum)
      return elf_error(fmt::format("{} applies to section {}, which does not exist", section_label(img, i), rs.info));
    const Section& target = img.sections[rs.info];
    Elf_Data* d = elf_getdata(elf_getscn(h.e, i), nullptr);
    size_t n = rs.size / entsize;
    if (n > 0 && (!d || d->d_size != rs.size)) return elf_error(fmt::format("libelf cannot read {}", section_label(img, i)));
    std::vector<Reloc>& out = img.relocs[rs.info];
    if (!out.empty())
      return elf_error(fmt::format("section {} ({}) has more than one relocation section", rs.info, target.name));
    out.reserve(n);
    for (size_t k = 0; k < n; ++k) {
      GElf_Rela r{};
      if (rela ? !gelf_getrela(d, static_cast<int>(k), &r)
               : !gelf_getrel(d, static_cast<int>(k), reinterpret_cast<GElf_Rel*>(&r)))
        return elf_error(fmt::format("libelf cannot read relocation {} of {}", k, rs.name));
      Reloc rel{r.r_offset, static_cast<uint32_t>(GELF_R_SYM(r.r_info)), static_cast<uint32_t>(GELF_R_TYPE(r.r_info)),
                rela, rela ? r.r_addend : 0};
      if (rel.sym >= img.symbols.size())
        return elf_error(fmt::format("relocation {} of {} refers to symbol {}, which does not exist ({} symbols)", k,
                                     rs.name, rel.sym, img.symbols.size()));
      // 64-bit data relocations patch 8 bytes; the others (ABS32, NODYLD32, and type 10 in the debug
      // sections of older LLVM) at least 4. Code sections are checked per instruction by the loader.
      uint64_t width = rel.type == kRBpf64_64 || rel.type == kRBpf64Abs64 ? 8 : 4;
      if (rel.offset > target.size || target.size - rel.offset < width)
        return elf_error(fmt::format("relocation {} of {} at offset {} lies outside section {} ({} bytes)", k, rs.name,
                                     rel.offset, target.name, target.size));
      out.push_back(rel);
    }
    std::stable_sort(out.begin(), out.end(), [](const Reloc& a, const Reloc& b) { return a.offset < b.offset; });
  }
  return img;
}

}  // namespace bpfvm::elf_internal
