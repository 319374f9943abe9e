// Verifier speed on the shared corpus (issue #4 item 7): instructions analysed per second, time and
// peak memory of the analysis per program, and the whole corpus on one core, against the targets
// (whole corpus < 5 s, no program over 1 s or 100 MB).
//
//   bpfvm_verifier_bench [CORPUS_DIR] [--reps N] [--all]
//
// Every object is loaded once (not timed); each program is then verified --reps times (default 5)
// and its fastest run is kept (the machine is shared: the minimum is the least disturbed). The
// in-process baseline is the time the ELF loader takes on the same objects, printed as a ratio.
// Memory is the peak bytes of abstract state the verifier held (VerifyStats::peak_state_bytes,
// counted by an allocator on every state; verifier/state.h), and the process' peak RSS.
// Prints the slowest programs (all with --all), a summary, and the targets met; exits 1 when a
// target is missed.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "verifier/verifier.h"
#include "vm/elf/elf_loader.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Row {
  std::string name;
  size_t insns = 0;
  uint64_t steps = 0;
  double seconds = 0;
  size_t bytes = 0;
  bool accepted = false;
};

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = BPFVM_SHARED_DIR "/ebpf-samples";
  int reps = 5;
  bool all = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--all"))
      all = true;
    else if (argv[i][0] == '-') {
      fmt::print(stderr, "usage: {} [CORPUS_DIR] [--reps N] [--all]\n", argv[0]);
      return 2;
    } else
      dir = argv[i];
  }
  std::vector<std::string> paths;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec))
    if (e.path().extension() == ".o") paths.push_back(e.path().string());
  if (ec || paths.empty()) {
    fmt::print(stderr, "no .o files under {}\n", dir);
    return 2;
  }
  std::sort(paths.begin(), paths.end());

  bpfvm::LoadOptions lo;
  lo.system_btf = false;
  std::vector<bpfvm::ObjectFile> objs;
  std::vector<std::string> names;
  double load_seconds = 1e30;
  for (int r = 0; r < reps; ++r) {
    objs.clear();
    names.clear();
    auto t0 = Clock::now();
    for (const std::string& p : paths) {
      auto o = bpfvm::load_object_file(p, lo);
      if (!o) continue;
      objs.push_back(std::move(*o));
      names.push_back(std::filesystem::relative(p, dir).string());
    }
    load_seconds = std::min(load_seconds, since(t0));
  }

  std::vector<Row> rows;
  for (size_t k = 0; k < objs.size(); ++k) {
    for (const bpfvm::ElfProgram& p : objs[k].programs) {
      if (!p.status.ok() || p.code.insns.empty()) continue;
      bpfvm::verifier::VerifyOptions vo;
      vo.type = p.type;
      vo.maps = objs[k].maps;
      Row row;
      row.name = fmt::format("{} {}/{}", names[k], p.section, p.name);
      row.insns = p.code.insns.size();
      row.seconds = 1e30;
      for (int r = 0; r < reps; ++r) {
        auto t0 = Clock::now();
        auto v = bpfvm::verifier::verify(p.code, vo);
        double s = since(t0);
        if (!v) break;
        row.seconds = std::min(row.seconds, s);
        row.steps = v->stats.insns_analysed;
        row.bytes = v->stats.peak_state_bytes;
        row.accepted = v->accepted;
      }
      rows.push_back(row);
    }
  }
  double total = 0;
  uint64_t steps = 0, insns = 0;
  size_t accepted = 0;
  for (const Row& r : rows)
    total += r.seconds, steps += r.steps, insns += r.insns, accepted += r.accepted;
  std::vector<Row> by_time = rows;
  std::sort(by_time.begin(), by_time.end(), [](const Row& a, const Row& b) { return a.seconds > b.seconds; });
  const Row& slowest = by_time.front();
  const Row& largest =
      *std::max_element(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.bytes < b.bytes; });

  size_t shown = all ? by_time.size() : std::min<size_t>(10, by_time.size());
  fmt::print("{:<70} {:>6} {:>9} {:>10} {:>12} {:>11}  {}\n", all ? "program" : "slowest programs", "insns",
             "steps", "time ms", "steps/s", "state KiB", "verdict");
  for (size_t i = 0; i < shown; ++i) {
    const Row& r = by_time[i];
    fmt::print("{:<70} {:>6} {:>9} {:>10.3f} {:>12.0f} {:>11.1f}  {}\n", r.name.substr(0, 70), r.insns, r.steps,
               r.seconds * 1e3, r.seconds > 0 ? r.steps / r.seconds : 0.0, r.bytes / 1024.0,
               r.accepted ? "accept" : "reject");
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  fmt::print("\n{} objects, {} programs ({} accepted), {} instructions, {} abstract steps\n", objs.size(),
             rows.size(), accepted, insns, steps);
  fmt::print("whole corpus verified in {:.3f} s on one core ({:.0f} insns/s, {:.0f} steps/s); ELF loading "
             "of the same objects: {:.3f} s (verify/load = {:.2f}x)\n",
             total, total > 0 ? insns / total : 0.0, total > 0 ? steps / total : 0.0, load_seconds,
             load_seconds > 0 ? total / load_seconds : 0.0);
  fmt::print("slowest program: {:.3f} ms ({}); most abstract state: {:.1f} KiB ({}); process peak RSS {:.1f} MiB\n",
             slowest.seconds * 1e3, slowest.name, largest.bytes / 1024.0, largest.name, ru.ru_maxrss / 1024.0);
  bool ok_total = total < 5.0, ok_max = slowest.seconds < 1.0, ok_mem = largest.bytes < 100u << 20;
  fmt::print("targets: corpus < 5 s {}, every program < 1 s {}, every program < 100 MB {}\n",
             ok_total ? "met" : "MISSED", ok_max ? "met" : "MISSED", ok_mem ? "met" : "MISSED");
  return ok_total && ok_max && ok_mem ? 0 : 1;
}
