// `--backend` on run, bench, verify and inspect, and `bpfvm diff`, driven as a user drives them: the
// bpfvm executable as a process. Kernel parts skip with a clear message when bpf(2) is unusable.
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"
#include "tests/tools/cli_proc.h"
#include "vm/runtime/backend.h"

namespace bpfvm {
namespace {

namespace fs = std::filesystem;

using cli_test::Proc;

fs::path scratch() {
  static const fs::path dir = [] {
    char tmpl[] = "/tmp/bpfvm-backend-cli-XXXXXX";
    return fs::path(mkdtemp(tmpl));
  }();
  return dir;
}

// Runs bpfvm with `args` (prefix: a command run before it, e.g. setpriv); captures the outputs.
Proc bpfvm(const std::vector<std::string>& args, const std::string& prefix = "") {
  return cli_test::run("bpfvm", args, "", prefix);
}

std::string corpus(const std::string& name) {
  return std::string(BPFVM_CORPUS_OBJ_DIR) + "/" + name + ".o";
}

// A 64-byte IPv4/UDP packet from 10.1.2.3 (xdp_lpm_firewall blocks 10.1.0.0/16 when told to).
std::string packet_file() {
  const fs::path p = scratch() / "udp.pkt";
  std::string pkt(64, '\0');
  const unsigned char hdr[] = {0,    1, 2,  3,  4, 5, 6,    7,    8,  9,  10, 11, 0x08, 0x00,
                               0x45, 0, 0,  50, 0, 1, 0,    0,    64, 17, 0,  0,  10,   1,
                               2,    3, 10, 0,  0, 2, 0x04, 0xd2, 0,  80, 0,  30, 0,    0};
  std::copy(std::begin(hdr), std::end(hdr), pkt.begin());
  std::ofstream(p, std::ios::binary) << pkt;
  return p.string();
}

#define REQUIRE_KERNEL()                                                     \
  do {                                                                       \
    if (Status st = kernel_available(); !st) GTEST_SKIP() << st.error().msg; \
  } while (0)

std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n')
    t.pop_back();
  size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

TEST(BackendCli, AnUnknownBackendIsAUsageError) {
  Proc p = bpfvm({"run", "--backend", "qemu", corpus("xdp_lpm_firewall"), "--packet", packet_file()});
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.err.find("unknown backend 'qemu' (backends: user, kernel)"), std::string::npos) << p.err;
}

TEST(BackendCli, TheKernelBackendRefusesBytecodeThatIsNotAnElfObject) {
  const fs::path raw = scratch() / "prog.bin";
  std::ofstream(raw, std::ios::binary)
      << std::string("\xb7\x00\x00\x00\x07\x00\x00\x00\x95\x00\x00\x00\x00\x00\x00\x00", 16);
  Proc p = bpfvm({"run", "--backend", "kernel", raw.string()});
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.err.find("loads ELF objects"), std::string::npos) << p.err;
}

TEST(BackendCli, RunGivesTheSameR0AndPacketInUserSpaceAndInTheKernel) {
  REQUIRE_KERNEL();
  const std::string pkt = packet_file();
  const fs::path uout = scratch() / "u.pkt", kout = scratch() / "k.pkt";
  Proc u = bpfvm({"run", "--backend", "user", corpus("tc_rewrite"), "--program", "tc_nat_udp", "--packet",
                  pkt, "--packet-out", uout.string()});
  Proc k = bpfvm({"run", "--backend", "kernel", corpus("tc_rewrite"), "--program", "tc_nat_udp", "--packet",
                  pkt, "--packet-out", kout.string()});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  ASSERT_EQ(k.exit_code, 0) << k.err;
  EXPECT_EQ(last_line(u.out), last_line(k.out));
  EXPECT_NE(k.err.find("kernel verifier: accepted"), std::string::npos) << k.err;
  EXPECT_EQ(read_text(uout), read_text(kout));
  EXPECT_EQ(read_text(kout).size(), 64u);
}

TEST(BackendCli, RunWithDumpMapsShowsTheKernelMaps) {
  REQUIRE_KERNEL();
  Proc k = bpfvm({"run", "--backend", "kernel", corpus("xdp_lpm_firewall"), "--packet", packet_file(),
                  "--repeat", "3", "--dump-maps"});
  ASSERT_EQ(k.exit_code, 0) << k.err;
  EXPECT_NE(k.err.find("map "), std::string::npos) << k.err;
  EXPECT_NE(k.err.find("lpm_trie"), std::string::npos) << k.err;
}

TEST(BackendCli, BenchReportsTheKernelsTimePerRun) {
  REQUIRE_KERNEL();
  Proc k = bpfvm(
      {"bench", "--backend", "kernel", corpus("parse_l4"), "--packet", packet_file(), "--repeat", "200"});
  ASSERT_EQ(k.exit_code, 0) << k.err;
  EXPECT_NE(k.out.find("backend: kernel"), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("runs: 200"), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("ns/run: "), std::string::npos) << k.out;
}

