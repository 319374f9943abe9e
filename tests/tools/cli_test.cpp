// The bpfvm CLI and the conformance plugin, driven as a user drives them: as processes.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"
#include "tests/tools/cli_proc.h"
#include "vm/data_file.h"
#include "vm/runtime/input.h"

namespace bpfvm {
namespace {

using namespace cli_test;

const std::string kExample = std::string(BPFVM_SOURCE_DIR) + "/bench/programs/fnv1a.asm";

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
  // These programs are rejected by the verifier; --no-verify runs them in checked mode, which
  // catches the fault at run time.
  Proc p = run("bpfvm", {"run", oob.string(), "--mem", "00 01 02 03", "--no-verify"});
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_NE(p.err.find("PC 1"), std::string::npos) << p.err;
  EXPECT_TRUE(p.out.empty()) << p.out;

  fs::path helper = d.file("helper.asm", "call 9999\nexit\n");
  Proc h = run("bpfvm", {"run", helper.string(), "--no-verify"});
  EXPECT_EQ(h.exit_code, 1);
  EXPECT_NE(h.err.find("9999"), std::string::npos) << h.err;

  fs::path loop = d.file("loop.asm", "l:\nja l\nexit\n");
  Proc b = run("bpfvm", {"run", loop.string(), "--budget", "1000", "--no-verify"});
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
  EXPECT_EQ(read_text(bin), read_text(bin2));
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
    for (const char* cmd : {"run", "disasm", "bench", "verify"}) {
      std::vector<std::string> args = {cmd, f.string()};
      if (std::string(cmd) == "bench") args.insert(args.end(), {"--repeat", "3"});
      Proc p = run("bpfvm", args);
      EXPECT_EQ(p.signal, 0) << cmd << " " << f << " crashed";
      EXPECT_TRUE(p.exit_code == 0 || p.exit_code == 1 || p.exit_code == 2) << cmd << " " << f;
      if (p.exit_code != 0) {
        // verify prints its FAIL verdicts on stdout.
        EXPECT_FALSE(p.err.empty() && (std::string(cmd) != "verify" || p.out.empty())) << cmd << " " << f;
      }
    }
  }
}


// ---- ELF objects: run with contexts, inspect, disasm ----
// These tests are about running objects, so most use --no-verify: several runs below use program
// types or inputs that the programs were not written for. The example's verified path is
// CliVerify.ReadmeExampleShowsTheVerdict.

const std::string kCounterObj = std::string(BPFVM_BINARY_DIR) + "/examples/xdp_counter.o";
const std::string kTcpSyn = std::string(BPFVM_SOURCE_DIR) + "/examples/tcp_syn.pkt";
const std::string kTelnetSyn = std::string(BPFVM_SOURCE_DIR) + "/examples/telnet_syn.pkt";
const std::string kTailCalls = std::string(BPFVM_BINARY_DIR) + "/tests/corpus/tail_calls.o";

