// Reader of the verifier's data-driven test cases (tests/verifier/cases/*.txt, format in
// tests/verifier/cases/README.md).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "verifier/verifier.h"
#include "vm/asm.h"
#include "vm/elf/elf_loader.h"
#include "vm/map_def.h"

namespace bpfvm::verifier::testing {

struct Case {
  std::string file, name;
  int line = 0;
  // Restricted C cases: the compiled object and the program (function) in it; a rejection names
  // the source line its first error must point to (expect_line) instead of a pc.
  std::string object;
  int expect_line = -1;
  ProgType type = ProgType::Raw;
  uint32_t ctx_size = 64;
  std::vector<MapDef> maps;
  std::string asm_text;
  bool expect_accept = true;
  std::string expect_kind;  // reject: ErrorKind name
  int64_t expect_pc = -1;   // reject: slot index
  uint64_t max_steps = 0;   // 0: the default analysis budget
  std::string section;      // the ELF section name the program would have (its attach point)
};

inline void PrintTo(const Case& c, std::ostream* os) {
  *os << c.file << ":" << c.line << " " << c.name;
}

inline bool is_c_case(const Case& c) {
  return !c.object.empty();
}

inline bool parse_map_type(const std::string& s, MapType* t) {
  for (uint32_t i = 0; i <= static_cast<uint32_t>(MapType::Arena); ++i) {
    if (s == map_type_name(static_cast<MapType>(i))) {
      *t = static_cast<MapType>(i);
      return true;
    }
  }
  return false;
}

// Parses one file; a malformed header line ends in `error`.
inline std::vector<Case> read_cases(const std::string& path, std::string* error) {
  std::ifstream in(path);
  std::vector<Case> out;
  if (!in) {
    *error = "cannot read " + path;
    return out;
  }
  std::string line, section;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("-- ", 0) != 0) {
      if (section == "asm" && !out.empty()) out.back().asm_text += line + "\n";
      continue;
    }
    std::istringstream ls(line.substr(3));
    std::string key;
    ls >> key;
    if (key == "case") {
      Case c;
      c.file = path;
      c.line = n;
      ls >> c.name;
      out.push_back(c);
      section = "";
      continue;
    }
    if (out.empty()) {
      *error = path + ":" + std::to_string(n) + ": section before '-- case'";
      return out;
    }
    Case& c = out.back();
    section = key;
    if (key == "type") {
      std::string t;
      ls >> t;
      auto pt = prog_type_from_name(t);
      if (!pt) {
        *error = path + ":" + std::to_string(n) + ": unknown type " + t;
        return out;
      }
      c.type = *pt;
    } else if (key == "max_steps") {
      ls >> c.max_steps;
    } else if (key == "section") {
      ls >> c.section;
    } else if (key == "ctx_size") {
      ls >> c.ctx_size;
    } else if (key == "map") {
      MapDef m;
      std::string type, k1, k2, k3, flag;
      ls >> m.name >> type >> k1 >> m.key_size >> k2 >> m.value_size >> k3 >> m.max_entries;
      const std::string bad = path + ":" + std::to_string(n) +
                              ": bad map line (NAME TYPE key K value V entries N [readonly] [flags F] "
                              "[inner NAME])";
      if (!ls || !parse_map_type(type, &m.type) || k1 != "key" || k2 != "value" || k3 != "entries") {
        *error = bad;
        return out;
      }
      while (ls >> flag) {
        if (flag == "readonly") {
          m.read_only = true;
        } else if (flag == "flags") {  // map_flags, e.g. 4096 = BPF_F_INNER_MAP
          if (!(ls >> m.map_flags)) {
            *error = bad;
            return out;
          }
        } else if (flag ==
                   "inner") {  // map of maps: `inner NAME` names an earlier map as the inner definition
          std::string inner;
          ls >> inner;
          for (const MapDef& d : c.maps)
            if (d.name == inner) m.inner = {d};
          if (m.inner.empty()) {
            *error = path + ":" + std::to_string(n) + ": inner map " + inner + " is not declared above";
            return out;
          }
        } else {
          *error = bad;
          return out;
        }
      }
      c.maps.push_back(m);
    } else if (key == "expect") {
      std::string v, at;
      ls >> v;
      if (v == "accept") {
        c.expect_accept = true;
      } else if (v == "reject") {
        c.expect_accept = false;
        ls >> c.expect_kind >> at >> c.expect_pc;
        if (at != "at" || c.expect_pc < 0) {
          *error = path + ":" + std::to_string(n) + ": expected 'reject KIND at PC'";
          return out;
        }
      } else {
        *error = path + ":" + std::to_string(n) + ": expected accept or reject";
        return out;
      }
    } else if (key != "asm") {
      *error = path + ":" + std::to_string(n) + ": unknown section " + key;
      return out;
    }
  }
  return out;
}

// Assembles the case's program, resolving map(NAME) references to map indexes.
inline Result<Program> assemble_case(const Case& c) {
  auto a = assemble(c.asm_text);
  if (!a) return a.error();
  Program p = std::move(a->program);
  for (const MapRef& r : a->map_refs) {
    int idx = -1;
    for (size_t i = 0; i < c.maps.size(); ++i)
      if (c.maps[i].name == r.name) idx = static_cast<int>(i);
    if (idx < 0) return make_error(ErrorCode::kBadInput, 0, "unknown map " + r.name);
    p.insns[r.insn_index].imm = idx;
  }
  return p;
}

