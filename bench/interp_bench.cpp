// Interpreter benchmarks on compute loops, each next to the same loop compiled natively (the
// baseline, run in the same process). Every interpreter benchmark reports `x_native`: its time
// divided by the native time.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/bench_input.h"
#include "helpers/core_helpers.h"
#include "helpers/environment.h"
#include "vm/asm.h"
#include "vm/interp.h"
#include "vm/runtime/input.h"

#ifndef BPFVM_BENCH_PROGRAMS
#error "BPFVM_BENCH_PROGRAMS must name the folder of the benchmark programs"
#endif

namespace bpfvm {
namespace {

// Native baselines.
uint64_t native_xorshift(const uint8_t*, size_t) {
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 1000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}
uint64_t native_fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}
uint64_t native_bubble_sort(const uint8_t* cp, size_t n) {
  uint8_t* p = const_cast<uint8_t*>(cp);
  for (size_t m = n; m > 1; --m)
    for (size_t i = 0; i + 1 < m; ++i)
      if (p[i] > p[i + 1]) std::swap(p[i], p[i + 1]);
  return p[0];
}

struct Case {
  const char* name;
  size_t input_size;
  uint64_t (*native)(const uint8_t*, size_t);
};
const Case kCases[] = {
    {"xorshift", 0, native_xorshift},
    {"fnv1a", 1500, native_fnv1a},
    {"bubble_sort", 64, native_bubble_sort},
};

void BM_Native(benchmark::State& state, const Case* c) {
  std::vector<uint8_t> input = bench_input(c->input_size), mem = input;
  uint64_t r = 0;
  for (auto _ : state) {
    std::memcpy(mem.data(), input.data(), input.size());
    benchmark::DoNotOptimize(mem.data());
    r = c->native(mem.data(), mem.size());
    benchmark::DoNotOptimize(r);
  }
  state.counters["r0"] = static_cast<double>(r & 0xffff);
}

// Times the native loop for `iters` runs; ns per run.
double time_native(const Case* c, int iters) {
  std::vector<uint8_t> input = bench_input(c->input_size), mem = input;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) {
    std::memcpy(mem.data(), input.data(), input.size());
    benchmark::DoNotOptimize(mem.data());
    uint64_t r = c->native(mem.data(), mem.size());
    benchmark::DoNotOptimize(r);
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / iters;
}

// The interpreter on one case; reports `x_native`, its ns/run divided by the native loop's ns/run
// measured in the same process right after.
void BM_Interp(benchmark::State& state, const Case* c, bool checked) {
  auto in = load_program(std::string(BPFVM_BENCH_PROGRAMS) + "/" + c->name + ".asm");
  if (!in) {
    state.SkipWithError(in.error().to_string().c_str());
    return;
  }
  HelperTable helpers;
  register_core_helpers(helpers);
  EnvironmentOptions eo;
  eo.trace_file = nullptr;
  DefaultEnvironment env(eo);
  auto interp = Interpreter::create(in->program, &helpers);
  if (!interp) {
    state.SkipWithError(interp.error().to_string().c_str());
    return;
  }
  RunOptions ro;
  ro.checked = checked;
  std::vector<uint8_t> input = bench_input(c->input_size), mem = input;
  // Same result as native, or the benchmark is meaningless.
  std::vector<uint8_t> native_mem = input;
  uint64_t expect = c->native(native_mem.data(), native_mem.size());
  uint64_t r = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    std::memcpy(mem.data(), input.data(), input.size());
    auto res = (*interp)->run(mem, ro, env);
    if (!res) {
      state.SkipWithError(res.error().to_string().c_str());
      return;
    }
    r = *res;
  }
  double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
              static_cast<double>(state.iterations());
  if (r != expect) {
    state.SkipWithError("interpreter result differs from native");
    return;
  }
  double native = time_native(c, 2000);
  state.counters["native_ns"] = native;
  state.counters["x_native"] = ns / native;
}

void register_all() {
  for (const Case& c : kCases) {
    benchmark::RegisterBenchmark((std::string("native/") + c.name).c_str(), BM_Native, &c);
    benchmark::RegisterBenchmark((std::string("interp/") + c.name).c_str(), BM_Interp, &c, false);
    benchmark::RegisterBenchmark((std::string("interp_checked/") + c.name).c_str(), BM_Interp, &c, true);
  }
}

}  // namespace
}  // namespace bpfvm

int main(int argc, char** argv) {
  bpfvm::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
