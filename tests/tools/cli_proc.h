// Runs the bpfvm executables as a user does, as processes, for the CLI tests (tests/tools).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace bpfvm::cli_test {

namespace fs = std::filesystem;

struct Proc {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out, err;
};

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bpfvm-cli-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path file(const std::string& name, const std::string& content) const {
    fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Runs `exe args...` with `input` on stdin; captures stdout, stderr and the exit status. `prefix`:
// a command that runs it (e.g. "setpriv --reuid=65534 ... ").
inline Proc run(const std::string& exe,
                const std::vector<std::string>& args,
                const std::string& input = "",
                const std::string& prefix = "") {
  static TempDir io;
  fs::path in = io.file("stdin", input), out = io.path() / "stdout", err = io.path() / "stderr";
  std::string cmd = prefix + quote(std::string(BPFVM_BINARY_DIR) + "/bin/" + exe);
  for (const auto& a : args)
    cmd += " " + quote(a);
  cmd += " <" + quote(in.string()) + " >" + quote(out.string()) + " 2>" + quote(err.string());
  int status = std::system(cmd.c_str());
  Proc p;
  if (WIFEXITED(status)) {
    p.exit_code = WEXITSTATUS(status);
    // The shell reports a child killed by a signal as 128 + signal.
    if (p.exit_code > 128) p.signal = p.exit_code - 128;
  } else {
    p.signal = WIFSIGNALED(status) ? WTERMSIG(status) : -1;
  }
  p.out = read_text(out);
  p.err = read_text(err);
  return p;
}

inline std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n')
    t.pop_back();
  auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

}  // namespace bpfvm::cli_test
