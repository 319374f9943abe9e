// The performance corpus (bench/corpus.h) on every backend: bpfvm's engines, the Linux kernel's JIT
// (BPF_PROG_TEST_RUN, through libbpf) and the same C compiled natively, all in this process and on
// the same packet and map contents. Times are this thread's CPU time around a batch of runs (the
// kernel: its own clock around the batch, paused when it reschedules), so that a loaded machine
// inflates them less than wall-clock time would. Each benchmark `<backend>/<program>` runs a fixed
// number of batches; its Time column is the mean ns per program run (manual time), and its
// counters are:
//   ns_run    the fastest batch's ns per run (see Measured)
//   x_native  ns_run / the native ns_run of the same program (measured once, in this process)
//   x_kernel  ns_run / the kernel's ns_run (when bpf(2) works)
// Every run's r0 must equal native's, or the benchmark fails. `--table` prints, after the
// benchmarks, the markdown table of scripts/bench.sh: ns per run per backend, the ratios, their
// geometric mean over the compute programs, and the no-op (per-run overhead) apart.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "bench/corpus.h"
#include "bench/kernel_runner.h"
#include "helpers/kernel_helpers.h"
#include "jit/jit.h"
#include "vm/elf/elf_loader.h"

namespace bpfvm::bench {
namespace {

enum class Kind { Native, Vm, Kernel };

struct Backend {
  const char* name;
  Kind kind;
  ObjectOptions opts;  // Kind::Vm
};

std::vector<Backend> backends() {
  std::vector<Backend> b;
  b.push_back({"interp", Kind::Vm, {}});
  ObjectOptions jit;
  jit.engine = Engine::Jit;  // constant blinding on: the default
  b.push_back({"jit", Kind::Vm, jit});
  jit.jit.blinding = false;
  b.push_back({"jit_noblind", Kind::Vm, jit});
  b.push_back({"kernel", Kind::Kernel, {}});
  b.push_back({"native", Kind::Native, {}});
  return b;
}

constexpr int kBatches = 15;
constexpr double kBatchNs = 2e6;  // aim: 2 ms per batch

// A backend ready to run one program: batches of `repeat` runs.
struct Runner {
  std::unique_ptr<VmRunner> vm;
  std::unique_ptr<KernelRunner> kernel;
  std::unique_ptr<NativeRunner> native;
  std::vector<uint8_t> packet;
  size_t insns = 0;

