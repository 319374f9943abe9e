// JIT benchmarks: the programs of bench/programs on the JIT with each hardening option, the
// per-run overhead (a no-op program), and compile time. Each run row reports `x_interp`: its time
// divided by the unchecked interpreter's on the same program, measured in the same process.
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/bench_input.h"
#include "helpers/core_helpers.h"
#include "helpers/environment.h"
#include "jit/jit.h"
#include "vm/asm.h"
#include "vm/interp.h"
#include "vm/runtime/input.h"

#ifndef BPFVM_BENCH_PROGRAMS
#error "BPFVM_BENCH_PROGRAMS must name the folder of the benchmark programs"
#endif

namespace bpfvm {
namespace {

struct Case {
  const char* name;
  size_t input_size;
};
// noop: a leaf program (no calls, faults or packet loads), which runs without a run control block;
// noop_call: the same with a helper call it jumps over, the per-run cost of every other program.
const Case kCases[] = {{"noop", 0}, {"noop_call", 0}, {"xorshift", 0}, {"fnv1a", 1500}, {"bubble_sort", 64}};

Result<Program> program_of(const Case& c) {
  const std::string name = c.name;
  if (name == "noop" || name == "noop_call") {
    auto a = assemble(name == "noop" ? "mov %r0, 0\nexit" : "mov %r0, 0\nja +1\ncall 5\nexit");
    if (!a) return a.error();
    return a->program;
  }
  auto in = load_program(std::string(BPFVM_BENCH_PROGRAMS) + "/" + c.name + ".asm");
  if (!in) return in.error();
  return in->program;
}

struct Variant {
  const char* name;
  bool checked, blinding, retpoline, barrier;
};
const Variant kVariants[] = {
    {"jit", false, false, false, false},          {"jit_blinded", false, true, false, false},
    {"jit_retpoline", false, false, true, false}, {"jit_barrier", false, false, false, true},
    {"jit_checked", true, false, false, false},   {"jit_checked_barrier", true, false, false, true},
};

// CPU ns per run of the unchecked interpreter (the in-process baseline).
double interp_ns(const Program& p, const Case& c, Environment& env, const HelperTable& helpers) {
  auto interp = Interpreter::create(p, &helpers);
  std::vector<uint8_t> input = bench_input(c.input_size), mem = input;
  RunOptions ro;
  ro.checked = false;
  const int iters = 2000;
  auto t0 = std::clock();
  for (int i = 0; i < iters; ++i) {
    std::memcpy(mem.data(), input.data(), input.size());
    benchmark::DoNotOptimize((*interp)->run(mem, ro, env));
  }
  return 1e9 * static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC / iters;
}

void BM_Jit(benchmark::State& state, const Case* c, const Variant* v) {
  auto p = program_of(*c);
  if (!p) {
    state.SkipWithError(p.error().to_string().c_str());
    return;
  }
  HelperTable helpers;
  register_core_helpers(helpers);
  EnvironmentOptions eo;
  eo.trace_file = nullptr;
  DefaultEnvironment env(eo);
  jit::JitOptions o;
  o.checked = v->checked;
  o.verified = true;  // the benchmark programs are well-behaved (the interpreter runs them unchecked)
  o.blinding = v->blinding;
  o.retpoline = v->retpoline;
  o.spec_barrier = v->barrier;
  auto j = jit::JitProgram::compile(*p, &helpers, o);
  if (!j) {
    state.SkipWithError(j.error().to_string().c_str());
    return;
  }
  std::vector<uint8_t> input = bench_input(c->input_size), mem = input;
  auto interp = Interpreter::create(*p, &helpers);
  std::vector<uint8_t> check = input;
  uint64_t expect = *(*interp)->run(check, RunOptions{}, env);
  uint64_t r = 0;
  for (auto _ : state) {
    std::memcpy(mem.data(), input.data(), input.size());
    auto res = (*j)->run(mem, env);
    if (!res) {
      state.SkipWithError(res.error().to_string().c_str());
      return;
    }
    r = *res;
  }
  if (r != expect) state.SkipWithError("JIT result differs from the interpreter's");
  state.counters["interp_ns"] = interp_ns(*p, *c, env, helpers);
  state.counters["code_bytes"] = static_cast<double>((*j)->code().size());
}

void BM_Compile(benchmark::State& state, const Case* c) {
  auto p = program_of(*c);
  if (!p) {
    state.SkipWithError(p.error().to_string().c_str());
    return;
  }
  jit::JitOptions o;
  o.verified = true;
  for (auto _ : state)
    benchmark::DoNotOptimize(jit::JitProgram::compile(*p, nullptr, o));
  state.counters["insns"] = static_cast<double>(p->insns.size());
}

void register_all() {
  for (const Case& c : kCases) {
    for (const Variant& v : kVariants)
      benchmark::RegisterBenchmark((std::string(v.name) + "/" + c.name).c_str(), BM_Jit, &c, &v);
    benchmark::RegisterBenchmark((std::string("jit_compile_and_release/") + c.name).c_str(), BM_Compile, &c);
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
