// Verifier soundness fuzzing in CI: generated programs (tests/fuzz/program_gen.h) go through the
// verifier; every accepted one runs in the checked interpreter on random inputs and must never
// fault (tests/fuzz/soundness_oracle.h). Also replays every reproducer of
// tests/fuzz/soundness_repro/.
//
// Program count: 100,000 in regular builds. Under AddressSanitizer (BPFVM_SANITIZE, detected via
// __SANITIZE_ADDRESS__ / __has_feature(address_sanitizer)) the same seeds are used but only the
// first 20,000, since everything runs several times slower there.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/fuzz/gen_util.h"
#include "tests/fuzz/program_gen.h"
#include "tests/fuzz/soundness_oracle.h"
#include "vm/asm.h"
#include "vm/decode.h"

namespace bpfvm::fuzz {
namespace {

constexpr uint64_t kPrograms = kFuzzTestPrograms;

TEST(Soundness, GeneratorIsReproducible) {
  for (uint64_t seed : {0ull, 1ull, 12345ull, 0xdeadbeefull}) {
    GeneratedProgram a = generate_program(seed), b = generate_program(seed);
    EXPECT_EQ(a.asm_text, b.asm_text);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.raw_ctx_size, b.raw_ctx_size);
    EXPECT_EQ(a.maps.size(), b.maps.size());
  }
  EXPECT_NE(generate_program(1).asm_text, generate_program(2).asm_text);
}

// The programs are checked in kChunks tests of consecutive seeds, so that CTest (and the sanitizer
// builds' GoogleTest shards) run them in parallel; each chunk checks the generator's statistics on
// its own seeds.
constexpr uint64_t kChunks = 4;
class SoundnessChunk : public ::testing::TestWithParam<uint64_t> {};

TEST_P(SoundnessChunk, AcceptedGeneratedProgramsNeverFault) {
  const uint64_t first = GetParam() * (kPrograms / kChunks), count = kPrograms / kChunks;
  OracleOptions oo;
  oo.runs = 2;
  auto oracle = SoundnessOracle::create(oo);
  ASSERT_TRUE(oracle.ok()) << oracle.error().to_string();
  uint64_t accepted = 0, rejected = 0, faults = 0, runs = 0, by_invariant = 0;
  std::map<std::string, uint64_t> kinds;
  // Features the accepted programs must exercise (substrings of their assembly).
  const std::vector<std::string> features = {"sdiv",
                                             "smod",
                                             "movsx",
                                             "bswap",
                                             "be16",
                                             "arsh32",
                                             "neg",
                                             "jsgt32",
                                             "jset",
                                             "call local",
                                             "call 181",
                                             "call 1\n",
                                             "call 2\n",
                                             "lock ",
                                             "map_fd(0)",
                                             "map_fd(1)",
                                             "ldxdw",
                                             "stxb [%r10",
                                             "jle",
                                             "exit\nL",
                                             "# truncated packet pointers",
                                             "# linked scalars",
                                             "# packet range carried over a variable offset",
                                             "# no null check"};
  std::vector<uint64_t> seen(features.size());
  for (uint64_t seed = first; seed < first + count; ++seed) {
    GeneratedProgram p = generate_program(seed);
    OracleOutcome o = (*oracle)->check(p, seed);
    ASSERT_TRUE(o.assembled) << "seed " << seed << ": " << o.assemble_error << "\n" << p.asm_text;
    runs += o.runs;
    if (o.accepted) {
      ++accepted;
      by_invariant += o.loops_proven > 0;
      for (size_t i = 0; i < features.size(); ++i)
        seen[i] += p.asm_text.find(features[i]) != std::string::npos;
    }
    if (!o.accepted) ++rejected, ++kinds[o.reject_kind];
    if (o.fault) {
      ++faults;
      ADD_FAILURE() << "soundness bug, seed " << seed << ": " << o.fault->to_string() << "\n"
                    << reproducer_text(p, o);
      if (faults >= 5) break;
    }
  }
  EXPECT_EQ(faults, 0u);
  // The generator is useful: both verdicts are frequent, and rejections have many causes.
  EXPECT_GE(accepted, count / 5) << "acceptance rate below 20%";
  EXPECT_GE(rejected, count / 5) << "rejection rate below 20%";
  EXPECT_GE(kinds.size(), 8u);
  EXPECT_GE(runs, accepted);
  for (size_t i = 0; i < features.size(); ++i)
    EXPECT_GE(seen[i], count / 1000) << "too few accepted programs with '" << features[i] << "'";
  // Loops proven by an invariant (not iterated one by one) are a good part of the accepted ones.
  EXPECT_GE(by_invariant, accepted / 50) << "too few accepted programs with a loop proven by an invariant";
  std::string s, f;
  for (const auto& [k, n] : kinds)
    s += " " + k + "=" + std::to_string(n);
  for (size_t i = 0; i < features.size(); ++i) {
    std::string name = features[i];
    for (size_t k; (k = name.find('\n')) != std::string::npos;)
      name.replace(k, 1, "\\n");
    f += fmt::format(" '{}'={}", name, seen[i]);
  }
  std::printf(
      "seeds %llu..%llu: %llu programs, %llu accepted (%llu with a loop proven by an invariant), %llu "
      "checked "
      "runs; rejections:%s\naccepted with:%s\n",
      static_cast<unsigned long long>(first), static_cast<unsigned long long>(first + count - 1),
      static_cast<unsigned long long>(accepted + rejected), static_cast<unsigned long long>(accepted),
      static_cast<unsigned long long>(by_invariant), static_cast<unsigned long long>(runs), s.c_str(),
      f.c_str());
}
INSTANTIATE_TEST_SUITE_P(Seeds, SoundnessChunk, ::testing::Range<uint64_t>(0, kChunks));

// The oracle can see faults: the programs the verifier rejects include many that do fault when run
// anyway (checked mode), so a verifier that accepted everything would be caught.
TEST(Soundness, OracleCatchesFaultsOfRejectedPrograms) {
  auto oracle = SoundnessOracle::create();
  ASSERT_TRUE(oracle.ok());
  uint64_t faulted = 0, tried = 0;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    GeneratedProgram p = generate_program(seed);
    OracleOutcome o = (*oracle)->check_unverified(p, seed);
    if (o.accepted) continue;
    ++tried;
    faulted += o.fault.has_value();
  }
  EXPECT_GE(tried, 600u);
  EXPECT_GE(faulted, tried / 10) << faulted << " of " << tried << " rejected programs fault when run";
}

