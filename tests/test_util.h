// Helpers shared by the test suites: locating the shared test material (conformance suite, ...).
// When it is missing the calling test FAILS with a clear message; it is never skipped.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace bpfvm {

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

}  // namespace bpfvm