TEST(BackendCli, VerifyWithTheKernelPrintsItsVerdictAndLog) {
  REQUIRE_KERNEL();
  Proc k = bpfvm({"verify", "--backend", "kernel", "--log", corpus("parse_l4")});
  ASSERT_EQ(k.exit_code, 0) << k.out << k.err;
  EXPECT_NE(k.out.find("PASS "), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("kernel verifier: accepted"), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("processed "), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("(limit 1000000)"), std::string::npos) << k.out;
}

TEST(BackendCli, VerifyWithTheKernelGivesEachProgramItsOwnVerdict) {
  REQUIRE_KERNEL();
  // caller reads r0 after bpf_tail_call (the kernel: "R0 !read_ok"); callee is fine.
  const std::string obj = shared_dir() + "/ebpf-samples/build/tail_call.o";
  Proc k = bpfvm({"verify", "--backend", "kernel", "--format", "json", obj});
  EXPECT_EQ(k.exit_code, 1) << k.err;
  auto doc = nlohmann::json::parse(k.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << k.out;
  std::map<std::string, std::string> verdicts;
  for (const auto& p : doc["files"][0]["programs"])
    verdicts[p["name"]] = p["verdict"];
  EXPECT_EQ(verdicts["caller"], "rejected");
  EXPECT_EQ(verdicts["callee"], "accepted");
  for (const auto& p : doc["files"][0]["programs"])
    if (p["name"] == "caller") {
      EXPECT_NE(p["error"].get<std::string>().find("R0 !read_ok"), std::string::npos) << p.dump();
      EXPECT_EQ(p["errno"], 13);  // EACCES: the verifier's rejection
    }
}

TEST(BackendCli, VerifyWithTheUserBackendWritesAKernelStyleLog) {
  Proc u = bpfvm({"verify", "--backend", "user", corpus("parse_l4")});
  EXPECT_EQ(u.exit_code, 0) << u.out << u.err;
  // --backend user keeps the verify command's own output.
  EXPECT_NE(u.out.find("PASS "), std::string::npos) << u.out;
}

TEST(BackendCli, InspectWithTheKernelListsWhatLibbpfCreated) {
  REQUIRE_KERNEL();
  Proc k = bpfvm({"inspect", "--backend", "kernel", corpus("global_data")});
  ASSERT_EQ(k.exit_code, 0) << k.err;
  EXPECT_NE(k.out.find("backend: kernel"), std::string::npos) << k.out;
  EXPECT_NE(k.out.find(".rodata"), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("accepted"), std::string::npos) << k.out;
}

TEST(BackendCli, WithoutPrivilegeTheKernelBackendSaysWhy) {
  REQUIRE_KERNEL();
  if (geteuid() != 0 || std::system("command -v setpriv >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "needs root and setpriv to drop privileges";
  // The build tree and the corpus must be readable by the unprivileged user for this to test bpf(2).
  Proc k = bpfvm({"verify", "--backend", "kernel", corpus("parse_l4")},
                 "setpriv --reuid=65534 --regid=65534 --clear-groups ");
  if (k.err.find("Permission denied") != std::string::npos &&
      k.err.find("kernel backend") == std::string::npos)
    GTEST_SKIP() << "the build tree is not readable by nobody: " << k.err;
  EXPECT_EQ(k.exit_code, 1) << k.err;
  EXPECT_NE(k.err.find("the kernel backend is not reachable: no privilege"), std::string::npos) << k.err;
}

TEST(BackendCli, DiffAgreesOnADeterministicProgram) {
  REQUIRE_KERNEL();
  Proc d = bpfvm({"diff", corpus("xdp_lpm_firewall"), "--packet", packet_file()});
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  EXPECT_NE(d.out.find("both_accept"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("r0: bpfvm 0x"), std::string::npos) << d.out;
  EXPECT_EQ(d.out.find("differs"), std::string::npos) << d.out;
}

TEST(BackendCli, DiffClassifiesRandomAndTimeHelpersAsAPolicyDifference) {
  REQUIRE_KERNEL();
  Proc d = bpfvm({"diff", corpus("helpers_nondet"), "--format", "json"});
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  auto doc = nlohmann::json::parse(d.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << d.out;
  const auto& p = doc["files"][0]["programs"][0];
  EXPECT_EQ(p["agreement"], "both_accept");
  EXPECT_FALSE(p["undocumented"].get<bool>());
  if (!p["run_diffs"].empty()) {
    EXPECT_EQ(p["run_class"], "nondeterministic-helper");
  }
  EXPECT_EQ(doc["summary"]["undocumented"], 0);
}

TEST(BackendCli, DiffRejectsBadArguments) {
  EXPECT_EQ(bpfvm({"diff", corpus("parse_l4"), "--format", "xml"}).exit_code, 2);
  EXPECT_EQ(bpfvm({"diff", corpus("parse_l4"), "--repeat", "0"}).exit_code, 2);
}

TEST(BackendCli, EveryPolicyClassIsDocumented) {
  Proc p = bpfvm({"diff", "--policies"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const std::string doc = read_text(fs::path(BPFVM_SOURCE_DIR) / "docs" / "DIFF_POLICY.md");
  ASSERT_FALSE(doc.empty()) << "docs/DIFF_POLICY.md is missing";
  std::istringstream lines(p.out);
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    const std::string id = line.substr(0, line.find('\t'));
    EXPECT_NE(doc.find("## `" + id + "`"), std::string::npos)
        << "docs/DIFF_POLICY.md has no section for " << id;
    n++;
  }
  EXPECT_GE(n, 8u);
}

// ---- The shared corpus: the agreement table must not change silently ----

// One line per program: object (relative to ebpf-samples), section, program, verdict agreement,
// its policy class, run status and run policy class.
std::vector<std::string> corpus_table(const nlohmann::json& doc, const std::string& root) {
  std::vector<std::string> rows;
  for (const auto& f : doc["files"]) {
    std::string file = f["file"];
    if (file.starts_with(root)) file = file.substr(root.size());
    if (f.contains("error")) {
      rows.push_back(file + "\t-\t-\terror\t-\t-\t-");
      continue;
    }
    for (const auto& p : f["programs"]) {
      std::string run = p["run"];
      if (run.starts_with("not_run")) run = "not_run";
      if (run.empty()) run = "-";
      // Whether a program that reads random numbers, clocks or the task agrees is chance.
      if (!p["helpers"].empty() && (run == "agree" || run == "differ")) run = "ran (depends on helpers)";
      auto dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
      rows.push_back(file + "\t" + p["section"].get<std::string>() + "\t" + p["name"].get<std::string>() +
                     "\t" + p["agreement"].get<std::string>() + "\t" + dash(p["verdict_class"]) + "\t" + run +
                     "\t" + (p["helpers"].empty() ? dash(p["run_class"]) : std::string("-")));
    }
  }
  return rows;
}

TEST(BackendCorpusDiff, TheAgreementWithTheKernelOnTheSharedCorpusIsUnchanged) {
  REQUIRE_KERNEL();
  const fs::path expected_path = fs::path(BPFVM_SOURCE_DIR) / "tests" / "backend" / "diff_corpus.tsv";
  // The kernel's verdicts are those of one kernel version: the table records it on its first line.
  struct utsname u {};
  uname(&u);
  const std::string release = u.release, kernel = "# linux " + release.substr(0, release.find('.', 2));
  {
    std::ifstream first(expected_path);
    std::string recorded;
    std::getline(first, recorded);
    if (recorded != kernel)
      GTEST_SKIP() << expected_path << " was recorded on '" << recorded << "', this is '" << kernel
                   << "': run bpfvm diff on the corpus and compare by hand";
  }
  const std::string root = shared_dir() + "/ebpf-samples/";
  std::vector<std::string> objects;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.path().extension() == ".o") objects.push_back(e.path().string());
  std::sort(objects.begin(), objects.end());
  ASSERT_EQ(objects.size(), 135u) << "the shared ebpf-samples corpus is missing or changed: " << root;
  std::vector<std::string> args = {"diff", "--format", "json"};
  args.insert(args.end(), objects.begin(), objects.end());
  Proc d = bpfvm(args);
  ASSERT_NE(d.exit_code, 2) << d.err;
  auto doc = nlohmann::json::parse(d.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << d.err;
  std::vector<std::string> rows = corpus_table(doc, root);
  EXPECT_EQ(doc["summary"]["programs"], 265);
  // The exit code says whether any disagreement is undocumented.
  EXPECT_EQ(d.exit_code, doc["summary"]["undocumented"].get<int>() > 0 ? 1 : 0);

  const fs::path actual_path = fs::path(BPFVM_BINARY_DIR) / "diff_corpus.actual.tsv";
  {
    std::ofstream out(actual_path);
    out << kernel << "\n";
    out << "# object\tsection\tprogram\tverdicts\tverdict_policy\trun\trun_policy\n";
    for (const std::string& r : rows)
      out << r << "\n";
  }
  std::set<std::string> expected, actual(rows.begin(), rows.end());
  std::ifstream in(expected_path);
  std::string line;
  std::getline(in, line);  // the kernel line, checked above
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#') expected.insert(line);
  ASSERT_FALSE(expected.empty()) << expected_path << " is missing";
  for (const std::string& r : actual)
    if (!expected.count(r)) ADD_FAILURE() << "new or changed: " << r;
  for (const std::string& r : expected)
    if (!actual.count(r)) ADD_FAILURE() << "no longer: " << r;
  if (HasFailure())
    ADD_FAILURE() << "the agreement table changed; check the differences, then copy " << actual_path << " to "
                  << expected_path << " and update the README table (bpfvm diff prints it)";
}

}  // namespace
}  // namespace bpfvm
