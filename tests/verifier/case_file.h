// Reader of the verifier's data-driven test cases (tests/verifier/cases/*.txt, format in
// tests/verifier/cases/README.md).
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "verifier/verifier.h"
#include "vm/asm.h"
#include "vm/map_def.h"

namespace bpfvm::verifier::testing {

struct Case {
  std::string file, name;
  int line = 0;
  ProgType type = ProgType::Raw;
  uint32_t ctx_size = 64;
  std::vector<MapDef> maps;
  std::string asm_text;
  bool expect_accept = true;
  std::string expect_kind;  // reject: ErrorKind name
  int64_t expect_pc = -1;   // reject: slot index
};

inline void PrintTo(const Case& c, std::ostream* os) {
  *os << c.file << ":" << c.line << " " << c.name;
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
      if (t == "raw")
        c.type = ProgType::Raw;
      else if (t == "xdp")
        c.type = ProgType::Xdp;
      else if (t == "sched_cls")
        c.type = ProgType::SchedCls;
      else if (t == "socket_filter")
        c.type = ProgType::SocketFilter;
      else if (t == "kprobe")
        c.type = ProgType::Kprobe;
      else if (t == "cgroup_skb")
        c.type = ProgType::CgroupSkb;
      else if (auto named = prog_type_from_name(t))  // any other program type, by its libbpf name
        c.type = *named;
      else {
        *error = path + ":" + std::to_string(n) + ": unknown type " + t;
        return out;
      }
    } else if (key == "ctx_size") {
      ls >> c.ctx_size;
    } else if (key == "map") {
      MapDef m;
      std::string type, k1, k2, k3, flag;
      ls >> m.name >> type >> k1 >> m.key_size >> k2 >> m.value_size >> k3 >> m.max_entries >> flag;
      if (!parse_map_type(type, &m.type) || k1 != "key" || k2 != "value" || k3 != "entries") {
        *error =
            path + ":" + std::to_string(n) + ": bad map line (NAME TYPE key K value V entries N [readonly])";
        return out;
      }
      m.read_only = flag == "readonly";
      if (flag == "inner") {  // map of maps: `inner NAME` names an earlier map as the inner definition
        std::string inner;
        ls >> inner;
        for (const MapDef& d : c.maps)
          if (d.name == inner) m.inner = {d};
        if (m.inner.empty()) {
          *error = path + ":" + std::to_string(n) + ": inner map " + inner + " is not declared above";
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
  return o;
}

}  // namespace bpfvm::verifier::testing
