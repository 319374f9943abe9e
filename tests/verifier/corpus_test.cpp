// Verifies every program of the shared ebpf-samples corpus with its section's program type and its
// object's maps, and compares the verdicts with tests/verifier/corpus_verdicts.tsv so that every
// change of a verdict is visible in review. Regenerate the table with BPFVM_UPDATE_VERDICTS=1.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "verifier/verifier.h"
#include "vm/elf/elf_loader.h"

namespace bpfvm::verifier {
namespace {

const std::string kCorpus = BPFVM_SHARED_DIR "/ebpf-samples";
const std::string kTable = BPFVM_SOURCE_DIR "/tests/verifier/corpus_verdicts.tsv";

std::string clean(std::string s) {
  std::replace(s.begin(), s.end(), '\t', ' ');
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

struct Row {
  std::string key;  // object \t section \t program
  std::string verdict, kind, reason;
};

std::vector<Row> run_corpus(double* seconds) {
  std::vector<std::string> objs;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kCorpus))
    if (e.path().extension() == ".o") objs.push_back(std::filesystem::relative(e.path(), kCorpus).string());
  std::sort(objs.begin(), objs.end());
  std::vector<Row> rows;
  auto t0 = std::chrono::steady_clock::now();
  LoadOptions lo;
  lo.system_btf = false;
  for (const std::string& o : objs) {
    auto obj = load_object_file(kCorpus + "/" + o, lo);
    if (!obj) {
      rows.push_back({o + "\t-\t-", "load-error", "-", clean(obj.error().to_string())});
      continue;
    }
    for (const ElfProgram& p : obj->programs) {
      Row r;
      r.key = o + "\t" + p.section + "\t" + p.name;
      if (!p.status.ok()) {
        r.verdict = "not-linked";
        r.kind = "-";
        r.reason = clean(p.status.error().to_string());
      } else {
        VerifyOptions vo;
        vo.type = p.type;
        vo.maps = obj->maps;
        auto v = verify(p.code, vo);
        if (!v) {
          r.verdict = "error";
          r.kind = "-";
          r.reason = clean(v.error().to_string());
        } else if (v->accepted) {
          r.verdict = "accept";
          r.kind = "-";
          r.reason = "-";
        } else {
          r.verdict = "reject";
          r.kind = error_kind_name(v->errors.front().kind);
          r.reason = clean(fmt::format("pc {}: {}", v->errors.front().pc, v->errors.front().message));
        }
      }
      rows.push_back(r);
    }
  }
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rows;
}

TEST(VerifierCorpus, VerdictsMatchTable) {
  ASSERT_TRUE(std::filesystem::exists(kCorpus + "/REFERENCE.tsv")) << "missing shared corpus at " << kCorpus;
  double secs = 0;
  std::vector<Row> rows = run_corpus(&secs);
  ASSERT_GE(rows.size(), 200u);
  std::ostringstream table;
  table << "object\tsection\tprogram\tverdict\terror_kind\treason\n";
  for (const Row& r : rows)
    table << r.key << "\t" << r.verdict << "\t" << r.kind << "\t" << r.reason << "\n";
  if (std::getenv("BPFVM_UPDATE_VERDICTS")) {
    std::ofstream(kTable) << table.str();
  }
  std::ifstream in(kTable);
  ASSERT_TRUE(in) << "missing " << kTable << " (run with BPFVM_UPDATE_VERDICTS=1)";
  std::stringstream want;
  want << in.rdbuf();
  // Compare line by line for a readable diff.
  std::istringstream a(want.str()), b(table.str());
  std::string la, lb;
  int n = 0, diffs = 0;
  while (true) {
    bool ga = static_cast<bool>(std::getline(a, la)), gb = static_cast<bool>(std::getline(b, lb));
    if (!ga && !gb) break;
    ++n;
    if (la != lb && ++diffs <= 20)
      ADD_FAILURE() << "line " << n << "\n  table: " << la << "\n  now:   " << lb;
    if (!ga) la.clear();
    if (!gb) lb.clear();
  }
  EXPECT_EQ(diffs, 0) << "verdicts changed; rerun with BPFVM_UPDATE_VERDICTS=1 and review the diff";

  // Agreement with the reference verifiers.
  std::map<std::string, std::string> verdict;
  for (const Row& r : rows)
    verdict[r.key] = r.verdict;
  std::ifstream ref(kCorpus + "/REFERENCE.tsv");
  std::string line;
  std::getline(ref, line);
  int prevail_pass = 0, linux_accept = 0, ours_of_prevail = 0, ours_of_linux = 0, we_accept_they_reject = 0;
  while (std::getline(ref, line)) {
    std::istringstream ls(line);
    std::string o, s, p, pv, lx;
    std::getline(ls, o, '\t');
    std::getline(ls, s, '\t');
    std::getline(ls, p, '\t');
    std::getline(ls, pv, '\t');
    std::getline(ls, lx, '\t');
    std::string v = verdict[o + "\t" + s + "\t" + p];
    if (pv == "pass") prevail_pass++, ours_of_prevail += v == "accept";
    if (lx == "accept") linux_accept++, ours_of_linux += v == "accept";
    if (v == "accept" && (pv == "fail" || lx == "reject")) we_accept_they_reject++;
  }
  std::cout << "corpus: " << rows.size() << " programs in " << secs << " s; accepted " << ours_of_prevail
            << "/" << prevail_pass << " of PREVAIL's passes, " << ours_of_linux << "/" << linux_accept
            << " of Linux's accepts; accepted while a reference rejects: " << we_accept_they_reject << "\n";
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(secs, 5.0);
#endif
}

}  // namespace
}  // namespace bpfvm::verifier
