// Differential fuzzing of the engines in CI: generated valid programs (tests/fuzz/diff_gen.h) run
// on the checked interpreter and on every engine under test (tests/fuzz/diff_oracle.h), which must
// agree on r0, the input memory, the stack frames and the faults. Also replays every reproducer
// of tests/fuzz/jit_repro/.
//
// Program count: 100,000 in regular builds (each on the reference and one of the engines under
// test, in turn), the first 20,000 of the same seeds under AddressSanitizer (as
// tests/fuzz/soundness_test.cpp).
#include <gtest/gtest.h>
#include <malloc.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "jit/jit.h"
#include "jit/jit_internal.h"
#include "tests/fuzz/diff_gen.h"
#include "tests/fuzz/diff_oracle.h"
#include "tests/fuzz/gen_util.h"
#include "vm/asm.h"
#include "vm/data_file.h"
#include "vm/disasm.h"
#include "vm/isa.h"

namespace bpfvm::fuzz {
namespace {

constexpr uint64_t kPrograms = kFuzzTestPrograms;
constexpr uint64_t kBudget = DiffOptions{}.budget;

TEST(JitDiff, GeneratorIsReproducible) {
  for (uint64_t seed : {0ull, 1ull, 777ull, 0xfeedfaceull}) {
    DiffProgram a = generate_diff_program(seed), b = generate_diff_program(seed);
    EXPECT_EQ(a.asm_text, b.asm_text);
    EXPECT_EQ(a.mem, b.mem);
    EXPECT_EQ(a.data_size, b.data_size);
  }
  EXPECT_NE(generate_diff_program(1).asm_text, generate_diff_program(2).asm_text);
}

// Every instruction the engines run shows up in the generated programs, except the legacy packet
// loads (they need a packet), kfunc calls, lddw map pseudo loads (they need maps) and the
// instructions bpfvm does not run.
TEST(JitDiff, GeneratedProgramsUseEveryInstruction) {
  std::set<Op> seen;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    auto a = assemble(generate_diff_program(seed).asm_text);
    ASSERT_TRUE(a.ok()) << "seed " << seed << ": " << a.error().to_string();
    for (const Insn& in : a->program.insns)
      seen.insert(in.op);
  }
  for (const OpInfo& info : all_ops()) {
    const Form f = info.form;
    if (f == Form::LdAbs || f == Form::LdInd || f == Form::CallKfunc || f == Form::MayGoto ||
        f == Form::AddrSpaceCast)
      continue;
    if (f == Form::Lddw && info.op != Op::Lddw && info.op != Op::LddwFunc) continue;
    EXPECT_TRUE(seen.count(info.op)) << "no generated program uses " << info.mnemonic << " (opcode "
                                     << static_cast<int>(info.opcode) << ")";
  }
}

// The shapes the JIT's liveness-based fusions look for (jit/x86/fuse.cpp) are among the generated
// programs, so that the comparisons below run them: each fusion applies in many programs.
TEST(JitDiff, GeneratedProgramsExerciseTheFusions) {
  if (!jit::jit_supported()) GTEST_SKIP() << "no JIT on this host";
  jit::JitOptions o;
  o.verified = true;
  o.blinding = false;
  jit::JitProgram::Impl::Fusions sum;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    auto a = assemble(generate_diff_program(seed).asm_text);
    ASSERT_TRUE(a.ok()) << "seed " << seed;
    auto j = jit::JitProgram::compile(a->program, nullptr, o);
    ASSERT_TRUE(j.ok()) << "seed " << seed << ": " << j.error().to_string();
    const auto& f = (*j)->impl().fusions;
    sum.indexed_loads += f.indexed_loads;
    sum.commuted += f.commuted;
    sum.sunk += f.sunk;
    sum.dropped += f.dropped;
    sum.masks += f.masks;
    sum.shifts += f.shifts;
    sum.byte_pairs += f.byte_pairs;
  }
  std::printf(
      "2000 programs: %u indexed loads, %u commuted, %u sunk, %u dropped, %u masks, %u shifts, %u byte "
      "pairs\n",
      sum.indexed_loads, sum.commuted, sum.sunk, sum.dropped, sum.masks, sum.shifts, sum.byte_pairs);
  EXPECT_GE(sum.indexed_loads, 500u);
  EXPECT_GE(sum.commuted, 200u);
  EXPECT_GE(sum.sunk, 200u);
  EXPECT_GE(sum.dropped, 200u);
  EXPECT_GE(sum.masks, 50u);
  EXPECT_GE(sum.shifts, 50u);
  EXPECT_GE(sum.byte_pairs, 50u);
}

