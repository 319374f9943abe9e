// Validates the corpus specs against the Linux kernel: every run of every spec is loaded with
// libbpf, test-run with BPF_PROG_TEST_RUN, and its r0, packet, context, maps and ring buffers
// compared with the spec. Skips (only) when this process cannot use bpf(2).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/kernel/corpus_spec.h"
#include "tests/kernel/kernel_runner.h"

namespace bpfvm::kernel {
namespace {

namespace fs = std::filesystem;

class KernelOracle : public ::testing::TestWithParam<CorpusRun> {};

TEST_P(KernelOracle, MatchesSpec) {
  std::string why;
  if (!kernel_bpf_available(&why)) GTEST_SKIP() << "kernel BPF unavailable: " << why;
  auto spec = load_spec(GetParam().spec_path, BPFVM_CORPUS_OBJ_DIR);
  ASSERT_TRUE(spec.ok()) << spec.error().msg;
  const RunSpec& run = spec->runs.at(GetParam().run_index);
  auto res = kernel_run(run.request);
  ASSERT_TRUE(res.ok()) << res.error().msg;
  for (const std::string& m : check_run(run, *res))
    ADD_FAILURE() << GetParam().spec_path << " run '" << run.name << "': " << m;
}

INSTANTIATE_TEST_SUITE_P(Corpus, KernelOracle, ::testing::ValuesIn(corpus_runs()), CorpusRunName());

TEST(CorpusSpecs, AllSpecsParse) {
  const auto specs = list_specs(BPFVM_CORPUS_SRC_DIR);
  ASSERT_FALSE(specs.empty()) << "no *.json specs in " << BPFVM_CORPUS_SRC_DIR;
  for (const std::string& path : specs) {
    auto spec = load_spec(path, BPFVM_CORPUS_OBJ_DIR);
    EXPECT_TRUE(spec.ok()) << spec.error().msg;
  }
}

// Every program source has a spec, every spec names an existing object and, in it, existing
// programs; every program of every object is exercised by at least one run.
TEST(CorpusSpecs, EverySourceHasSpecAndEverySpecNamesRealPrograms) {
  std::set<std::string> sources;
  for (const auto& e : fs::directory_iterator(BPFVM_CORPUS_SRC_DIR))
    if (e.path().extension() == ".c") sources.insert(e.path().stem().string());
  EXPECT_GE(sources.size(), 25u);

  std::set<std::string> specced;
  for (const std::string& path : list_specs(BPFVM_CORPUS_SRC_DIR)) {
    auto spec = load_spec(path, BPFVM_CORPUS_OBJ_DIR);
    if (!spec.ok()) continue;  // AllSpecsParse reports it
    EXPECT_EQ(fs::path(path).stem().string(), spec->object) << path << ": a spec is named after its object";
    EXPECT_TRUE(sources.count(spec->object)) << path << ": no " << spec->object << ".c in the corpus";
    specced.insert(spec->object);
    auto progs = kernel_list_programs(std::string(BPFVM_CORPUS_OBJ_DIR) + "/" + spec->object + ".o");
    ASSERT_TRUE(progs.ok()) << progs.error().msg;
    std::set<std::string> used;
    for (const RunSpec& run : spec->runs) {
      EXPECT_TRUE(std::count(progs->begin(), progs->end(), run.request.program))
          << path << " run '" << run.name << "': no program '" << run.request.program << "' in "
          << spec->object;
      used.insert(run.request.program);
    }
    for (const std::string& p : *progs)
      EXPECT_TRUE(used.count(p)) << spec->object << ": program '" << p << "' has no run";
  }
  for (const std::string& s : sources)
    EXPECT_TRUE(specced.count(s)) << s << ".c has no spec " << s << ".json";
}

TEST(KernelRunner, ReportsMissingObjectProgramAndMap) {
  std::string why;
  if (!kernel_bpf_available(&why)) GTEST_SKIP() << "kernel BPF unavailable: " << why;
  RunRequest req;
  req.object_path = std::string(BPFVM_CORPUS_OBJ_DIR) + "/no_such_object.o";
  req.program = "x";
  auto r = kernel_run(req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().msg.find("no_such_object.o"), std::string::npos) << r.error().msg;

  req.object_path = std::string(BPFVM_CORPUS_OBJ_DIR) + "/hash_ops.o";
  req.program = "not_a_program";
  r = kernel_run(req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().msg.find("no program named 'not_a_program'"), std::string::npos) << r.error().msg;

  req.program = "xdp_hash_ops";
  req.data_in.assign(64, 0);
  req.maps_before.push_back({"nope", Bytes(4, 0), {Bytes(8, 0)}});
  r = kernel_run(req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().msg.find("no map 'nope' (maps: kv"), std::string::npos) << r.error().msg;

  req.maps_before = {{"kv", Bytes(3, 0), {Bytes(8, 0)}}};
  r = kernel_run(req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().msg.find("key has 3 bytes, the map's key_size is 4"), std::string::npos)
      << r.error().msg;
}

TEST(KernelRunner, PerCpuValuesCoverEveryPossibleCpuAndLandOnTheRunCpu) {
  std::string why;
  if (!kernel_bpf_available(&why)) GTEST_SKIP() << "kernel BPF unavailable: " << why;
  auto spec = load_spec(std::string(BPFVM_CORPUS_SRC_DIR) + "/percpu_counters.json", BPFVM_CORPUS_OBJ_DIR);
  ASSERT_TRUE(spec.ok()) << spec.error().msg;
  RunRequest req = spec->runs.at(0).request;
  req.maps_before.clear();
  for (int cpu : {0, 1}) {
    req.cpu = cpu;
    auto res = kernel_run(req);
    if (!res.ok() && cpu >= 1) break;  // a one-CPU machine
    ASSERT_TRUE(res.ok()) << res.error().msg;
    const MapContents* m = res->find_map("proto_stats");
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(m->per_cpu);
    ASSERT_EQ(m->entries.size(), 4u);
    uint64_t packets_on_cpu = 0, packets_elsewhere = 0;
    for (const MapEntry& e : m->entries) {
      ASSERT_EQ(e.values.size(), static_cast<size_t>(res->num_cpus));
      for (int c = 0; c < res->num_cpus; c++) {
        uint64_t p;
        memcpy(&p, e.values[c].data(), 8);
        (c == cpu ? packets_on_cpu : packets_elsewhere) += p;
      }
    }
    EXPECT_EQ(packets_on_cpu, req.repeat) << "cpu " << cpu;
    EXPECT_EQ(packets_elsewhere, 0u) << "cpu " << cpu;
  }
}

TEST(CorpusSpecs, HexParsing) {
  auto b = parse_hex("0a0B | ff\n 00");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (Bytes{0x0a, 0x0b, 0xff, 0x00}));
  EXPECT_FALSE(parse_hex("abc").ok());
  EXPECT_FALSE(parse_hex("zz").ok());
  EXPECT_EQ(to_hex(Bytes{1, 0xab}), "01ab");
}

TEST(CorpusSpecs, CheckRunReportsEveryKindOfMismatch) {
  RunSpec spec;
  spec.prog_type = "xdp";
  spec.expect.retval = 2;
  spec.expect.data_out = Bytes{1, 2};
  spec.expect.maps.push_back(
      {"m", std::vector<ExpectEntry>{{Bytes{1}, Bytes{5}}}, {}, {Bytes{9}}, {}, {}, false});
  spec.expect.ringbufs.push_back({"rb", {Bytes{7}}});
  RunResult res;
  res.prog_type = 6;
  res.retval = 2;
  res.data_out = Bytes{1, 2};
  res.maps.push_back({"m", 1, 1, 1, 4, false, {{Bytes{1}, {Bytes{5}}}}});
  res.ringbufs.push_back({"rb", {Bytes{7}}});
  EXPECT_TRUE(check_run(spec, res).empty());

  RunResult bad = res;
  bad.retval = 1;
  bad.data_out = Bytes{1, 3};
  bad.maps[0].entries = {{Bytes{1}, {Bytes{6}}}, {Bytes{9}, {Bytes{0}}}};
  bad.ringbufs[0].second.clear();
  bad.prog_type = 3;
  // prog_type, retval, data_out, value of key 01, entry count, absent key 09, ringbuf count
  EXPECT_EQ(check_run(spec, bad).size(), 7u);

  // Per-CPU: the run's CPU is compared, other CPUs must hold zeros unless other_cpus is "any".
  spec = RunSpec{};
  spec.prog_type = "xdp";
  spec.expect.maps.push_back({"p", {}, {{Bytes{0}, Bytes{3}}}, {}, {}, {}, false});
  res = RunResult{};
  res.prog_type = 6;
  res.cpu = 1;
  res.num_cpus = 2;
  res.maps.push_back({"p", 6, 1, 1, 1, true, {{Bytes{0}, {Bytes{0}, Bytes{3}}}}});
  EXPECT_TRUE(check_run(spec, res).empty());
  res.maps[0].entries[0].values[0] = Bytes{4};
  EXPECT_EQ(check_run(spec, res).size(), 1u);
  spec.expect.maps[0].other_cpus_any = true;
  EXPECT_TRUE(check_run(spec, res).empty());
}

}  // namespace
}  // namespace bpfvm::kernel
