// libbpfvm-preload.so with unmodified programs, run as an ordinary user: Debian's bpftool loads,
// pins, runs, shows and dumps user-space objects, and a libbpf application loads an object and
// test-runs it. When the test runs as root it drops to nobody (65534) in a forked child, with the
// files copied to a directory that user can read.
#include <dlfcn.h>
#include <grp.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

constexpr uid_t kNobody = 65534;
const char* kBpftool = "/usr/sbin/bpftool";

struct Output {
  int status = -1;
  std::string out, err;
};

// Drains a pipe into a string.
std::string drain(int fd) {
  std::string s;
  std::array<char, 4096> buf;
  ssize_t n;
  while ((n = read(fd, buf.data(), buf.size())) > 0)
    s.append(buf.data(), size_t(n));
  close(fd);
  return s;
}

class Preload : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kBpftool))
        << kBpftool << " is missing (scripts/setup.sh installs Debian's bpftool)";
    char tmpl[] = "/tmp/bpfvm-preload-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const fs::path build = BPFVM_BINARY_DIR;
    for (const fs::path& f :
         {fs::path(BPFVM_PRELOAD_PATH), fs::path(BPFVM_LIBBPF_APP_PATH), build / "examples" / "xdp_counter.o",
          fs::path(BPFVM_SOURCE_DIR) / "examples/tcp_syn.pkt",
          fs::path(BPFVM_SOURCE_DIR) / "examples/telnet_syn.pkt"}) {
      ASSERT_TRUE(fs::exists(f)) << f << " is missing";
      fs::copy_file(f, dir_ / f.filename(), fs::copy_options::overwrite_existing);
    }
    // World-writable: the unprivileged user creates the state directory (the emulated bpffs) here.
    fs::permissions(dir_, fs::perms::all);
    for (const auto& e : fs::directory_iterator(dir_))
      fs::permissions(e.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs argv with the preload library as an ordinary user (nobody when we are root).
  Output run(const std::vector<std::string>& argv) {
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) return {};
    pid_t pid = fork();
    if (pid == 0) {
      dup2(out[1], 1);
      dup2(err[1], 2);
      close(out[0]);
      close(err[0]);
      if (chdir(dir_.c_str()) != 0) _exit(126);
      if (geteuid() == 0 && (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0))
        _exit(126);
      std::string preload = (dir_ / "libbpfvm-preload.so").string();
      std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/bin",
                                      "BPFVM_STATE_DIR=" + (dir_ / "state").string()};
#ifdef BPFVM_ASAN_RUNTIME
      // Sanitizer build: the ASan runtime must come first; bpftool's own leaks are not ours.
      preload = std::string(BPFVM_ASAN_RUNTIME) + " " + preload;
      env.push_back("ASAN_OPTIONS=detect_leaks=0");
#endif
      env.push_back("LD_PRELOAD=" + preload);
      std::vector<char*> a, e;
      for (const auto& s : argv)
        a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      for (const auto& s : env)
        e.push_back(const_cast<char*>(s.c_str()));
      e.push_back(nullptr);
      execve(a[0], a.data(), e.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    Output o;
    o.err = drain(err[0]);  // the programs write little: no deadlock between the two pipes
    o.out = drain(out[0]);
    waitpid(pid, &o.status, 0);
    o.status = WIFEXITED(o.status) ? WEXITSTATUS(o.status) : -1;
    return o;
  }

  Output bpftool(const std::vector<std::string>& args) {
    std::vector<std::string> argv{kBpftool};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }

  nlohmann::json bpftool_json(const std::vector<std::string>& args) {
    std::vector<std::string> a{"-j"};
    a.insert(a.end(), args.begin(), args.end());
    Output o = bpftool(a);
    EXPECT_EQ(o.status, 0) << o.err;
    auto j = nlohmann::json::parse(o.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << o.out;
    return j;
  }

  std::string file(const char* name) const {
    return (dir_ / name).string();
  }

  fs::path dir_;
};

TEST_F(Preload, TheChildRunsAsAnOrdinaryUser) {
  Output o = run({"/usr/bin/id", "-u"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out, "0\n");
}

TEST_F(Preload, BpftoolLoadsPinsRunsShowsAndDumpsUserSpaceObjects) {
  const std::string pin = "/sys/fs/bpf/bpfvm_xdp_counter";
  Output load = bpftool({"prog", "load", file("xdp_counter.o"), pin});
  ASSERT_EQ(load.status, 0) << load.out << load.err;

  // Three telnet SYNs are dropped (XDP_DROP = 1), five other TCP SYNs pass (XDP_PASS = 2).
  Output drop = bpftool({"prog", "run", "pinned", pin, "data_in", file("telnet_syn.pkt"), "repeat", "3"});
  ASSERT_EQ(drop.status, 0) << drop.err;
  EXPECT_NE(drop.out.find("Return value: 1,"), std::string::npos) << drop.out;
  Output pass = bpftool({"prog", "run", "pinned", pin, "data_in", file("tcp_syn.pkt"), "repeat", "5"});
  ASSERT_EQ(pass.status, 0) << pass.err;
  EXPECT_NE(pass.out.find("Return value: 2,"), std::string::npos) << pass.out;

  auto prog = bpftool_json({"prog", "show", "pinned", pin});
  EXPECT_EQ(prog.value("name", ""), "xdp_counter");
  EXPECT_EQ(prog.value("type", ""), "xdp");
  EXPECT_EQ(prog["map_ids"].size(), 2u);

  // The .bss map, found by id from `map show`, holds the counters of both runs.
  auto maps = bpftool_json({"map", "show"});
  std::string bss_id;
  for (const auto& m : maps)
    if (m.value("name", "").ends_with(".bss")) bss_id = std::to_string(m.value("id", 0));
  ASSERT_FALSE(bss_id.empty()) << maps.dump();
  auto dump = bpftool_json({"map", "dump", "id", bss_id});
  ASSERT_TRUE(dump.is_array() && dump.size() == 1) << dump.dump();
  const auto& bss = dump[0]["formatted"]["value"][".bss"];
  ASSERT_TRUE(bss.is_array()) << dump.dump();
  EXPECT_EQ(bss[0]["counters"][0]["packets"], 8) << dump.dump();
  EXPECT_EQ(bss[0]["counters"][0]["bytes"], 8 * 54) << dump.dump();
  EXPECT_EQ(bss[1]["dropped"], 3) << dump.dump();

  // map update from user space, then map lookup and a run see it.
  std::vector<std::string> update{"map", "update", "id", bss_id, "key", "0", "0", "0", "0", "value"};
  for (int i = 0; i < 72; i++)
    update.push_back(i == 64 ? "7" : "0");
  Output up = bpftool(update);
  ASSERT_EQ(up.status, 0) << up.err;
  auto look = bpftool_json({"map", "lookup", "id", bss_id, "key", "0", "0", "0", "0"});
  EXPECT_EQ(look["formatted"]["value"][".bss"][1]["dropped"], 7) << look.dump();
  EXPECT_EQ(look["formatted"]["value"][".bss"][0]["counters"][0]["packets"], 0) << look.dump();
  Output again = bpftool({"prog", "run", "pinned", pin, "data_in", file("telnet_syn.pkt")});
  ASSERT_EQ(again.status, 0) << again.err;
  auto after = bpftool_json({"map", "lookup", "id", bss_id, "key", "0", "0", "0", "0"});
  EXPECT_EQ(after["formatted"]["value"][".bss"][1]["dropped"], 8) << after.dump();

  // The .rodata map is frozen: bpftool's update fails as on the kernel.
  std::string rodata_id;
  for (const auto& m : maps)
    if (m.value("name", "").ends_with(".rodata")) rodata_id = std::to_string(m.value("id", 0));
  Output frozen = bpftool({"map", "update", "id", rodata_id, "key", "0", "0", "0", "0", "value", "1", "0"});
  EXPECT_NE(frozen.status, 0) << frozen.out;
}

// Every bpftool command is a new process: the pinned map lives in the state directory between them.
TEST_F(Preload, BpftoolCreatesAndEditsAPinnedHashMapAcrossProcesses) {
  const std::string pin = "/sys/fs/bpf/bpfvm_flows";
  Output create = bpftool(
      {"map", "create", pin, "type", "hash", "key", "4", "value", "8", "entries", "16", "name", "flows"});
  ASSERT_EQ(create.status, 0) << create.err;
  for (const char* k : {"1", "2", "3"}) {
    Output up = bpftool({"map", "update", "pinned", pin, "key", k, "0", "0", "0", "value", k, "0", "0", "0",
                         "0", "0", "0", "1"});
    ASSERT_EQ(up.status, 0) << up.err;
  }
  Output dup = bpftool({"map", "update", "pinned", pin, "key", "1", "0", "0", "0", "value", "9", "0", "0",
                        "0", "0", "0", "0", "0", "noexist"});
  EXPECT_NE(dup.status, 0) << "BPF_NOEXIST on an existing key must fail";
  Output del = bpftool({"map", "delete", "pinned", pin, "key", "2", "0", "0", "0"});
  ASSERT_EQ(del.status, 0) << del.err;
  auto dump = bpftool_json({"map", "dump", "pinned", pin});
  ASSERT_TRUE(dump.is_array()) << dump.dump();
  std::set<std::string> keys;
  for (const auto& e : dump)
    keys.insert(e["key"][0].get<std::string>());
  EXPECT_EQ(keys, (std::set<std::string>{"0x01", "0x03"})) << dump.dump();
  auto look = bpftool_json({"map", "lookup", "pinned", pin, "key", "3", "0", "0", "0"});
  EXPECT_EQ(look["value"][0], "0x03") << look.dump();
  EXPECT_EQ(look["value"][7], "0x01") << look.dump();
  auto show = bpftool_json({"map", "show", "pinned", pin});
  EXPECT_EQ(show.value("name", ""), "flows");
  EXPECT_EQ(show.value("type", ""), "hash");
  EXPECT_EQ(show.value("max_entries", 0), 16);
  // rm of the pin (unlink) removes it: the next lookup finds nothing.
  Output rm = run({"/bin/rm", pin});
  EXPECT_EQ(rm.status, 0) << rm.err;
  Output gone = bpftool({"map", "show", "pinned", pin});
  EXPECT_NE(gone.status, 0) << gone.out;
}

TEST_F(Preload, ALibbpfApplicationLoadsAndTestRunsAnObjectAsAnOrdinaryUser) {
  Output o = run(
      {file("bpfvm_sys_libbpf_app"), file("xdp_counter.o"), "xdp_counter", file("tcp_syn.pkt"), "4", ".bss"});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("retval 2\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("data_out 54\n"), std::string::npos) << o.out;
  // counters[TCP] = {packets 4, bytes 4 * 54 = 0xd8}
  EXPECT_NE(o.out.find("map .bss key0: 04 00 00 00 00 00 00 00 d8 00 00 00 00 00 00 00"), std::string::npos)
      << o.out;
}

// The library's syscall() called directly (dlopen'ed without interposing anything): emulated
// commands are served, others fail with ENOTSUP, or go to the kernel with BPFVM_PASSTHROUGH=1,
// and other system calls pass through.
TEST(PreloadSyscall, ServesEmulatedCommandsAndRefusesOrPassesTheOthers) {
  // The library's copy of the emulation keeps its ids in a private state directory.
  char tmpl[] = "/tmp/bpfvm-syscall-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  setenv("BPFVM_STATE_DIR", tmpl, 1);
  void* lib = dlopen(BPFVM_PRELOAD_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  auto sys = reinterpret_cast<long (*)(long, ...)>(dlsym(lib, "syscall"));
  ASSERT_NE(sys, nullptr);
  EXPECT_EQ(sys(SYS_getpid), long(getpid()));

  bpf_attr a{};
  a.map_type = BPF_MAP_TYPE_ARRAY;
  a.key_size = 4;
  a.value_size = 8;
  a.max_entries = 1;
  long fd = sys(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a);
  EXPECT_GE(fd, 0) << strerror(errno);
  if (fd >= 0) close(int(fd));

  bpf_attr link{};
  unsetenv("BPFVM_PASSTHROUGH");
  errno = 0;
  EXPECT_EQ(sys(SYS_bpf, BPF_LINK_CREATE, &link, sizeof link), -1);
  EXPECT_EQ(errno, ENOTSUP);
  setenv("BPFVM_PASSTHROUGH", "1", 1);
  errno = 0;
  EXPECT_EQ(sys(SYS_bpf, BPF_LINK_CREATE, &link, sizeof link), -1);  // the kernel refuses fd 0
  EXPECT_NE(errno, ENOTSUP);
  unsetenv("BPFVM_PASSTHROUGH");
  unsetenv("BPFVM_STATE_DIR");
  dlclose(lib);
  std::error_code ec;
  fs::remove_all(tmpl, ec);
}

}  // namespace