// Each program runs on the reference and on one engine under test, in turn (scripts/jit_fuzz.sh
// runs every program on every engine): a JIT compilation costs more than the run itself.
// In kChunks tests of consecutive seeds, which CTest and the sanitizer shards run in parallel.
constexpr uint64_t kChunks = 4;
class JitDiffChunk : public ::testing::TestWithParam<uint64_t> {};

TEST_P(JitDiffChunk, EnginesAgreeWithTheCheckedInterpreter) {
  const uint64_t first = GetParam() * (kPrograms / kChunks), count = kPrograms / kChunks;
  // Keep freed heap memory instead of trimming it at every compilation (a TLB flush each).
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  DiffOracle oracle(engines_under_test(kBudget));
  const std::vector<Engine>& engines = oracle.engines();
  ASSERT_FALSE(engines.empty());
  uint64_t faulting = 0, runs = 0, mismatched = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    const DiffProgram p = generate_diff_program(seed);
    const DiffOutcome o = oracle.check_engine(p, engines[seed % engines.size()].name);
    ASSERT_TRUE(o.assembled) << "seed " << seed << ": " << o.assemble_error << "\n" << p.asm_text;
    // The generator's programs are valid: only the deliberately faulting ones fault.
    if (!p.may_fault) {
      ASSERT_FALSE(o.ref_fault) << "seed " << seed << ": " << o.ref_fault->to_string() << "\n" << p.asm_text;
    }
    faulting += o.ref_fault.has_value();
    runs += o.engine_runs;
    if (!o.mismatches.empty()) {
      ADD_FAILURE() << "engines disagree, seed " << seed << ":\n" << diff_reproducer_text(p, o);
      if (++mismatched >= 5) break;
    }
  }
  EXPECT_EQ(mismatched, 0u);
  // Faults are compared too (fault_permille of the programs), and every engine ran.
  EXPECT_GE(faulting, count / 200);
  EXPECT_GE(runs, count * 9 / 10);
  std::printf("seeds %llu..%llu: %llu programs, %llu faulting, %llu engine runs, %zu engines in turn\n",
              static_cast<unsigned long long>(first), static_cast<unsigned long long>(first + count - 1),
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(faulting),
              static_cast<unsigned long long>(runs), oracle.engines().size());
}
INSTANTIATE_TEST_SUITE_P(Seeds, JitDiffChunk, ::testing::Range<uint64_t>(0, kChunks));