// A reproducer file reads back as the same program (type, input size, maps, code).
TEST(Soundness, ReproducerRoundTrips) {
  for (uint64_t seed : {3ull, 17ull, 99ull, 1234ull}) {
    GeneratedProgram p = generate_program(seed);
    OracleOutcome o;
    o.fault = make_error(ErrorCode::kOutOfBounds, 7, "example");
    o.fault_input_seed = 4242;
    uint64_t input_seed = 0;
    auto back = parse_reproducer(reproducer_text(p, o), &input_seed);
    ASSERT_TRUE(back.ok()) << back.error().to_string();
    EXPECT_EQ(input_seed, 4242u);
    EXPECT_EQ(back->seed, seed);
    EXPECT_EQ(back->type, p.type);
    EXPECT_EQ(back->raw_ctx_size, p.raw_ctx_size);
    ASSERT_EQ(back->maps.size(), p.maps.size());
    for (size_t i = 0; i < p.maps.size(); ++i) {
      EXPECT_EQ(back->maps[i].type, p.maps[i].type);
      EXPECT_EQ(back->maps[i].value_size, p.maps[i].value_size);
      EXPECT_EQ(back->maps[i].max_entries, p.maps[i].max_entries);
    }
    auto a = assemble(p.asm_text), b = assemble(back->asm_text);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(encode(a->program.insns), encode(b->program.insns));
  }
  uint64_t s = 0;
  EXPECT_FALSE(parse_reproducer("-- type raw\n", &s).ok());
  EXPECT_FALSE(parse_reproducer("-- type sk_lookup\n-- asm\nexit\n", &s).ok());
}

TEST(Soundness, ReproducersDoNotFault) {
  const std::filesystem::path dir = BPFVM_SOURCE_DIR "/tests/fuzz/soundness_repro";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  auto oracle = SoundnessOracle::create();
  ASSERT_TRUE(oracle.ok());
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".txt") continue;
    ++n;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    uint64_t input_seed = 0;
    auto p = parse_reproducer(ss.str(), &input_seed);
    ASSERT_TRUE(p.ok()) << e.path() << ": " << p.error().to_string();
    OracleOutcome exact = (*oracle)->check_one(*p, input_seed);
    ASSERT_TRUE(exact.assembled) << e.path() << ": " << exact.assemble_error;
    EXPECT_FALSE(exact.fault.has_value()) << e.path() << ": " << exact.fault->to_string();
    for (uint64_t s = 0; s < 50 && exact.accepted; ++s) {
      OracleOutcome o = (*oracle)->check_one(*p, s);
      EXPECT_FALSE(o.fault.has_value()) << e.path() << " input " << s << ": " << o.fault->to_string();
    }
  }
  std::printf("%zu reproducers replayed\n", n);
}

}  // namespace
}  // namespace bpfvm::fuzz
