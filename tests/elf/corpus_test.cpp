// Every object of the shared ebpf-samples corpus loads, and the programs found are exactly the rows
// of REFERENCE.tsv.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "vm/elf/elf_loader.h"

namespace bpfvm {
namespace {

const std::string kSamples = std::string(BPFVM_SHARED_DIR) + "/ebpf-samples";

using Row = std::tuple<std::string, std::string, std::string>;

std::set<Row> reference_rows() {
  std::set<Row> rows;
  std::ifstream f(kSamples + "/REFERENCE.tsv");
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    std::istringstream ss(line);
    std::string obj, sec, prog;
    std::getline(ss, obj, '\t');
    std::getline(ss, sec, '\t');
    std::getline(ss, prog, '\t');
    rows.emplace(obj, sec, prog);
  }
  return rows;
}

std::vector<std::string> corpus_objects() {
  std::vector<std::string> out;
  if (!std::filesystem::exists(kSamples)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kSamples))
    if (e.path().extension() == ".o") out.push_back(std::filesystem::relative(e.path(), kSamples).string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ElfCorpus, EveryObjectLoadsAndProgramsMatchReference) {
  std::vector<std::string> objs = corpus_objects();
  ASSERT_EQ(objs.size(), 135u) << "ebpf-samples missing or incomplete at " << kSamples;
  std::set<Row> ref = reference_rows();
  ASSERT_EQ(ref.size(), 265u);
  std::set<Row> found;
  size_t linked = 0;
  std::map<std::string, std::string> failures;  // "object program" -> error
  for (const std::string& o : objs) {
    LoadOptions opts;
    opts.system_btf = false;  // deterministic: no CO-RE target
    Result<ObjectFile> r = load_object_file(kSamples + "/" + o, opts);
    ASSERT_TRUE(r.ok()) << o << ": " << r.error().to_string();
    for (const ElfProgram& p : r->programs) {
      found.emplace(o, p.section, p.name);
      if (p.status.ok()) {
        ++linked;
        EXPECT_FALSE(p.code.insns.empty()) << o << " " << p.name;
        for (const MapReloc& m : p.map_relocs) {
          ASSERT_LT(m.map, r->maps.size());
          ASSERT_LT(m.insn, p.code.insns.size());
          EXPECT_EQ(p.code.insns[m.insn].imm, static_cast<int32_t>(m.map));
        }
      } else {
        failures[o + " " + p.name] = p.status.error().msg;
      }
    }
  }
  EXPECT_EQ(found, ref);
  for (const Row& r : ref)
    if (!found.count(r)) ADD_FAILURE() << "missing " << std::get<0>(r) << " " << std::get<1>(r) << " " << std::get<2>(r);
  for (const Row& r : found)
    if (!ref.count(r)) ADD_FAILURE() << "extra " << std::get<0>(r) << " " << std::get<1>(r) << " " << std::get<2>(r);
  // The only programs that do not link, each for a precise reason: calls of extern (undefined)
  // functions, and CO-RE relocations with no target BTF (system BTF disabled above).
  std::map<std::string, std::string> want_failures = {
      {"build/badrelo.o func", "call to extern function 'ebpf_map_update_elem' is not supported"},
      {"build/externalfunction.o func", "call to extern function 'bpf_map_lookup_elem' is not supported"},
      {"cilium-examples/tcprtt_bpf_bpfel.o tcp_close", "CO-RE relocation byte_off (type 21, access '0:0:2'): no target BTF"},
      {"cilium-examples/tcprtt_sockops_bpf_bpfel.o bpf_sockops_cb", "access '0:0'): no target BTF"},
  };
  EXPECT_EQ(failures.size(), want_failures.size());
  for (const auto& [k, v] : want_failures) {
    ASSERT_TRUE(failures.count(k)) << k;
    EXPECT_NE(failures[k].find(v), std::string::npos) << failures[k];
  }
  EXPECT_EQ(linked, 261u);
  for (const auto& [k, v] : failures) std::cout << "not linked: " << k << ": " << v << "\n";
  std::cout << "corpus: " << objs.size() << " objects, " << found.size() << " programs, " << linked << " linked\n";
}

}  // namespace
}  // namespace bpfvm