// Unverified programs on the checked engines: generated programs with a few fields changed (a
// register, an offset or an immediate: out-of-bounds accesses, reads of unwritten registers, jumps
// elsewhere), run on their input by the checked interpreter and the checked JIT, which must agree.
// Programs whose result depends on addresses (r10, function tokens) are left out.
TEST(JitDiff, MutatedProgramsAgreeOnTheCheckedEngines) {
  DiffOracle oracle({checked_jit_engine(100'000)},
                    DiffOptions{.budget = 100'000, .skip_address_dependent = true});
  std::mt19937_64 rng(42);
  uint64_t compared = 0, faulting = 0, mismatched = 0;
  for (uint64_t seed = 0; seed < kPrograms / 20; ++seed) {
    DiffProgram p = generate_diff_program(seed);
    auto a = assemble(p.asm_text);
    ASSERT_TRUE(a.ok());
    std::vector<uint8_t> bytes = encode(a->program.insns);
    for (uint64_t k = 1 + rng() % 3; k-- > 0;) {
      const size_t slot = rng() % (bytes.size() / 8) * 8;
      bytes[slot + 1 + rng() % 7] ^= static_cast<uint8_t>(1u << (rng() % 8));  // not the opcode
    }
    auto prog = decode(std::span<const uint8_t>(bytes.data(), bytes.size()));
    if (!prog) continue;
    const DiffOutcome o = oracle.check_program(*prog, p);
    if (!o.assembled || o.address_dependent) continue;
    ++compared;
    faulting += o.ref_fault.has_value();
    if (!o.mismatches.empty() && ++mismatched <= 5) {
      p.asm_text = disassemble(*prog);
      ADD_FAILURE() << "checked engines disagree, seed " << seed << ":\n" << diff_reproducer_text(p, o);
    }
  }
  EXPECT_EQ(mismatched, 0u);
  EXPECT_GE(compared, kPrograms / 100);  // most mutations break a field the decoder checks
  EXPECT_GE(faulting, compared / 10);
  EXPECT_LE(faulting, compared * 9 / 10);
  std::printf("%llu mutated programs compared, %llu faulting\n", static_cast<unsigned long long>(compared),
              static_cast<unsigned long long>(faulting));
}

// An engine that gets one thing wrong, to show that the oracle sees each kind of difference.
class Skewed : public EngineProgram {
 public:
  enum Kind { kR0, kMemory, kStack, kCount };
  Skewed(std::unique_ptr<EngineProgram> inner, Kind k) : inner_(std::move(inner)), kind_(k) {}
  Result<uint64_t> run(const RunInput& input, Environment& env, RunStats* stats) const override {
    Result<uint64_t> r = inner_->run(input, env, stats);
    auto* mem = reinterpret_cast<uint8_t*>(input.regions[0].base);
    if (kind_ == kR0 && r) return *r ^ 1;
    if (kind_ == kMemory) mem[3] ^= 0x40;
    if (kind_ == kStack) mem[input.regions[0].size - 1] ^= 1;  // the last frame copied
    if (kind_ == kCount) ++stats->insns_executed;
    return r;
  }

 private:
  std::unique_ptr<EngineProgram> inner_;
  Kind kind_;
};

TEST(JitDiff, OracleReportsEveryKindOfDifference) {
  std::vector<Engine> engines;
  for (auto [name, kind] :
       {std::pair{"skew-r0", Skewed::kR0}, std::pair{"skew-mem", Skewed::kMemory},
        std::pair{"skew-stack", Skewed::kStack}, std::pair{"skew-count", Skewed::kCount}}) {
    Engine e = interpreter_engine(true, kBudget);
    e.name = name;
    e.compile = [inner = e.compile, kind](const Program& p,
                                          const HelperTable* h) -> Result<std::unique_ptr<EngineProgram>> {
      auto c = inner(p, h);
      if (!c) return c.error();
      return std::unique_ptr<EngineProgram>(std::make_unique<Skewed>(std::move(*c), kind));
    };
    engines.push_back(std::move(e));
  }
  DiffOracle oracle(std::move(engines));
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const DiffProgram p = generate_diff_program(seed);
    const DiffOutcome o = oracle.check(p);
    if (o.ref_fault) continue;
    std::set<std::string> kinds;
    std::string details;
    for (const Mismatch& m : o.mismatches) {
      kinds.insert(m.engine + "/" + m.what);
      details += m.engine + " " + m.what + ": expected " + m.expected + ", got " + m.actual + "\n";
    }
    EXPECT_EQ(kinds, (std::set<std::string>{"skew-r0/r0", "skew-mem/memory", "skew-stack/memory",
                                            "skew-count/insns"}))
        << "seed " << seed << "\n"
        << details;
  }
}

// The minimiser keeps the difference and drops what does not matter to it.
TEST(JitDiff, MinimiserShrinksAReproducer) {
  Engine skew = interpreter_engine(true, kBudget);
  skew.name = "skew-r0";
  skew.compile = [inner = skew.compile](const Program& p,
                                        const HelperTable* h) -> Result<std::unique_ptr<EngineProgram>> {
    auto c = inner(p, h);
    if (!c) return c.error();
    return std::unique_ptr<EngineProgram>(std::make_unique<Skewed>(std::move(*c), Skewed::kR0));
  };
  DiffOracle oracle({skew});
  const DiffProgram p = generate_diff_program(11);
  const DiffOutcome o = oracle.check(p);
  ASSERT_FALSE(o.ref_fault);
  ASSERT_EQ(o.mismatches.size(), 1u);
  const DiffProgram small = minimise(oracle, p, o.mismatches[0]);
  const DiffOutcome so = oracle.check(small);
  ASSERT_EQ(so.mismatches.size(), 1u);
  EXPECT_EQ(so.mismatches[0].what, "r0");
  auto big = assemble(p.asm_text), little = assemble(small.asm_text);
  ASSERT_TRUE(big.ok() && little.ok());
  EXPECT_LT(little->program.insns.size() * 4, big->program.insns.size())
      << "minimised to " << little->program.insns.size() << " of " << big->program.insns.size()
      << " instructions:\n"
      << small.asm_text;
}

TEST(JitDiff, ReproducerRoundTrips) {
  for (uint64_t seed : {5ull, 42ull, 4242ull}) {
    const DiffProgram p = generate_diff_program(seed);
    DiffOracle oracle(engines_under_test(kBudget));
    DiffOutcome o = oracle.check(p);
    o.mismatches.push_back(Mismatch{"some-engine", "r0", "0x1", "0x2"});
    auto back = parse_diff_reproducer(diff_reproducer_text(p, o));
    ASSERT_TRUE(back.ok()) << back.error().to_string();
    EXPECT_EQ(back->mem, p.mem);
    EXPECT_EQ(back->seed, seed);
    EXPECT_EQ(back->data_size, p.data_size);
    auto a = assemble(p.asm_text), b = assemble(back->asm_text);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(encode(a->program.insns), encode(b->program.insns));
  }
  EXPECT_FALSE(parse_diff_reproducer("-- mem\n00\n").ok());
}

TEST(JitDiff, ReproducersReplayWithoutMismatch) {
  const std::filesystem::path dir = BPFVM_SOURCE_DIR "/tests/fuzz/jit_repro";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  DiffOracle oracle(engines_under_test(kBudget));
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".data") continue;
    ++n;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    auto p = parse_diff_reproducer(ss.str());
    ASSERT_TRUE(p.ok()) << e.path() << ": " << p.error().to_string();
    const DiffOutcome o = oracle.check(*p);
    ASSERT_TRUE(o.assembled) << e.path() << ": " << o.assemble_error;
    // The reference still gives what the file records.
    auto d = parse_data_file(ss.str());
    ASSERT_TRUE(d.ok());
    if (d->result) {
      EXPECT_FALSE(o.ref_fault) << e.path() << ": " << o.ref_fault->to_string();
      EXPECT_EQ(o.ref_r0, *d->result) << e.path();
    } else if (d->error) {
      ASSERT_TRUE(o.ref_fault) << e.path() << ": expected " << *d->error;
      EXPECT_EQ(d->error->rfind(error_code_name(o.ref_fault->code), 0), 0u) << e.path() << ": " << *d->error;
    }
    for (const Mismatch& m : o.mismatches)
      ADD_FAILURE() << e.path() << ": " << m.engine << " " << m.what << ": expected " << m.expected
                    << ", got " << m.actual;
  }
  std::printf("%zu reproducers replayed\n", n);
}

}  // namespace
}  // namespace bpfvm::fuzz
