// Verifies every program of the shared ebpf-samples corpus with its section's program type and its
// object's maps, and compares the verdicts with tests/verifier/corpus_verdicts.tsv so that every
// change of a verdict is visible in review. Regenerate the table with BPFVM_UPDATE_VERDICTS=1.
//
// Every verdict has a reason (the table's last column), "<category>: <detail>":
//   proven safe                      accepted
//   not linked: ...                  the ELF loader could not link the program
//   missing helper prototype: ...    a helper bpfvm does not implement (helpers/proto.cpp)
//   <reviewed reason> (pc N: ...)    a rejection of a program PREVAIL or Linux accepts: the reason a
//                                    person gave in tests/verifier/corpus_reasons.tsv ("bpfvm
//                                    imprecise: <kind>", "stricter policy ...", "unsafe ...") for
//                                    this program and error kind; the test fails without one
//   rejected by the references too: pc N: ...   PREVAIL and Linux reject it as well
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
const std::string kReasons = BPFVM_SOURCE_DIR "/tests/verifier/corpus_reasons.tsv";

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> f;
  std::istringstream ls(line);
  std::string x;
  while (std::getline(ls, x, '\t'))
    f.push_back(x);
  return f;
}

// object \t section \t program -> the references' verdicts (PREVAIL, Linux).
std::map<std::string, std::pair<std::string, std::string>> read_reference() {
  std::map<std::string, std::pair<std::string, std::string>> out;
  std::ifstream in(kCorpus + "/REFERENCE.tsv");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    auto f = split_tabs(line);
    if (f.size() >= 5) out[f[0] + "\t" + f[1] + "\t" + f[2]] = {f[3], f[4]};
  }
  return out;
}

// object \t section \t program \t error kind -> the reviewed reason.
std::map<std::string, std::string> read_reviewed_reasons() {
  std::map<std::string, std::string> out;
  std::ifstream in(kReasons);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    auto f = split_tabs(line);
    if (f.size() >= 5) out[f[0] + "\t" + f[1] + "\t" + f[2] + "\t" + f[3]] = f[4];
  }
  return out;
}

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
  const auto reference = read_reference();
  const auto reviewed_reasons = read_reviewed_reasons();
  std::vector<Row> rows;
  auto t0 = std::chrono::steady_clock::now();
  LoadOptions lo;
  lo.system_btf = false;
  for (const std::string& o : objs) {
    auto obj = load_object_file(kCorpus + "/" + o, lo);
    if (!obj) {
      rows.push_back({o + "\t-\t-", "load-error", "-", "not loadable: " + clean(obj.error().to_string())});
      continue;
    }
    for (const ElfProgram& p : obj->programs) {
      Row r;
      r.key = o + "\t" + p.section + "\t" + p.name;
      if (!p.status.ok()) {
        r.verdict = "not-linked";
        r.kind = "-";
        r.reason = "not linked: " + clean(p.status.error().to_string());
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
          r.reason = "proven safe";
        } else {
          r.verdict = "reject";
          const Diagnostic& d = v->errors.front();
          r.kind = error_kind_name(d.kind);
          const std::string where = clean(fmt::format("pc {}: {}", d.pc, d.message));
          auto ref = reference.find(r.key);
          const bool ref_accepts =
              ref != reference.end() && (ref->second.first == "pass" || ref->second.second == "accept");
          auto reviewed = reviewed_reasons.find(r.key + "\t" + r.kind);
          if (d.kind == ErrorKind::UnknownHelper)
            r.reason = "missing helper prototype: " + where;
          else if (reviewed != reviewed_reasons.end())
            r.reason = reviewed->second + " (" + where + ")";
          else if (ref_accepts)
            r.reason = "UNREVIEWED (a reference accepts; give the reason in corpus_reasons.tsv): " + where;
          else
            r.reason = "rejected by the references too: " + where;
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
  // Every rejection of a program a reference accepts has a reviewed reason.
  for (const Row& r : rows)
    if (r.reason.rfind("UNREVIEWED", 0) == 0)
      ADD_FAILURE() << r.key << ": rejected (" << r.kind
                    << ") while PREVAIL or Linux accepts it: read the program and"
                    << " give the reason (bpfvm imprecise: <kind> / stricter policy / unsafe: <why>) in "
                    << kReasons;

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
