// Helpers shared by the test suites: locating the shared test material (conformance suite, ...).
// When it is missing the calling test FAILS with a clear message; it is never skipped. And the small
// fixtures of the engine tests: an Environment with fixed answers, programs from assembly or from
// instructions, interpreters.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "vm/asm.h"
#include "vm/decode.h"
#include "vm/helper_table.h"
#include "vm/interp.h"

namespace bpfvm {

// The bytes of a file as a string (empty when it cannot be read).
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// BPFVM_SHARED_DIR. Adds a test failure when <shared>/conformance/tests is missing.
inline std::string shared_dir() {
  std::string dir = BPFVM_SHARED_DIR;
  std::error_code ec;
  if (!std::filesystem::is_directory(std::filesystem::path(dir) / "conformance" / "tests", ec))
    ADD_FAILURE()
        << "shared test material not found: " << dir
        << "/conformance/tests is missing (configure with -DBPFVM_SHARED_DIR=<folder with conformance/>)";
  return dir;
}

// Sorted paths of <shared>/conformance/tests/*.data (empty, with a test failure, when missing).
inline std::vector<std::string> conformance_files() {
  std::vector<std::string> files;
  std::filesystem::path dir = std::filesystem::path(shared_dir()) / "conformance" / "tests";
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".data") files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Traces are dropped, the clock reads 1 and prandom 4.
class NullEnv : public Environment {
 public:
  void trace(std::string_view) override {}
  uint64_t ktime_ns() override { return 1; }
  uint32_t prandom_u32() override { return 4; }
};

// The program assembled from `text`; an empty program, with a test failure, when it does not assemble.
inline Program assemble_or_fail(std::string_view text, const AsmOptions& opts = {}) {
  Result<AsmOutput> a = assemble(text, opts);
  EXPECT_TRUE(a.ok()) << text << "\n-> " << (a.ok() ? "" : a.error().to_string());
  return a.ok() ? std::move(a->program) : Program{};
}

// `insns` linked (vm/decode.h); an empty program, with a test failure, when they do not link.
inline Program link_or_fail(std::vector<Insn> insns) {
  Result<Program> p = link(std::move(insns));
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().to_string());
  return p.ok() ? std::move(*p) : Program{};
}

// The interpreter of `program`; nullptr, with a test failure, when the interpreter refuses it.
inline std::unique_ptr<Interpreter> interpreter_or_fail(const Program& program,
                                                        const HelperTable* helpers = nullptr) {
  auto r = Interpreter::create(program, helpers);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? std::move(*r) : nullptr;
}

}  // namespace bpfvm