inline VerifyOptions options_for(const Case& c) {
  VerifyOptions o;
  o.type = c.type;
  o.maps = c.maps;
  o.raw_ctx_size = c.ctx_size;
  if (c.max_steps) o.max_steps = c.max_steps;
  o.section = c.section;
  return o;
}

// Parses the expectations of a restricted C file (tests/verifier/progs/*.c): each program is the
// function defined after a `SEC(...)` line; `// expect accept` anywhere in it, or
// `// expect reject KIND` at the end of the source line its first error must point to (the line
// BTF line info gives the erroring instruction). `object` is the compiled file.
inline std::vector<Case> read_c_cases(const std::string& path,
                                      const std::string& object,
                                      std::string* error) {
  std::ifstream in(path);
  std::vector<Case> out;
  if (!in) {
    *error = "cannot read " + path;
    return out;
  }
  std::string line, current;
  bool after_sec = false;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("SEC(\"", 0) == 0 && line.find(".maps") == std::string::npos &&
        line.find("license") == std::string::npos) {
      after_sec = true;
      continue;
    }
    if (after_sec) {
      size_t paren = line.find('(');
      size_t start = line.find_last_of(" *", paren);
      if (paren != std::string::npos && start != std::string::npos) {
        current = line.substr(start + 1, paren - start - 1);
        after_sec = false;
      }
      continue;
    }
    size_t e = line.find("// expect ");
    if (e == std::string::npos) continue;
    if (current.empty()) {
      *error = path + ":" + std::to_string(n) + ": expectation outside a SEC() program";
      return out;
    }
    Case c;
    c.file = path;
    c.line = n;
    c.name = current;
    c.object = object;
    std::istringstream ls(line.substr(e + 10));
    std::string v;
    ls >> v;
    if (v == "reject") {
      c.expect_accept = false;
      ls >> c.expect_kind;
      c.expect_line = n;
      // "(program)": the marked line lies outside the program's own function (a subprogram).
      std::string prog;
      if (ls >> prog && prog.size() > 2 && prog.front() == '(' && prog.back() == ')')
        c.name = prog.substr(1, prog.size() - 2);
    } else if (v != "accept") {
      *error = path + ":" + std::to_string(n) + ": expected '// expect accept' or '// expect reject KIND'";
      return out;
    }
    for (const Case& o : out)
      if (o.name == c.name) {
        *error = path + ":" + std::to_string(n) + ": second expectation for " + c.name;
        return out;
      }
    out.push_back(c);
  }
  return out;
}

// A case ready to verify: the linked program, its type and maps, and (C cases) its line info.
struct LoadedCase {
  Program program;
  VerifyOptions options;
  std::vector<uint32_t> lines;  // C cases: source line per instruction (0: none)
  std::string license = "GPL";
};

inline Result<LoadedCase> load_case(const Case& c) {
  LoadedCase lc;
  if (!is_c_case(c)) {
    auto p = assemble_case(c);
    if (!p) return p.error();
    lc.program = std::move(*p);
    lc.options = options_for(c);
    return lc;
  }
  LoadOptions lo;
  lo.system_btf = false;
  auto obj = load_object_file(c.object, lo);
  if (!obj) return obj.error();
  int i = obj->find_program(c.name);
  if (i < 0) return make_error(ErrorCode::kBadInput, 0, "no program " + c.name + " in " + c.object);
  ElfProgram& ep = obj->programs[i];
  if (!ep.status.ok()) return ep.status.error();
  lc.program = std::move(ep.code);
  lc.options.type = ep.type;
  lc.options.maps = obj->maps;
  lc.options.section = ep.section;
  // As in BTF, a line entry covers the instructions up to the next entry.
  uint32_t last = 0;
  for (size_t k = 0; k < lc.program.insns.size(); ++k) {
    if (k < ep.line_info.size() && ep.line_info[k].line != 0) last = ep.line_info[k].line;
    lc.lines.push_back(last);
  }
  return lc;
}

// Source line of slot `pc` of a loaded C case, or 0.
inline uint32_t line_of_pc(const LoadedCase& lc, uint32_t pc) {
  for (size_t k = 0; k < lc.program.insns.size() && k < lc.lines.size(); ++k)
    if (lc.program.insns[k].pc == pc) return lc.lines[k];
  return 0;
}

// Every case: tests/verifier/cases/*.txt, then tests/verifier/progs/*.c (compiled into
// BPFVM_VERIFIER_PROGS_DIR), in file order. A file that does not parse becomes one case named
// PARSE_ERROR whose expect_kind holds the message.
inline std::vector<Case> all_cases() {
  std::vector<Case> out;
  auto add = [&](const std::string& dir, const std::string& ext, bool c) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().extension() == ext) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string err;
      auto cs = c ? read_c_cases(f.string(),
                                 std::string(BPFVM_VERIFIER_PROGS_DIR "/") + f.stem().string() + ".o", &err)
                  : read_cases(f.string(), &err);
      if (!err.empty()) {
        Case bad;
        bad.file = f.string();
        bad.name = "PARSE_ERROR";
        bad.expect_kind = err;
        out.push_back(bad);
        continue;
      }
      out.insert(out.end(), cs.begin(), cs.end());
    }
  };
  add(BPFVM_SOURCE_DIR "/tests/verifier/cases", ".txt", false);
  add(BPFVM_SOURCE_DIR "/tests/verifier/progs", ".c", true);
  return out;
}

// A stable name for reports and the kernel disagreement table: "<file stem>/<case name>".
inline std::string case_id(const Case& c) {
  return std::filesystem::path(c.file).stem().string() + "/" + c.name;
}

}  // namespace bpfvm::verifier::testing