TEST(CliObject, RunsTheExampleWithAPacketAndDumpsMaps) {
  Proc p = run("bpfvm", {"run", kCounterObj, "--packet", kTcpSyn, "--dump-maps", "--no-verify"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(last_line(p.out), "0x2");
  EXPECT_NE(p.err.find("map '.bss': array"), std::string::npos) << p.err;
  // One TCP packet of 54 bytes in counters[0]: packets = 1, bytes = 0x36.
  EXPECT_NE(p.err.find("00000000 => 01000000000000003600000000000000"), std::string::npos) << p.err;

  Proc d = run("bpfvm", {"run", kCounterObj, "--packet", kTelnetSyn, "--repeat", "3", "--dump-maps",
                         "--json", "--no-verify"});
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
  Proc p =
      run("bpfvm", {"run", kCounterObj, "--packet", kTcpSyn, "--packet-out", out.string(), "--no-verify"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(read_text(out), read_text(kTcpSyn));
}

TEST(CliObject, SelectsProgramsBySectionNameOrFunction) {
  Proc many = run("bpfvm", {"run", kTailCalls, "--packet", kTcpSyn, "--no-verify"});
  EXPECT_EQ(many.exit_code, 2);
  EXPECT_NE(many.err.find("3 programs"), std::string::npos) << many.err;
  EXPECT_NE(many.err.find("handle_udp"), std::string::npos) << many.err;
  Proc unknown = run("bpfvm", {"run", kTailCalls, "--program", "nope", "--packet", kTcpSyn, "--no-verify"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("no program named 'nope'"), std::string::npos) << unknown.err;
  Proc sec = run("bpfvm", {"run", kCounterObj, "--section", "xdp", "--packet", kTcpSyn, "--no-verify"});
  EXPECT_EQ(sec.exit_code, 0) << sec.err;
  Proc nosec = run("bpfvm", {"run", kCounterObj, "--section", "tc", "--packet", kTcpSyn, "--no-verify"});
  EXPECT_EQ(nosec.exit_code, 2);
  EXPECT_NE(nosec.err.find("no program in section 'tc'"), std::string::npos) << nosec.err;
}

TEST(CliObject, TypeOverrideAndErrors) {
  TempDir d;
  // As a socket filter the program gets a __sk_buff: what it reads as xdp_md data/data_end are
  // len (40) and pkt_type (3), so its bounds check fails and it returns XDP_ABORTED (0).
  Proc sf = run("bpfvm", {"run", kCounterObj, "--type", "socket_filter", "--packet", kTelnetSyn,
                          "--no-verify"});
  EXPECT_EQ(sf.exit_code, 0) << sf.err;
  EXPECT_EQ(last_line(sf.out), "0x0");
  Proc bad = run("bpfvm", {"run", kCounterObj, "--type", "frobnicator", "--packet", kTcpSyn, "--no-verify"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown program type 'frobnicator'"), std::string::npos) << bad.err;
  Proc nofile = run("bpfvm", {"run", kCounterObj, "--packet", "/nonexistent/p.pkt", "--no-verify"});
  EXPECT_EQ(nofile.exit_code, 2);
  EXPECT_NE(nofile.err.find("/nonexistent/p.pkt"), std::string::npos) << nofile.err;
  Proc tiny = run("bpfvm", {"run", kCounterObj, "--packet", d.file("tiny.pkt", "abc").string(),
                            "--no-verify"});
  EXPECT_EQ(tiny.exit_code, 2);
  EXPECT_NE(tiny.err.find("3 bytes"), std::string::npos) << tiny.err;
  Proc nopkt = run("bpfvm", {"run", kCounterObj, "--no-verify"});
  EXPECT_EQ(nopkt.exit_code, 2);
  // --type on assembly: the program runs with an XDP context.
  fs::path len = d.file("len.asm", "ldxw %r2, [%r1+0]\nldxw %r0, [%r1+4]\nsub %r0, %r2\nexit\n");
  Proc x = run("bpfvm", {"run", len.string(), "--type", "xdp", "--packet", kTcpSyn, "--no-verify"});
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


// ---- verify, and run/bench verifying first ----

// Reads the u64 at r1 + 8: accepted with 16 bytes of memory, rejected with fewer.
constexpr const char* kReadAt8 = "ldxdw %r0, [%r1+8]\nexit\n";
// Two paths, each reading a different uninitialized register: two errors.
constexpr const char* kTwoErrors =
    "ldxb %r3, [%r1+0]\njeq %r3, 0, +2\nmov %r0, %r4\nexit\nmov %r0, %r5\nexit\n";
const std::string kSamples = std::string(BPFVM_SHARED_DIR) + "/ebpf-samples/";

TEST(CliVerify, ExitCodesAndTextVerdicts) {
  TempDir d;
  fs::path ok = d.file("ok.asm", kReadAt8);
  Proc pass = run("bpfvm", {"verify", ok.string(), "--ctx-size", "16"});
  EXPECT_EQ(pass.exit_code, 0) << pass.err;
  EXPECT_EQ(pass.out, "PASS " + ok.string() + " (2 insns)\n");
  // --mem gives the size too; 4 bytes are too few for the read at +8.
  Proc small = run("bpfvm", {"verify", ok.string(), "--mem", "00 01 02 03"});
  EXPECT_EQ(small.exit_code, 1);
  EXPECT_NE(small.out.find("FAIL " + ok.string() + " (2 insns): OutOfBounds at pc 0: "), std::string::npos)
      << small.out;

  fs::path two = d.file("two.asm", kTwoErrors);
  Proc fail = run("bpfvm", {"verify", two.string(), "--ctx-size", "4"});
  EXPECT_EQ(fail.exit_code, 1);
  // Every error, each with its instruction, registers, path and hint.
  for (const char* want : {"FAIL ", ": UninitRegister at pc 2: r4 is read", "error 1/2", "error 2/2",
                           "insn:   2: mov %r0, %r4", "insn:   4: mov %r0, %r5", "regs:   R4=uninit",
                           "path:   1:fallthrough", "path:   1:taken", "hint:   write the register"})
    EXPECT_NE(fail.out.find(want), std::string::npos) << want << "\n" << fail.out;

  EXPECT_EQ(run("bpfvm", {"verify", "/nonexistent/p.o"}).exit_code, 2);
  EXPECT_EQ(run("bpfvm", {"verify"}).exit_code, 2);
  EXPECT_EQ(run("bpfvm", {"verify", ok.string(), "--format", "yaml"}).exit_code, 2);
  EXPECT_EQ(run("bpfvm", {"verify", ok.string(), "--mem", "00", "--ctx-size", "1"}).exit_code, 2);
  // Unreadable input wins over rejections.
  EXPECT_EQ(run("bpfvm", {"verify", two.string(), "/nonexistent/p.o"}).exit_code, 2);
}

TEST(CliVerify, JsonHasEveryErrorAndTheSummary) {
  TempDir d;
  fs::path two = d.file("two.asm", kTwoErrors);
  Proc p = run("bpfvm", {"verify", two.string(), "--ctx-size", "4", "--format", "json", "--stats"});
  EXPECT_EQ(p.exit_code, 1) << p.err;
  auto j = nlohmann::json::parse(p.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << p.out;
  ASSERT_EQ(j["files"].size(), 1u);
  const auto& f = j["files"][0];
  EXPECT_EQ(f["file"], two.string());
  EXPECT_TRUE(f["error"].is_null());
  ASSERT_EQ(f["programs"].size(), 1u);
  const auto& prog = f["programs"][0];
  EXPECT_EQ(prog["verdict"], "rejected");
  EXPECT_EQ(prog["type"], "raw");
  EXPECT_EQ(prog["insns"], 6);
  EXPECT_EQ(prog["ctx_size"], 4);
  ASSERT_EQ(prog["errors"].size(), 2u);
  EXPECT_EQ(prog["errors"][0]["kind"], "UninitRegister");
  EXPECT_EQ(prog["errors"][0]["pc"], 2);
  EXPECT_EQ(prog["errors"][1]["pc"], 4);
  EXPECT_EQ(prog["errors"][1]["insn"], "mov %r0, %r5");
  EXPECT_TRUE(prog["errors"][0]["source"].is_null());
  EXPECT_GE(prog["stats"]["steps"].get<int>(), 6);
  EXPECT_GE(prog["stats"]["peak_states"].get<int>(), 1);
  EXPECT_GT(prog["stats"]["peak_state_bytes"].get<int>(), 0);
  EXPECT_EQ(j["summary"]["stats"]["insns"], 6);
  EXPECT_GT(j["summary"]["stats"]["max_state_bytes"].get<int>(), 0);
  EXPECT_EQ(j["summary"]["programs"], 1);
  EXPECT_EQ(j["summary"]["rejected"], 1);
  EXPECT_EQ(j["summary"]["accepted"], 0);

  // An unreadable file is listed with its error.
  Proc u = run("bpfvm", {"verify", "/nonexistent/p.o", "--format", "json"});
  EXPECT_EQ(u.exit_code, 2);
  auto uj = nlohmann::json::parse(u.out, nullptr, false);
  ASSERT_FALSE(uj.is_discarded()) << u.out;
  EXPECT_NE(uj["files"][0]["error"].get<std::string>().find("/nonexistent/p.o"), std::string::npos);
  EXPECT_EQ(uj["summary"]["unreadable"], 1);
}

TEST(CliVerify, ElfObjectsWithMapsAndSourceLines) {
  // sockex3: five socket filters, a prog array and hash maps, all accepted.
  Proc ok = run("bpfvm", {"verify", kSamples + "linux/sockex3_kern.o"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("PASS " + kSamples + "linux/sockex3_kern.o socket/0/socket/0 (34 insns)"),
            std::string::npos)
      << ok.out;
  EXPECT_EQ(std::count(ok.out.begin(), ok.out.end(), '\n'), 5);
  // nullmapref: a map lookup's result written without a null check; the source line is shown.
  Proc bad = run("bpfvm", {"verify", kSamples + "build/nullmapref.o", "--format", "json"});
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  auto j = nlohmann::json::parse(bad.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << bad.out;
  const auto& e = j["files"][0]["programs"][0]["errors"][0];
  EXPECT_EQ(e["kind"], "NullDeref");
  EXPECT_EQ(e["source"]["line"], 23);
  EXPECT_EQ(e["source"]["text"], "*value = 1;");
  Proc text = run("bpfvm", {"verify", kSamples + "build/nullmapref.o"});
  EXPECT_NE(text.out.find("source: nullmapref.c:23: *value = 1;"), std::string::npos) << text.out;
  // Selection and the corpus objects of the build: every program of tail_calls.o is accepted.
  Proc sel = run("bpfvm", {"verify", kTailCalls, "--program", "handle_udp"});
  EXPECT_EQ(sel.exit_code, 0) << sel.out;
  EXPECT_EQ(std::count(sel.out.begin(), sel.out.end(), '\n'), 1) << sel.out;
  EXPECT_EQ(run("bpfvm", {"verify", kTailCalls, "--section", "nope"}).exit_code, 2);
}

TEST(CliVerify, SeveralFilesGiveProgressAndASummaryTable) {
  TempDir d;
  fs::path ok = d.file("ok.asm", "mov %r0, 0\nexit\n");
  fs::path two = d.file("two.asm", kTwoErrors);
  Proc p = run("bpfvm", {"verify", ok.string(), two.string(), kTailCalls, "--stats", "--ctx-size", "4"});
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_NE(p.err.find("[1/3] " + ok.string() + ": 1 programs, 1 accepted, 0 rejected"), std::string::npos)
      << p.err;
  EXPECT_NE(p.err.find("[3/3] " + kTailCalls + ": 3 programs, 3 accepted"), std::string::npos) << p.err;
  EXPECT_NE(p.out.find("files  programs  accepted  rejected  not linked  unreadable"), std::string::npos)
      << p.out;
  // 3 files, 5 programs, 4 accepted, 1 rejected, 0 not linked, 0 unreadable.
  EXPECT_NE(p.out.find("     3         5         4         1           0           0"), std::string::npos)
      << p.out;
  EXPECT_NE(p.out.find("  stats: "), std::string::npos) << p.out;
  EXPECT_NE(p.out.find(" steps, peak "), std::string::npos) << p.out;
  EXPECT_NE(p.out.find(" of abstract state), longest loop "), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("\nanalysis: "), std::string::npos) << p.out;
  Proc log = run("bpfvm", {"verify", ok.string(), "--log"});
  EXPECT_EQ(log.exit_code, 0);
  EXPECT_NE(log.out.find("  log:\n"), std::string::npos) << log.out;
  EXPECT_GT(log.out.size(), std::string("PASS " + ok.string() + " (2 insns)\n  log:\n").size()) << log.out;
}

TEST(CliVerify, RunRefusesRejectedProgramsUnlessNoVerify) {
  TempDir d;
  fs::path prog = d.file("read8.asm", kReadAt8);
  // 4 bytes: rejected, not run; the diagnostic is on stderr.
  Proc refused = run("bpfvm", {"run", prog.string(), "--mem", "00 01 02 03"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(refused.out.empty()) << refused.out;
  EXPECT_NE(refused.err.find("verifier: rejected (2 insns, "), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("OutOfBounds at pc 0"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("not running it"), std::string::npos) << refused.err;
  // --no-verify runs it in checked mode, which faults at run time.
  Proc checked = run("bpfvm", {"run", prog.string(), "--mem", "00 01 02 03", "--no-verify"});
  EXPECT_EQ(checked.exit_code, 1);
  EXPECT_EQ(checked.err.find("verifier:"), std::string::npos) << checked.err;
  EXPECT_NE(checked.err.find("PC 0"), std::string::npos) << checked.err;
  // An ELF object's program likewise (the whole object path).
  Proc obj = run("bpfvm", {"run", prog.string(), "--type", "raw", "--mem", "00 01 02 03"});
  EXPECT_EQ(obj.exit_code, 1);
  EXPECT_NE(obj.err.find("verifier: rejected"), std::string::npos) << obj.err;
  EXPECT_TRUE(obj.out.empty()) << obj.out;
}

TEST(CliVerify, AcceptedProgramsRunUnchecked) {
  TempDir d;
  fs::path prog = d.file("read8.asm", kReadAt8);
  const std::string mem = "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f";
  Proc p = run("bpfvm", {"run", prog.string(), "--mem", mem});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(p.out, "0xf0e0d0c0b0a0908\n");
  EXPECT_NE(p.err.find("verifier: accepted (2 insns, "), std::string::npos) << p.err;
  Proc b = run("bpfvm", {"bench", prog.string(), "--mem", mem, "--repeat", "10"});
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("engine: jit (unchecked)"), std::string::npos) << b.out;
  Proc nv = run("bpfvm", {"bench", prog.string(), "--mem", mem, "--repeat", "10", "--no-verify"});
  EXPECT_NE(nv.out.find("engine: jit (checked)"), std::string::npos) << nv.out;
  // A rejected program is benchmarked in checked mode, with a note.
  Proc rb = run("bpfvm", {"bench", prog.string(), "--mem", "00 01 02 03 04 05 06 07 08", "--repeat", "10",
                          "--no-verify"});
  EXPECT_EQ(rb.exit_code, 1);  // checked mode catches the read past the end
  Proc two = run("bpfvm", {"bench", d.file("two.asm", kTwoErrors).string(), "--mem", "01", "--repeat", "3"});
  EXPECT_NE(two.err.find("bench: running the unverified program in checked mode"), std::string::npos)
      << two.err;
  EXPECT_NE(two.out.find("engine: jit (checked)"), std::string::npos) << two.out;
  // ELF: every program of tail_calls.o is accepted; bench reports the mode of the run.
  Proc tc = run("bpfvm", {"bench", kTailCalls, "--program", "handle_udp", "--packet", kTcpSyn,
                          "--repeat", "5"});
  EXPECT_EQ(tc.exit_code, 0) << tc.err;
  EXPECT_NE(tc.err.find("verifier: accepted"), std::string::npos) << tc.err;
}

TEST(CliVerify, ConformanceDataFilesFallBackToCheckedMode) {
  // callx is not modelled by the verifier: rejected, yet the .data file runs (checked) and passes.
  std::string f = shared_dir() + "/conformance/tests/callx.data";
  Proc p = run("bpfvm", {"run", f});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.err.find("verifier: rejected"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("conformance test file: running the unverified program in checked mode"),
            std::string::npos)
      << p.err;
  // An accepted one runs unchecked after the verdict.
  Proc ok = run("bpfvm", {"run", shared_dir() + "/conformance/tests/mem-len.data"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.err.find("verifier: accepted"), std::string::npos) << ok.err;
  // The same program as plain assembly would be refused.
  Proc v = run("bpfvm", {"verify", f});
  EXPECT_EQ(v.exit_code, 1);
}

TEST(CliVerify, ReadmeExampleShowsTheVerdict) {
  // The README's main command verifies the bundled object first, prints the verdict, and runs the
  // accepted program in unchecked mode.
  Proc p = run("bpfvm", {"run", kCounterObj, "--packet", kTcpSyn, "--dump-maps"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.err.find("verifier: accepted"), std::string::npos) << p.err;
  // ... on the JIT, the default engine, without run-time checks.
  EXPECT_NE(p.err.find("engine: jit (unchecked)"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("00000000 => 01000000000000003600000000000000"), std::string::npos) << p.err;
  EXPECT_EQ(last_line(p.out), "0x2");
}

}  // namespace
}  // namespace bpfvm
