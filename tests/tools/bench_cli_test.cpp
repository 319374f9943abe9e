// `bpfvm bench`: the program and input options of `bpfvm run` (--program, --section, --packet,
// --mem, --type), --engine and --repeat/--reuse-context, on the performance corpus' objects
// (bench/programs) and an assembly program. Nothing is timed: the tests check what is run and that
// the result is `run`'s.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "tests/tools/cli_proc.h"

namespace bpfvm {
namespace {

using namespace cli_test;

const std::string kObjects = std::string(BPFVM_BINARY_DIR) + "/bench/programs";
const std::string kFnv = kObjects + "/fnv1a.o";
const std::string kAsm = std::string(BPFVM_SOURCE_DIR) + "/bench/programs/fnv1a.asm";

// A 64-byte packet whose bytes are their index.
std::string packet_file(const TempDir& d) {
  std::string pkt;
  for (int i = 0; i < 64; i++)
    pkt += static_cast<char>(i);
  return d.file("pkt.bin", pkt).string();
}

// The value of the `key: value` line of a bench report, or "" when absent.
std::string field(const std::string& out, const std::string& key) {
  const std::string k = "\n" + key + ": ";
  auto at = ("\n" + out).find(k);
  if (at == std::string::npos) return "";
  auto start = at + k.size() - 1;
  return out.substr(start, out.find('\n', start) - start);
}

TEST(BenchCli, RunsAnObjectsProgramOnAPacketAndPrintsRunsResult) {
  TempDir d;
  const std::string pkt = packet_file(d);
  Proc r = run("bpfvm", {"run", kFnv, "--packet", pkt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Proc b = run("bpfvm", {"bench", kFnv, "--packet", pkt, "--repeat", "20", "--engine", "interp"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(last_line(b.out), last_line(r.out));
  EXPECT_EQ(field(b.out, "engine"), "interp (unchecked)") << b.out;
  EXPECT_EQ(field(b.out, "program"), "bench_fnv1a (xdp)") << b.out;
  EXPECT_EQ(field(b.out, "runs"), "20") << b.out;
  EXPECT_FALSE(field(b.out, "insns").empty()) << b.out;
  EXPECT_FALSE(field(b.out, "ns/run").empty()) << b.out;
}

TEST(BenchCli, SelectsTheProgramByNameOrSection) {
  TempDir d;
  const std::string pkt = packet_file(d);
  Proc by_name = run("bpfvm", {"bench", kObjects + "/calls.o", "--program", "bench_calls", "--packet", pkt,
                               "--repeat", "3"});
  ASSERT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_EQ(field(by_name.out, "program"), "bench_calls (xdp)");
  Proc by_section =
      run("bpfvm", {"bench", kObjects + "/calls.o", "--section", "xdp", "--packet", pkt, "--repeat", "3"});
  ASSERT_EQ(by_section.exit_code, 0) << by_section.err;
  EXPECT_EQ(last_line(by_section.out), last_line(by_name.out));

  Proc missing = run("bpfvm", {"bench", kFnv, "--program", "nope", "--packet", pkt});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no program named 'nope'"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("bench_fnv1a"), std::string::npos) << "lists the programs: " << missing.err;
  Proc no_section = run("bpfvm", {"bench", kFnv, "--section", "tc", "--packet", pkt});
  EXPECT_EQ(no_section.exit_code, 2);
  EXPECT_NE(no_section.err.find("no program in section 'tc'"), std::string::npos) << no_section.err;
}

TEST(BenchCli, TypeOverridesTheSectionsType) {
  TempDir d;
  // As a tc program, ctx->data (offset 0 of xdp_md) is __sk_buff's len: the verifier rejects the
  // packet access, and bench runs it in checked mode with a note instead of refusing.
  Proc b = run("bpfvm", {"bench", kFnv, "--type", "sched_cls", "--packet", packet_file(d), "--repeat", "2"});
  EXPECT_EQ(field(b.out, "program"), "bench_fnv1a (sched_cls)") << b.out << b.err;
  EXPECT_NE(b.err.find("verifier: rejected"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("running the unverified program in checked mode"), std::string::npos) << b.err;
  Proc bad = run("bpfvm", {"bench", kFnv, "--type", "no_such_type"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown program type 'no_such_type'"), std::string::npos) << bad.err;
}

TEST(BenchCli, TakesMemoryForRawPrograms) {
  Proc r = run("bpfvm", {"run", kAsm, "--mem", "68 65 6c 6c 6f"});
  Proc b = run("bpfvm", {"bench", kAsm, "--mem", "68 65 6c 6c 6f", "--repeat", "5"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(last_line(b.out), last_line(r.out));
  EXPECT_EQ(last_line(b.out), "0xa430d84680aabd0b");
  EXPECT_EQ(field(b.out, "runs"), "5");
  EXPECT_NE(field(b.out, "insns"), "") << b.out;
  // The same program as an explicit raw-type object: the object path, same result.
  Proc t = run("bpfvm", {"bench", kAsm, "--type", "raw", "--mem", "68 65 6c 6c 6f", "--repeat", "5"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(last_line(t.out), "0xa430d84680aabd0b");
}

TEST(BenchCli, RunsEitherEngineWithTheSameResult) {
  TempDir d;
  const std::string pkt = packet_file(d);
  Proc interp = run("bpfvm", {"bench", kFnv, "--engine", "interp", "--packet", pkt, "--repeat", "2"});
  ASSERT_EQ(interp.exit_code, 0) << interp.err;
  EXPECT_EQ(field(interp.out, "engine"), "interp (unchecked)") << interp.out;
  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, {"--no-blinding"}}) {
    std::vector<std::string> args = {"bench", kFnv, "--engine", "jit", "--packet", pkt, "--repeat", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    Proc jit = run("bpfvm", args);
    ASSERT_EQ(jit.exit_code, 0) << jit.err;
    EXPECT_EQ(field(jit.out, "engine"), "jit (unchecked)") << jit.out;
    EXPECT_EQ(last_line(jit.out), last_line(interp.out));
  }
  Proc raw_jit = run("bpfvm", {"bench", kAsm, "--engine", "jit", "--mem", "68 65 6c 6c 6f", "--repeat", "3"});
  ASSERT_EQ(raw_jit.exit_code, 0) << raw_jit.err;
  EXPECT_EQ(last_line(raw_jit.out), "0xa430d84680aabd0b");
  EXPECT_EQ(field(raw_jit.out, "engine"), "jit (unchecked)") << raw_jit.out;
}

TEST(BenchCli, ChecksTheEngine) {
  TempDir d;
  for (const std::string& prog : {kFnv, kAsm}) {
    Proc bad = run("bpfvm", {"bench", prog, "--engine", "warp", "--packet", packet_file(d)});
    EXPECT_EQ(bad.exit_code, 2) << prog;
    EXPECT_NE(bad.err.find("unknown engine 'warp'"), std::string::npos) << bad.err;
  }
}

TEST(BenchCli, ReuseContextRunsOneContextWithTheSameResult) {
  TempDir d;
  const std::string pkt = packet_file(d);
  Proc fresh = run("bpfvm", {"bench", kObjects + "/crc32.o", "--packet", pkt, "--repeat", "50"});
  Proc reused =
      run("bpfvm", {"bench", kObjects + "/crc32.o", "--packet", pkt, "--repeat", "50", "--reuse-context"});
  ASSERT_EQ(reused.exit_code, 0) << reused.err;
  EXPECT_EQ(last_line(reused.out), last_line(fresh.out));
  EXPECT_EQ(field(reused.out, "runs"), "50 (one context, timed as a batch)") << reused.out;
}

TEST(BenchCli, RejectsBadRepeatsAndMissingPackets) {
  TempDir d;
  EXPECT_EQ(run("bpfvm", {"bench", kFnv, "--packet", packet_file(d), "--repeat", "0"}).exit_code, 2);
  EXPECT_EQ(run("bpfvm", {"bench", kFnv, "--packet", packet_file(d), "--repeat", "-3"}).exit_code, 2);
  // An XDP program needs a packet of at least an Ethernet header, as BPF_PROG_TEST_RUN does.
  Proc nopkt = run("bpfvm", {"bench", kFnv});
  EXPECT_EQ(nopkt.exit_code, 2);
  EXPECT_NE(nopkt.err.find("packet"), std::string::npos) << nopkt.err;
  Proc unreadable = run("bpfvm", {"bench", kFnv, "--packet", (d.path() / "absent.bin").string()});
  EXPECT_EQ(unreadable.exit_code, 2) << unreadable.err;
}

}  // namespace
}  // namespace bpfvm