  Result<Timing> run(uint32_t repeat) {
    if (vm) return vm->run(repeat);
    if (kernel) return kernel->run(packet, repeat);
    return native->run(repeat);
  }
};

Result<Runner> open_runner(const Backend& b, const CorpusProgram& p) {
  Runner r;
  switch (b.kind) {
    case Kind::Vm: {
      auto v = VmRunner::open(p, b.opts);
      if (!v) return v.error();
      r.insns = (*v)->insns();
      r.vm = std::move(*v);
      break;
    }
    case Kind::Kernel: {
      if (auto st = kernel_available(); !st) return st.error();
      auto k = KernelRunner::open(object_path(p), p.function, map_fills(p));
      if (!k) return k.error();
      r.insns = (*k)->xlated_insns();
      r.kernel = std::move(*k);
      r.packet = bench_packet();
      break;
    }
    case Kind::Native: {
      auto n = NativeRunner::open(p);
      if (!n) return n.error();
      r.native = std::move(*n);
      break;
    }
  }
  return r;
}

// The per-run ns of every batch. The figure kept is the fastest batch: on a shared machine other
// processes only ever add time (cache and core contention), so the minimum is the most
// reproducible estimate, and it is taken the same way on every backend.
struct Measured {
  std::vector<double> ns;
  double best() const { return ns.empty() ? 0 : *std::min_element(ns.begin(), ns.end()); }
};

Result<uint32_t> calibrate(Runner& r) {
  // A warm-up run (first-touch of code and data), then grow the batch until it takes a tenth of
  // the target.
  if (auto t = r.run(1); !t) return t.error();
  uint32_t repeat = 1;
  for (;;) {
    auto t = r.run(repeat);
    if (!t) return t.error();
    double total = t->ns_per_run * repeat;
    if (total > kBatchNs / 10 || repeat >= (1u << 24)) {
      double per = std::max(t->ns_per_run, 0.1);
      return static_cast<uint32_t>(std::clamp(kBatchNs / per, 1.0, 1e8));
    }
    repeat *= 8;
  }
}

// Results of this process, for the baselines and --table.
struct Results {
  std::map<std::string, std::map<std::string, double>> ns;          // program -> backend -> ns_run
  std::map<std::string, std::map<std::string, double>> compile_us;  // program -> "blinding"/"no blinding"
  std::map<std::string, size_t> insns;                              // program -> bpfvm's instruction count
  std::map<std::string, std::string> skipped;                       // backend -> why
};
Results& results() {
  static Results r;
  return r;
}

// The native or kernel ns_run of `p`, measured on first use (also by the baseline's own benchmark).
std::optional<double> baseline(Kind kind, const CorpusProgram& p) {
  const char* name = kind == Kind::Native ? "native" : "kernel";
  auto& row = results().ns[p.name];
  if (auto it = row.find(name); it != row.end()) return it->second;
  Backend b{name, kind, {}};
  auto r = open_runner(b, p);
  if (!r) return std::nullopt;
  auto repeat = calibrate(*r);
  if (!repeat) return std::nullopt;
  Measured m;
  for (int i = 0; i < 5; i++) {
    auto t = r->run(*repeat);
    if (!t) return std::nullopt;
    m.ns.push_back(t->ns_per_run);
  }
  row[name] = m.best();
  return m.best();
}

void BM_Program(benchmark::State& state, Backend b, const CorpusProgram* p) {
  auto r = open_runner(b, *p);
  if (!r) {
    results().skipped[b.name] = r.error().to_string();
    state.SkipWithError(r.error().to_string().c_str());
    return;
  }
  auto native = NativeRunner::open(*p);
  if (!native) {
    state.SkipWithError(native.error().to_string().c_str());
    return;
  }
  const uint32_t expect = (*native)->run(1).r0;
  auto repeat = calibrate(*r);
  if (!repeat) {
    state.SkipWithError(repeat.error().to_string().c_str());
    return;
  }
  Measured m;
  for (auto _ : state) {
    auto t = r->run(*repeat);
    if (!t) {
      state.SkipWithError(t.error().to_string().c_str());
      return;
    }
    if (t->r0 != expect) {
      state.SkipWithError(fmt::format("r0 {:#x} differs from native's {:#x}", t->r0, expect).c_str());
      return;
    }
    m.ns.push_back(t->ns_per_run);
    state.SetIterationTime(t->ns_per_run * 1e-9);
  }
  const double ns = m.best();
  // With --benchmark_repetitions, the table keeps the fastest repetition (see Measured).
  auto& cell = results().ns[p->name];
  if (auto it = cell.find(b.name); it == cell.end() || ns < it->second) cell[b.name] = ns;
  if (r->insns && b.kind == Kind::Vm) results().insns[p->name] = r->insns;
  state.counters["ns_run"] = ns;
  state.counters["insns"] = static_cast<double>(r->insns);
  state.counters["batch"] = *repeat;
  if (b.kind != Kind::Native)
    if (auto n = baseline(Kind::Native, *p)) state.counters["x_native"] = ns / *n;
  if (b.kind == Kind::Vm)
    if (auto k = baseline(Kind::Kernel, *p)) state.counters["x_kernel"] = ns / *k;
}

// The program as the runtime links it, with placeholder addresses for its map references: what the
// JIT compiles (the addresses do not change the work; the code is never run).
Result<Program> placeholder_linked(const CorpusProgram& p) {
  auto f = load_object_file(object_path(p));
  if (!f) return f.error();
  int idx = f->find_program(p.function);
  if (idx < 0) return Error{ErrorCode::kBadInput, kNoPc, fmt::format("no program {}", p.function)};
  Program code = f->programs[static_cast<size_t>(idx)].code;
  for (Insn& in : code.insns) {
    if (in.op != Op::LddwMapFd && in.op != Op::LddwMapIdx && in.op != Op::LddwMapValue &&
        in.op != Op::LddwMapIdxValue)
      continue;
    in.op = Op::Lddw;
    in.src = 0;
    in.imm64 = 0x7f0000001000ull + static_cast<uint64_t>(static_cast<uint32_t>(in.imm)) * 0x1000;
    in.imm = static_cast<int32_t>(static_cast<uint32_t>(in.imm64));
  }
  return code;
}

// JIT compile time of one program: counters compile_us and ns_insn (per BPF instruction).
void BM_JitCompile(benchmark::State& state, const CorpusProgram* p, bool blinding) {
  auto code = placeholder_linked(*p);
  if (!code) {
    state.SkipWithError(code.error().to_string().c_str());
    return;
  }
  HelperTable helpers;
  register_kernel_helpers(helpers);
  jit::JitOptions jo;
  jo.verified = true;  // the corpus verifies (tests/bench)
  jo.blinding = blinding;
  double total_ns = 0;
  for (auto _ : state) {
    const double t0 = thread_cpu_ns();
    auto j = jit::JitProgram::compile(*code, &helpers, jo);
    const double t = thread_cpu_ns() - t0;
    if (!j) {
      state.SkipWithError(j.error().to_string().c_str());
      return;
    }
    total_ns += t;
    state.SetIterationTime(t * 1e-9);
  }
  const double us = total_ns / 1e3 / static_cast<double>(state.iterations());
  const size_t n = code->insns.size();
  auto& c = results().compile_us[p->name];
  const char* key = blinding ? "blinding" : "no blinding";
  if (auto it = c.find(key); it == c.end() || us < it->second) c[key] = us;
  results().insns[p->name] = n;
  state.counters["insns"] = static_cast<double>(n);
  state.counters["compile_us"] = us;
  state.counters["ns_insn"] = us * 1e3 / static_cast<double>(n);
}

std::string cell(double ns) {
  if (ns >= 100) return fmt::format("{:.0f}", ns);
  if (ns >= 10) return fmt::format("{:.1f}", ns);
  return fmt::format("{:.2f}", ns);
}

// The JIT compile-time table (--table), when the jit_compile benchmarks ran.
void print_compile_table() {
  const Results& res = results();
  if (!res.compile_us.empty()) {
    fmt::print(
        "\nJIT compile time (target: 50 us + 10 ns per instruction):\n\n"
        "| program | insns | blinding us | ns/insn | no blinding us | ns/insn | target us |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n");
    for (const CorpusProgram& p : corpus()) {
      auto it = res.compile_us.find(p.name);
      auto in = res.insns.find(p.name);
      if (it == res.compile_us.end() || in == res.insns.end()) continue;
      const double n = static_cast<double>(in->second);
      std::string line = fmt::format("| {} | {} |", p.name, in->second);
      for (const char* k : {"blinding", "no blinding"}) {
        auto c = it->second.find(k);
        line += c == it->second.end() ? " — | — |"
                                      : fmt::format(" {:.1f} | {:.0f} |", c->second, c->second * 1e3 / n);
      }
      line += fmt::format(" {:.1f} |", 50 + n * 0.01);
      fmt::print("{}\n", line);
    }
  }
}

// The markdown table of scripts/bench.sh (README, Benchmarks).
void print_table() {
  const Results& res = results();
  std::vector<std::string> cols;
  for (const Backend& b : backends())
    cols.push_back(b.name);
  std::vector<std::string> engines;  // bpfvm's engines: ratio columns
  for (const Backend& b : backends())
    if (b.kind == Kind::Vm) engines.push_back(b.name);

  auto get = [&](const std::string& prog, const std::string& col) -> std::optional<double> {
    auto it = res.ns.find(prog);
    if (it == res.ns.end()) return std::nullopt;
    auto c = it->second.find(col);
    if (c == it->second.end()) return std::nullopt;
    return c->second;
  };
  if (res.ns.empty()) {
    print_compile_table();
    return;
  }
  std::string head = "| program | insns |", rule = "|---|---:|";
  for (const auto& c : cols) {
    head += fmt::format(" {} ns |", c);
    rule += "---:|";
  }
  for (const auto& e : engines) {
    head += fmt::format(" {} x_native |", e);
    rule += "---:|";
    head += fmt::format(" {} x_kernel |", e);
    rule += "---:|";
  }
  head += " kernel x_native |";
  rule += "---:|";
  fmt::print("\n{}\n{}\n", head, rule);
  std::map<std::string, std::vector<double>> logs;  // ratio column -> logs over compute programs
  auto ratio = [&](const CorpusProgram& p, const std::string& a, const std::string& b,
                   const std::string& key) {
    auto x = get(p.name, a), y = get(p.name, b);
    if (!x || !y || *y <= 0) return std::string("—");
    if (p.compute) logs[key].push_back(std::log(*x / *y));
    return fmt::format("{:.2f}", *x / *y);
  };
  for (const CorpusProgram& p : corpus()) {
    auto in = res.insns.find(p.name);
    std::string line = fmt::format("| {}{} | {} |", p.name, p.compute ? "" : " †",
                                   in == res.insns.end() ? std::string("—") : std::to_string(in->second));
    for (const auto& c : cols) {
      auto v = get(p.name, c);
      line += fmt::format(" {} |", v ? cell(*v) : "—");
    }
    for (const auto& e : engines) {
      line += fmt::format(" {} |", ratio(p, e, "native", e + "/native"));
      line += fmt::format(" {} |", ratio(p, e, "kernel", e + "/kernel"));
    }
    line += fmt::format(" {} |", ratio(p, "kernel", "native", "kernel/native"));
    fmt::print("{}\n", line);
  }
  std::string geo = "| **geomean (compute)** | |";
  for (size_t i = 0; i < cols.size(); i++)
    geo += " |";
  auto g = [&](const std::string& key) {
    auto it = logs.find(key);
    if (it == logs.end() || it->second.empty()) return std::string("—");
    double s = 0;
    for (double l : it->second)
      s += l;
    return fmt::format("**{:.2f}**", std::exp(s / static_cast<double>(it->second.size())));
  };
  for (const auto& e : engines)
    geo += fmt::format(" {} | {} |", g(e + "/native"), g(e + "/kernel"));
  geo += fmt::format(" {} |", g("kernel/native"));
  fmt::print("{}\n", geo);
  fmt::print(
      "\n† not in the geomean: `nop` is the per-run overhead (reported apart below); the map programs "
      "measure the map implementations more than code generation.\n");
  if (auto nop = res.ns.find("nop"); nop != res.ns.end()) {
    fmt::print("\nPer-run overhead (the no-op program, ns/run):");
    for (const auto& c : cols)
      if (auto v = get("nop", c)) fmt::print(" {} {};", c, cell(*v));
    fmt::print("\n");
  }
  print_compile_table();
  for (const auto& [backend, why] : res.skipped)
    fmt::print("\n{} skipped: {}\n", backend, why);
}

void register_all() {
  for (const Backend& b : backends())
    for (const CorpusProgram& p : corpus())
      benchmark::RegisterBenchmark(fmt::format("{}/{}", b.name, p.name).c_str(), BM_Program, b, &p)
          ->UseManualTime()
          ->Iterations(kBatches)
          ->Unit(benchmark::kNanosecond);
  for (bool blinding : {true, false})
    for (const CorpusProgram& p : corpus())
      benchmark::RegisterBenchmark(
          fmt::format("jit_compile{}/{}", blinding ? "" : "_noblind", p.name).c_str(), BM_JitCompile, &p,
          blinding)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond)
          ->MinTime(0.05);
}

}  // namespace
}  // namespace bpfvm::bench

int main(int argc, char** argv) {
  bpfvm::bench::register_all();
  benchmark::Initialize(&argc, argv);
  bool table = false;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--table") == 0) {
      table = true;
    } else {
      fmt::print(stderr, "bpfvm_perf_bench: unknown option {} (Google Benchmark's options, and --table)\n",
                 argv[i]);
      return 2;
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (table) bpfvm::bench::print_table();
  return 0;
}
