// Soundness smoke test: every accepted raw or xdp case (without maps) runs in the checked
// interpreter on random inputs of its declared shape; none may fault on memory.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>

#include "helpers/core_helpers.h"
#include "helpers/environment.h"
#include "tests/verifier/case_file.h"
#include "vm/interp.h"

namespace bpfvm::verifier::testing {
namespace {

std::vector<Case> runnable_cases() {
  std::vector<Case> out;
  for (const auto& e : std::filesystem::directory_iterator(BPFVM_SOURCE_DIR "/tests/verifier/cases")) {
    if (e.path().extension() != ".txt") continue;
    std::string err;
    for (Case& c : read_cases(e.path().string(), &err))
      if (c.expect_accept && c.maps.empty() && (c.type == ProgType::Raw || c.type == ProgType::Xdp))
        out.push_back(c);
  }
  return out;
}

bool is_memory_fault(const Error& e) {
  return e.code == ErrorCode::kOutOfBounds || e.code == ErrorCode::kCallDepth;
}

TEST(VerifierSoundness, AcceptedCasesDoNotFaultInTheCheckedInterpreter) {
  auto cases = runnable_cases();
  ASSERT_GE(cases.size(), 40u);
  HelperTable helpers;
  register_core_helpers(helpers);
  CapturingEnvironment env(1);
  std::mt19937_64 rng(42);
  // XDP contexts hold 32-bit addresses: the packet and context live in the low 4 GiB.
  void* low = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  ASSERT_NE(low, MAP_FAILED);
  auto* base = static_cast<uint8_t*>(low);
  size_t runs = 0;
  for (const Case& c : cases) {
    auto prog = assemble_case(c);
    ASSERT_TRUE(prog.ok()) << c.name;
    auto v = verify(*prog, options_for(c));
    ASSERT_TRUE(v.ok() && v->accepted) << c.name;
    auto interp = Interpreter::create(*prog, &helpers);
    ASSERT_TRUE(interp.ok()) << c.name << ": " << interp.error().to_string();
    RunOptions ro;
    ro.checked = true;
    ro.budget = 1'000'000;
    for (int i = 0; i < 40; ++i) {
      Result<uint64_t> r = uint64_t{0};
      if (c.type == ProgType::Raw) {
        std::vector<uint8_t> mem(c.ctx_size);
        for (auto& b : mem)
          b = static_cast<uint8_t>(rng());
        r = (*interp)->run(mem, ro, env);
      } else {
        uint32_t meta = static_cast<uint32_t>(rng() % 17), len = static_cast<uint32_t>(rng() % 100);
        uint8_t* data = base + 512;
        for (uint32_t k = 0; k < meta + len; ++k)
          (data - meta)[k] = static_cast<uint8_t>(rng());
        auto addr = [](const uint8_t* p) { return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p)); };
        uint32_t ctx[6] = {addr(data), addr(data + len), addr(data - meta), 1, 0, 0};
        std::memcpy(base, ctx, sizeof(ctx));
        RunInput in;
        in.args[0] = reinterpret_cast<uintptr_t>(base);
        in.regions.push_back(MemRegion{reinterpret_cast<uintptr_t>(base), sizeof(ctx), false, "ctx"});
        in.regions.push_back(MemRegion{reinterpret_cast<uintptr_t>(data - meta), meta + len, true, "packet"});
        r = (*interp)->run(in, ro, env);
      }
      ++runs;
      if (!r.ok()) {
        EXPECT_FALSE(is_memory_fault(r.error())) << c.file << " " << c.name << ": " << r.error().to_string();
      }
    }
  }
  // The harness itself catches faults: an unchecked packet read on an empty packet faults.
  auto bad = assemble("ldxw %r2, [%r1+0]\nldxb %r0, [%r2+0]\nmov %r0, 2\nexit\n");
  ASSERT_TRUE(bad.ok());
  auto bad_interp = Interpreter::create(bad->program, &helpers);
  ASSERT_TRUE(bad_interp.ok());
  uint8_t* data = base + 512;
  uint32_t ctx[6] = {static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data)),
                     static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data)),
                     0,
                     0,
                     0,
                     0};
  std::memcpy(base, ctx, sizeof(ctx));
  RunInput in;
  in.args[0] = reinterpret_cast<uintptr_t>(base);
  in.regions.push_back(MemRegion{reinterpret_cast<uintptr_t>(base), sizeof(ctx), false, "ctx"});
  RunOptions ro;
  auto r = (*bad_interp)->run(in, ro, env);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(is_memory_fault(r.error())) << r.error().to_string();
  munmap(low, 4096);
  EXPECT_GT(runs, 0u);
}

}  // namespace
}  // namespace bpfvm::verifier::testing
