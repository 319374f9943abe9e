// The bpfvm CLI and the conformance plugin, driven as a user drives them: as processes.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "vm/data_file.h"
#include "vm/runtime/input.h"

namespace bpfvm {
namespace {

namespace fs = std::filesystem;

struct Proc {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
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

// Runs `exe args...` with `input` on stdin; captures stdout, stderr and the exit status.
Proc run(const std::string& exe, const std::vector<std::string>& args, const std::string& input = "") {
  static TempDir io;
  fs::path in = io.file("stdin", input), out = io.path() / "stdout", err = io.path() / "stderr";
  std::string cmd = quote(std::string(BPFVM_BINARY_DIR) + "/bin/" + exe);
  for (const auto& a : args) cmd += " " + quote(a);
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
  p.out = slurp(out);
  p.err = slurp(err);
  return p;
}

std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

const std::string kExample = std::string(BPFVM_SOURCE_DIR) + "/examples/fnv1a.asm";

TEST(Cli, RunPrintsR0AsHexOnTheLastLine) {
  Proc p = run("bpfvm", {"run", kExample, "--mem", "68 65 6c 6c 6f"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(last_line(p.out), "0xa430d84680aabd0b");
  // Spaces between bytes are optional.
  EXPECT_EQ(last_line(run("bpfvm", {"run", kExample, "--mem", "68656c6c6f"}).out), "0xa430d84680aabd0b");
}

TEST(Cli, RunReadsMemoryFromAFile) {
  TempDir d;
  fs::path mem = d.file("mem.bin", "hello");
  Proc p = run("bpfvm", {"run", kExample, "--mem-file", mem.string()});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(last_line(p.out), "0xa430d84680aabd0b");
}

TEST(Cli, RunTakesDataFileMemoryAndChecksItsResult) {
  std::string f = shared_dir() + "/conformance/tests/mem-len.data";
  Proc p = run("bpfvm", {"run", f});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(last_line(p.out), "0x8");
  // --mem overrides the file's memory; the result then differs from `-- result`: exit 1.
  Proc q = run("bpfvm", {"run", f, "--mem", "00 01"});
  EXPECT_EQ(q.exit_code, 1);
  EXPECT_EQ(last_line(q.out), "0x2");
  EXPECT_NE(q.err.find("expects r0 = 0x8"), std::string::npos) << q.err;
}

TEST(Cli, RawBytecodeRuns) {
  TempDir d;
  // mov r0, 42; exit
  std::string code("\xb7\x00\x00\x00\x2a\x00\x00\x00\x95\x00\x00\x00\x00\x00\x00\x00", 16);
  Proc p = run("bpfvm", {"run", d.file("p.bin", code).string()});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(p.out, "0x2a\n");
}

TEST(Cli, FaultsExitOneAndNameThePc) {
  TempDir d;
  fs::path oob = d.file("oob.asm", "mov %r0, 0\nldxdw %r0, [%r1+8]\nexit\n");
  Proc p = run("bpfvm", {"run", oob.string(), "--mem", "00 01 02 03"});
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_NE(p.err.find("PC 1"), std::string::npos) << p.err;
  EXPECT_TRUE(p.out.empty()) << p.out;

  fs::path helper = d.file("helper.asm", "call 9999\nexit\n");
  Proc h = run("bpfvm", {"run", helper.string()});
  EXPECT_EQ(h.exit_code, 1);
  EXPECT_NE(h.err.find("9999"), std::string::npos) << h.err;

  fs::path loop = d.file("loop.asm", "l:\nja l\nexit\n");
  Proc b = run("bpfvm", {"run", loop.string(), "--budget", "1000"});
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.err.find("budget"), std::string::npos) << b.err;
}

TEST(Cli, UsageErrorsAndUnreadableInputExitTwo) {
  TempDir d;
  EXPECT_EQ(run("bpfvm", {}).exit_code, 2);
  EXPECT_EQ(run("bpfvm", {"frobnicate"}).exit_code, 2);
  EXPECT_EQ(run("bpfvm", {"run"}).exit_code, 2);
  EXPECT_EQ(run("bpfvm", {"run", kExample, "--no-such-option"}).exit_code, 2);
  Proc missing = run("bpfvm", {"run", "/nonexistent/prog.bin"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/prog.bin"), std::string::npos) << missing.err;
  Proc odd = run("bpfvm", {"run", d.file("odd.bin", "\x95\0\0").string()});
  EXPECT_EQ(odd.exit_code, 2);
  EXPECT_NE(odd.err.find("multiple of 8"), std::string::npos) << odd.err;
  Proc badhex = run("bpfvm", {"run", kExample, "--mem", "0g"});
  EXPECT_EQ(badhex.exit_code, 2);
  EXPECT_NE(badhex.err.find("hex"), std::string::npos) << badhex.err;
  Proc badasm = run("bpfvm", {"run", d.file("bad.asm", "mov %r0, 1\nfrob %r1\nexit\n").string()});
  EXPECT_EQ(badasm.exit_code, 2);
  EXPECT_NE(badasm.err.find("line 2"), std::string::npos) << badasm.err;
}

TEST(Cli, HelpIsAvailableForEveryCommand) {
  Proc p = run("bpfvm", {"--help"});
  EXPECT_EQ(p.exit_code, 0);
  for (const char* cmd : {"run", "bench", "asm", "disasm"}) {
    EXPECT_NE(p.out.find(cmd), std::string::npos);
    Proc h = run("bpfvm", {cmd, "--help"});
    EXPECT_EQ(h.exit_code, 0) << cmd;
    EXPECT_NE(h.out.find("Options"), std::string::npos) << cmd;
  }
}

TEST(Cli, TracePrintkOutputGoesToStderr) {
  TempDir d;
  // "hi %d\n\0" on the stack, then trace_printk(fmt, 7, 42)
  fs::path prog = d.file("trace.asm",
                         "lddw %r1, 0x000a6425206968\n"
                         "stxdw [%r10-8], %r1\n"
                         "mov %r1, %r10\n"
                         "add %r1, -8\n"
                         "mov %r2, 7\n"
                         "mov %r3, 42\n"
                         "call 6\n"
                         "mov %r0, 0\n"
                         "exit\n");
  Proc p = run("bpfvm", {"run", prog.string()});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.err.find("hi 42"), std::string::npos) << p.err;
  EXPECT_EQ(p.out, "0x0\n");
}

TEST(Cli, AsmAndDisasmRoundTrip) {
  TempDir d;
  fs::path bin = d.path() / "fnv.bin";
  Proc a = run("bpfvm", {"asm", kExample, "-o", bin.string()});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  Proc dis = run("bpfvm", {"disasm", bin.string()});
  ASSERT_EQ(dis.exit_code, 0) << dis.err;
  EXPECT_NE(dis.out.find("lddw %r0, 0xcbf29ce484222325"), std::string::npos) << dis.out;
  fs::path text = d.file("again.asm", dis.out);
  fs::path bin2 = d.path() / "again.bin";
  ASSERT_EQ(run("bpfvm", {"asm", text.string(), "-o", bin2.string()}).exit_code, 0);
  EXPECT_EQ(slurp(bin), slurp(bin2));
  EXPECT_EQ(run("bpfvm", {"asm", kExample}).exit_code, 2);  // missing -o
}

TEST(Cli, BenchPrintsNsPerRunAndTheResult) {
  Proc p = run("bpfvm", {"bench", kExample, "--mem", "68 65 6c 6c 6f", "--repeat", "100"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("ns/run: "), std::string::npos) << p.out;
  EXPECT_EQ(last_line(p.out), "0xa430d84680aabd0b");
  EXPECT_EQ(run("bpfvm", {"bench", kExample, "--repeat", "0"}).exit_code, 2);
}

std::string plugin_hex(const std::vector<uint8_t>& b) {
  std::string s;
  char buf[4];
  for (uint8_t x : b) {
    std::snprintf(buf, sizeof buf, "%02x", x);
    s += buf;
    s += "  ";
  }
  return s;
}

TEST(ConformancePlugin, PassesAllConformanceTestsThroughThePluginProtocol) {
  auto files = conformance_files();
  ASSERT_EQ(files.size(), 313u);
  int passed = 0;
  for (const auto& f : files) {
    auto text = read_file(f);
    ASSERT_TRUE(text.ok());
    auto df = parse_data_file(std::string(text->begin(), text->end()));
    ASSERT_TRUE(df.ok()) << f;
    auto code = program_bytes(*df);
    ASSERT_TRUE(code.ok()) << f;
    std::vector<std::string> args;
    if (!df->mem.empty()) args.push_back(plugin_hex(df->mem));
    Proc p = run("bpfvm-conformance-plugin", args, plugin_hex(*code) + "\n");
    ASSERT_EQ(p.exit_code, 0) << f << ": " << p.err;
    uint64_t got = std::stoull(p.out, nullptr, 16);
    EXPECT_EQ(got, *df->result) << f;
    passed += got == *df->result;
  }
  EXPECT_EQ(passed, 313);
}

TEST(ConformancePlugin, FailuresExitNonZeroWithAMessage) {
  Proc p = run("bpfvm-conformance-plugin", {}, "95  00  00\n");
  EXPECT_NE(p.exit_code, 0);
  EXPECT_FALSE(p.err.empty());
  Proc opt = run("bpfvm-conformance-plugin", {"--bogus"}, "");
  EXPECT_EQ(opt.exit_code, 2);
}

TEST(CliRobustness, RandomFilesNeverCrashAnyCommand) {
  TempDir d;
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 60; ++i) {
    std::string content(rng() % 80, '\0');
    for (char& c : content) c = static_cast<char>(rng());
    if (i % 3 == 1) content.resize(content.size() / 8 * 8);
    const char* ext = i % 4 == 0 ? ".asm" : i % 4 == 1 ? ".data" : i % 4 == 2 ? ".o" : ".bin";
    if (i % 4 == 2 && content.size() >= 4) content.replace(0, 4, "\x7f" "ELF");
    fs::path f = d.file("r" + std::to_string(i) + ext, content);
    for (const char* cmd : {"run", "disasm", "bench"}) {
      std::vector<std::string> args = {cmd, f.string()};
      if (std::string(cmd) == "bench") args.insert(args.end(), {"--repeat", "3"});
      Proc p = run("bpfvm", args);
      EXPECT_EQ(p.signal, 0) << cmd << " " << f << " crashed";
      EXPECT_TRUE(p.exit_code == 0 || p.exit_code == 1 || p.exit_code == 2) << cmd << " " << f;
      if (p.exit_code != 0) {
        EXPECT_FALSE(p.err.empty()) << cmd << " " << f;
      }
    }
  }
}


// ---- ELF objects: run with contexts, inspect, disasm ----

const std::string kCounterObj = std::string(BPFVM_BINARY_DIR) + "/examples/xdp_counter.o";
const std::string kTcpSyn = std::string(BPFVM_SOURCE_DIR) + "/examples/tcp_syn.pkt";
const std::string kTelnetSyn = std::string(BPFVM_SOURCE_DIR) + "/examples/telnet_syn.pkt";
const std::string kTailCalls = std::string(BPFVM_BINARY_DIR) + "/tests/corpus/tail_calls.o";

TEST(CliObject, RunsTheExampleWithAPacketAndDumpsMaps) {
  Proc p = run("bpfvm", {"run", kCounterObj, "--packet", kTcpSyn, "--dump-maps"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(last_line(p.out), "0x2");
  EXPECT_NE(p.err.find("map '.bss': array"), std::string::npos) << p.err;
  // One TCP packet of 54 bytes in counters[0]: packets = 1, bytes = 0x36.
  EXPECT_NE(p.err.find("00000000 => 01000000000000003600000000000000"), std::string::npos) << p.err;

  Proc d = run("bpfvm", {"run", kCounterObj, "--packet", kTelnetSyn, "--repeat", "3", "--dump-maps", "--json"});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(last_line(d.out), "0x1");
  EXPECT_NE(d.err.find("\"maps\""), std::string::npos) << d.err;
  EXPECT_NE(d.err.find("\"name\": \".rodata\""), std::string::npos) << d.err;
  // dropped (the last u64 of .bss) counts the 3 repetitions.
  EXPECT_NE(d.err.find("0300000000000000\""), std::string::npos) << d.err;
}

TEST(CliObject, PacketOutWritesThePacketAfterTheRun) {
  TempDir d;
  fs::path out = d.path() / "out.pkt";
  Proc p = run("bpfvm", {"run", kCounterObj, "--packet", kTcpSyn, "--packet-out", out.string()});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(slurp(out), slurp(kTcpSyn));
}

TEST(CliObject, SelectsProgramsBySectionNameOrFunction) {
  Proc many = run("bpfvm", {"run", kTailCalls, "--packet", kTcpSyn});
  EXPECT_EQ(many.exit_code, 2);
  EXPECT_NE(many.err.find("3 programs"), std::string::npos) << many.err;
  EXPECT_NE(many.err.find("handle_udp"), std::string::npos) << many.err;
  Proc unknown = run("bpfvm", {"run", kTailCalls, "--program", "nope", "--packet", kTcpSyn});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("no program named 'nope'"), std::string::npos) << unknown.err;
  Proc sec = run("bpfvm", {"run", kCounterObj, "--section", "xdp", "--packet", kTcpSyn});
  EXPECT_EQ(sec.exit_code, 0) << sec.err;
  Proc nosec = run("bpfvm", {"run", kCounterObj, "--section", "tc", "--packet", kTcpSyn});
  EXPECT_EQ(nosec.exit_code, 2);
  EXPECT_NE(nosec.err.find("no program in section 'tc'"), std::string::npos) << nosec.err;
}

TEST(CliObject, TypeOverrideAndErrors) {
  TempDir d;
  // As a socket filter the program gets a __sk_buff: what it reads as xdp_md data/data_end are
  // len (40) and pkt_type (3), so its bounds check fails and it returns XDP_ABORTED (0).
  Proc sf = run("bpfvm", {"run", kCounterObj, "--type", "socket_filter", "--packet", kTelnetSyn});
  EXPECT_EQ(sf.exit_code, 0) << sf.err;
  EXPECT_EQ(last_line(sf.out), "0x0");
  Proc bad = run("bpfvm", {"run", kCounterObj, "--type", "frobnicator", "--packet", kTcpSyn});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown program type 'frobnicator'"), std::string::npos) << bad.err;
  Proc nofile = run("bpfvm", {"run", kCounterObj, "--packet", "/nonexistent/p.pkt"});
  EXPECT_EQ(nofile.exit_code, 2);
  EXPECT_NE(nofile.err.find("/nonexistent/p.pkt"), std::string::npos) << nofile.err;
  Proc tiny = run("bpfvm", {"run", kCounterObj, "--packet", d.file("tiny.pkt", "abc").string()});
  EXPECT_EQ(tiny.exit_code, 2);
  EXPECT_NE(tiny.err.find("3 bytes"), std::string::npos) << tiny.err;
  Proc nopkt = run("bpfvm", {"run", kCounterObj});
  EXPECT_EQ(nopkt.exit_code, 2);
  // --type on assembly: the program runs with an XDP context.
  fs::path len = d.file("len.asm", "ldxw %r2, [%r1+0]\nldxw %r0, [%r1+4]\nsub %r0, %r2\nexit\n");
  Proc x = run("bpfvm", {"run", len.string(), "--type", "xdp", "--packet", kTcpSyn});
  EXPECT_EQ(x.exit_code, 0) << x.err;
  EXPECT_EQ(last_line(x.out), "0x36");
}

TEST(CliObject, InspectListsProgramsMapsAndRelocations) {
  Proc p = run("bpfvm", {"inspect", kTailCalls});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  for (const char* want : {"license: GPL", "dispatch (id 3): section 'xdp', type xdp", "linked",
                           "reloc: pc 24 lddw -> map 'jump_table'", "jump_table: prog_array", ".values[1] = handle_tcp"})
    EXPECT_NE(p.out.find(want), std::string::npos) << want << "\n" << p.out;
  Proc g = run("bpfvm", {"inspect", kCounterObj});
  EXPECT_EQ(g.exit_code, 0) << g.err;
  EXPECT_NE(g.out.find("global data:"), std::string::npos) << g.out;
  EXPECT_NE(g.out.find(".rodata: 2 bytes (read-only): 1700"), std::string::npos) << g.out;
  EXPECT_EQ(run("bpfvm", {"inspect", kExample}).exit_code, 2);
  EXPECT_EQ(run("bpfvm", {"inspect", "/nonexistent.o"}).exit_code, 2);
}

TEST(CliObject, DisasmInterleavesSourceLines) {
  Proc p = run("bpfvm", {"disasm", kCounterObj});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("# program xdp_counter (section xdp, xdp)"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("# xdp_counter.c:"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("ctx->data_end"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("# map '.bss'"), std::string::npos) << p.out;
  Proc one = run("bpfvm", {"disasm", kTailCalls, "--program", "handle_udp"});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("# program handle_udp"), std::string::npos);
  EXPECT_EQ(one.out.find("# program dispatch"), std::string::npos);
  Proc none = run("bpfvm", {"disasm", kTailCalls, "--program", "nope"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("handle_tcp"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace bpfvm
