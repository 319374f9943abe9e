// bpf(2) in user space (sys/bpf_sys.h): the same requests to the kernel's bpf(2) and to bpfvm_bpf
// give the same errno and the same results; fds, ids, pins and logs behave as the kernel's.
#include "sys/bpf_sys.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "maps/map_set.h"
#include "tests/kernel/kernel_runner.h"

namespace {

using Bpf = std::function<long(int, bpf_attr*, unsigned)>;

long kernel_bpf(int cmd, bpf_attr* a, unsigned size) {
  return syscall(SYS_bpf, cmd, a, size);
}
long user_bpf(int cmd, bpf_attr* a, unsigned size) {
  return bpfvm_bpf(cmd, a, size);
}

// Result of one call: the return value, or -errno.
long call(const Bpf& bpf, int cmd, bpf_attr& a, unsigned size = sizeof(bpf_attr)) {
  errno = 0;
  long r = bpf(cmd, &a, size);
  return r < 0 ? -errno : r;
}

uint64_t ptr(const void* p) {
  return reinterpret_cast<uint64_t>(p);
}

long map_create(const Bpf& bpf,
                uint32_t type,
                uint32_t key,
                uint32_t value,
                uint32_t entries,
                uint32_t flags = 0) {
  bpf_attr a{};
  a.map_type = type;
  a.key_size = key;
  a.value_size = value;
  a.max_entries = entries;
  a.map_flags = flags;
  return call(bpf, BPF_MAP_CREATE, a);
}

long elem(const Bpf& bpf, int cmd, int fd, const void* key, void* value, uint64_t flags = 0) {
  bpf_attr a{};
  a.map_fd = uint32_t(fd);
  a.key = ptr(key);
  a.value = ptr(value);
  a.flags = flags;
  return call(bpf, cmd, a);
}

// Instruction encoders (linux/filter.h style).
bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn mov_imm(uint8_t dst, int32_t imm) {
  return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
bpf_insn exit_insn() {
  return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}
bpf_insn call_helper(int32_t id) {
  return insn(BPF_JMP | BPF_CALL, 0, 0, 0, id);
}

struct ProgLoad {
  uint32_t type = BPF_PROG_TYPE_XDP;
  uint32_t attach = 0;  // expected_attach_type
  std::vector<bpf_insn> insns;
  std::string license = "GPL";
  std::vector<char> log;
};

long prog_load(const Bpf& bpf, ProgLoad& p) {
  bpf_attr a{};
  a.prog_type = p.type;
  a.expected_attach_type = p.attach;
  a.insns = ptr(p.insns.data());
  a.insn_cnt = uint32_t(p.insns.size());
  a.license = ptr(p.license.c_str());
  if (!p.log.empty()) {
    a.log_buf = ptr(p.log.data());
    a.log_size = uint32_t(p.log.size());
    a.log_level = 1;
  }
  return call(bpf, BPF_PROG_LOAD, a);
}

// An XDP program that counts its runs in slot 0 of an array map and returns XDP_PASS.
std::vector<bpf_insn> counting_program(int map_fd) {
  return {
      insn(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0),  // *(u32*)(fp-4) = 0
      insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd),
      insn(0, 0, 0, 0, 0),
      insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
      insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
      call_helper(BPF_FUNC_map_lookup_elem),
      insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 2, 0),
      mov_imm(BPF_REG_1, 1),
      insn(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_0, BPF_REG_1, 0, BPF_ADD),
      mov_imm(BPF_REG_0, XDP_PASS),
      exit_insn(),
  };
}

struct TestRun {
  long rc = 0;
  uint32_t retval = 0;
  std::vector<uint8_t> data_out;
};

TestRun test_run(const Bpf& bpf, int prog_fd, std::vector<uint8_t> data, uint32_t repeat = 1) {
  TestRun r;
  r.data_out.resize(data.size() + 256);
  bpf_attr a{};
  a.test.prog_fd = uint32_t(prog_fd);
  a.test.data_in = ptr(data.data());
  a.test.data_size_in = uint32_t(data.size());
  a.test.data_out = ptr(r.data_out.data());
  a.test.data_size_out = uint32_t(r.data_out.size());
  a.test.repeat = repeat;
  r.rc = call(bpf, BPF_PROG_TEST_RUN, a);
  r.retval = a.test.retval;
  r.data_out.resize(std::min<size_t>(a.test.data_size_out, r.data_out.size()));
  return r;
}

std::vector<uint8_t> packet() {
  std::vector<uint8_t> p(64);
  for (size_t i = 0; i < p.size(); i++)
    p[i] = uint8_t(i * 7);
  p[12] = 0x08;
  p[13] = 0x00;
  return p;
}

// A private state directory for the emulated bpffs, so tests never see each other's pins.
class UserBpf : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("bpfvm-sys-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    bpfvm::sys::configure({dir_.string(), "/sys/fs/bpf"});
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path dir_;
};

class KernelAndUser : public UserBpf {
 protected:
  void SetUp() override {
    std::string why;
    if (!bpfvm::kernel::kernel_bpf_available(&why)) GTEST_SKIP() << "kernel bpf(2) not available: " << why;
    UserBpf::SetUp();
  }
  // Runs `f` against both implementations and expects the same result (an errno, or success).
  void same(const std::string& what, const std::function<long(const Bpf&)>& f) {
    long k = f(kernel_bpf), u = f(user_bpf);
    auto show = [](long v) { return v < 0 ? std::string(strerrorname_np(int(-v)) ?: "?") : "success"; };
    EXPECT_EQ(show(k), show(u)) << what << ": kernel " << k << ", bpfvm " << u;
  }
  // Closes fds a lambda opened (results >= 0 are fds for create commands).
  static long closing(long fd) {
    if (fd >= 0) close(int(fd));
    return fd >= 0 ? 0 : fd;
  }
};

TEST_F(KernelAndUser, InvalidMapDefinitionsFailWithTheKernelsErrno) {
  same("unknown map type", [](const Bpf& b) { return closing(map_create(b, 1000, 4, 4, 1)); });
  same("map type 0", [](const Bpf& b) { return closing(map_create(b, 0, 4, 4, 1)); });
  same("oversized hash key",
       [](const Bpf& b) { return closing(map_create(b, BPF_MAP_TYPE_HASH, 1 << 22, 8, 4)); });
  same("oversized array value",
       [](const Bpf& b) { return closing(map_create(b, BPF_MAP_TYPE_ARRAY, 4, 0x80000000u, 1)); });
  same("array key not 4 bytes",
       [](const Bpf& b) { return closing(map_create(b, BPF_MAP_TYPE_ARRAY, 8, 8, 1)); });
  same("zero max_entries", [](const Bpf& b) { return closing(map_create(b, BPF_MAP_TYPE_HASH, 4, 8, 0)); });
  same("zero value size", [](const Bpf& b) { return closing(map_create(b, BPF_MAP_TYPE_HASH, 4, 0, 4)); });
  same("array with BPF_F_NO_PREALLOC",
       [](const Bpf& b) { return closing(map_create(b, BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_NO_PREALLOC)); });
  same("unknown flag bit",
       [](const Bpf& b) { return closing(map_create(b, BPF_MAP_TYPE_HASH, 4, 8, 4, 1u << 30)); });
  same("rdonly and wronly", [](const Bpf& b) {
    return closing(map_create(b, BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_RDONLY | BPF_F_WRONLY));
  });
  same("ringbuf size not a power of 2",
       [](const Bpf& b) { return closing(map_create(b, BPF_MAP_TYPE_RINGBUF, 0, 0, 12288)); });
  same("queue with a key", [](const Bpf& b) { return closing(map_create(b, BPF_MAP_TYPE_QUEUE, 4, 8, 4)); });
  same("lpm trie without NO_PREALLOC",
       [](const Bpf& b) { return closing(map_create(b, BPF_MAP_TYPE_LPM_TRIE, 8, 8, 4)); });
  same("bad map name", [](const Bpf& b) {
    bpf_attr a{};
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = 1;
    std::strcpy(a.map_name, "bad-name");
    return closing(call(b, BPF_MAP_CREATE, a));
  });
}

TEST_F(KernelAndUser, InvalidElementRequestsFailWithTheKernelsErrno) {
  uint32_t key = 7;
  uint64_t value = 1;
  same("lookup on a closed fd",
       [&](const Bpf& b) { return elem(b, BPF_MAP_LOOKUP_ELEM, 999999, &key, &value); });
  same("lookup on an fd that is not a map", [&](const Bpf& b) {
    int fd = open("/dev/null", O_RDONLY);
    long r = elem(b, BPF_MAP_LOOKUP_ELEM, fd, &key, &value);
    close(fd);
    return r;
  });
  auto with_map = [&](const std::function<long(const Bpf&, int)>& f) {
    return [f](const Bpf& b) {
      long fd = map_create(b, BPF_MAP_TYPE_HASH, 4, 8, 4);
      if (fd < 0) return fd;
      long r = f(b, int(fd));
      close(int(fd));
      return r;
    };
  };
  same("lookup with a key at a bad address", with_map([&](const Bpf& b, int fd) {
         return elem(b, BPF_MAP_LOOKUP_ELEM, fd, reinterpret_cast<void*>(8), &value);
       }));
  same("update with a value at a bad address", with_map([&](const Bpf& b, int fd) {
         return elem(b, BPF_MAP_UPDATE_ELEM, fd, &key, reinterpret_cast<void*>(16), BPF_ANY);
       }));
  same("lookup of a missing key",
       with_map([&](const Bpf& b, int fd) { return elem(b, BPF_MAP_LOOKUP_ELEM, fd, &key, &value); }));
  same("delete of a missing key",
       with_map([&](const Bpf& b, int fd) { return elem(b, BPF_MAP_DELETE_ELEM, fd, &key, nullptr); }));
  same("update with BPF_NOEXIST of an existing key", with_map([&](const Bpf& b, int fd) {
         long r = elem(b, BPF_MAP_UPDATE_ELEM, fd, &key, &value, BPF_ANY);
         return r < 0 ? r : elem(b, BPF_MAP_UPDATE_ELEM, fd, &key, &value, BPF_NOEXIST);
       }));
  same("update with BPF_EXIST of a missing key", with_map([&](const Bpf& b, int fd) {
         return elem(b, BPF_MAP_UPDATE_ELEM, fd, &key, &value, BPF_EXIST);
       }));
  same("update with unknown flags",
       with_map([&](const Bpf& b, int fd) { return elem(b, BPF_MAP_UPDATE_ELEM, fd, &key, &value, 42); }));
  same("lookup with BPF_F_LOCK on a map without a lock", with_map([&](const Bpf& b, int fd) {
         return elem(b, BPF_MAP_LOOKUP_ELEM, fd, &key, &value, BPF_F_LOCK);
       }));
  same("get_next_key after the last key", with_map([&](const Bpf& b, int fd) {
         long r = elem(b, BPF_MAP_UPDATE_ELEM, fd, &key, &value, BPF_ANY);
         uint32_t next;
         bpf_attr a{};
         a.map_fd = uint32_t(fd);
         a.key = ptr(&key);
         a.next_key = ptr(&next);
         return r < 0 ? r : call(b, BPF_MAP_GET_NEXT_KEY, a);
       }));
  same("non-zero attr bytes after the command's last field", with_map([&](const Bpf& b, int fd) {
         bpf_attr a{};
         a.map_fd = uint32_t(fd);
         a.key = ptr(&key);
         a.value = ptr(&value);
         reinterpret_cast<uint8_t*>(&a)[40] = 1;
         return call(b, BPF_MAP_LOOKUP_ELEM, a);
       }));
  same("freeze twice", with_map([&](const Bpf& b, int fd) {
         bpf_attr a{};
         a.map_fd = uint32_t(fd);
         long r = call(b, BPF_MAP_FREEZE, a);
         return r < 0 ? r : call(b, BPF_MAP_FREEZE, a);
       }));
  same("update of a frozen map", with_map([&](const Bpf& b, int fd) {
         bpf_attr a{};
         a.map_fd = uint32_t(fd);
         long r = call(b, BPF_MAP_FREEZE, a);
         return r < 0 ? r : elem(b, BPF_MAP_UPDATE_ELEM, fd, &key, &value, BPF_ANY);
       }));
  same("lookup_and_delete on an array", [&](const Bpf& b) {
    long fd = map_create(b, BPF_MAP_TYPE_ARRAY, 4, 8, 4);
    if (fd < 0) return fd;
    uint32_t k = 0;
    long r = elem(b, BPF_MAP_LOOKUP_AND_DELETE_ELEM, int(fd), &k, &value);
    close(int(fd));
    return r;
  });
  same("lookup of an empty prog array slot", [&](const Bpf& b) {
    long fd = map_create(b, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4);
    if (fd < 0) return fd;
    uint32_t k = 1, id = 0;
    long r = elem(b, BPF_MAP_LOOKUP_ELEM, int(fd), &k, &id);
    close(int(fd));
    return r;
  });
  same("map fd by an id that does not exist", [](const Bpf& b) {
    bpf_attr a{};
    a.map_id = 0x7ffffff0;
    return closing(call(b, BPF_MAP_GET_FD_BY_ID, a));
  });
}

TEST_F(KernelAndUser, BadAttributesAndCommandsFailWithTheKernelsErrno) {
  same("unknown command", [](const Bpf& b) {
    bpf_attr a{};
    return call(b, 1000, a);
  });
  same("attr larger than a page", [](const Bpf& b) {
    std::vector<uint8_t> big(8192);
    return b(BPF_MAP_GET_NEXT_ID, reinterpret_cast<bpf_attr*>(big.data()), 8192) < 0 ? -errno : 0;
  });
  same("non-zero bytes past the kernel's union", [](const Bpf& b) {
    std::vector<uint8_t> big(2048);
    auto* a = reinterpret_cast<bpf_attr*>(big.data());
    a->map_type = BPF_MAP_TYPE_ARRAY;
    a->key_size = 4;
    a->value_size = 4;
    a->max_entries = 1;
    big[1500] = 1;
    long r = b(BPF_MAP_CREATE, a, 2048);
    return closing(r < 0 ? -errno : r);
  });
  same("attr at a bad address", [](const Bpf& b) {
    long r = b(BPF_MAP_GET_NEXT_ID, reinterpret_cast<bpf_attr*>(24), sizeof(bpf_attr));
    return r < 0 ? -errno : r;
  });
  same("info_len past the kernel's struct with non-zero bytes", [](const Bpf& b) {
    long fd = map_create(b, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
    if (fd < 0) return fd;
    std::vector<uint8_t> info(2048);
    info[1800] = 1;
    bpf_attr a{};
    a.info.bpf_fd = uint32_t(fd);
    a.info.info = ptr(info.data());
    a.info.info_len = uint32_t(info.size());
    long r = call(b, BPF_OBJ_GET_INFO_BY_FD, a);
    close(int(fd));
    return r;
  });
  same("obj_get of a missing pin", [](const Bpf& b) {
    std::string path = "/sys/fs/bpf/bpfvm-missing-" + std::to_string(getpid());
    bpf_attr a{};
    a.pathname = ptr(path.c_str());
    return closing(call(b, BPF_OBJ_GET, a));
  });
}

// The attach type names the hook, whose context rules apply: a sock_addr program may write
// msg_src_ip4 at sendmsg4, not at connect4.
long load_msg_src_writer(const Bpf& b, uint32_t attach) {
  ProgLoad p;
  p.type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
  p.attach = attach;
  p.insns = {mov_imm(2, 0x0100007f), insn(BPF_STX | BPF_MEM | BPF_W, 1, 2, 40, 0), mov_imm(0, 1),
             exit_insn()};
  long fd = prog_load(b, p);
  if (fd >= 0) close(int(fd));
  return fd >= 0 ? 0 : fd;
}

TEST_F(UserBpf, TheExpectedAttachTypeSelectsTheContextRules) {
  EXPECT_EQ(load_msg_src_writer(user_bpf, BPF_CGROUP_UDP4_SENDMSG), 0);
  EXPECT_EQ(load_msg_src_writer(user_bpf, BPF_CGROUP_INET4_CONNECT), -EACCES);
}

TEST_F(KernelAndUser, TheExpectedAttachTypeSelectsTheContextRulesAsInTheKernel) {
  for (uint32_t attach : {uint32_t{BPF_CGROUP_UDP4_SENDMSG}, uint32_t{BPF_CGROUP_INET4_CONNECT}})
    same(fmt::format("sock_addr writing msg_src_ip4, attach type {}", attach),
         [attach](const Bpf& b) { return load_msg_src_writer(b, attach); });
}

TEST_F(KernelAndUser, InvalidProgramLoadsFailWithTheKernelsErrno) {
  same("GPL-only helper without a license", [](const Bpf& b) {
    ProgLoad p;
    p.insns = {call_helper(BPF_FUNC_trace_printk), mov_imm(0, 0), exit_insn()};
    p.license = "Proprietary";
    return closing(prog_load(b, p));
  });
  same("probe_read_kernel without a license", [](const Bpf& b) {
    ProgLoad p;
    p.type = BPF_PROG_TYPE_KPROBE;
    p.insns = {call_helper(BPF_FUNC_probe_read_kernel), mov_imm(0, 0), exit_insn()};
    p.license = "";
    return closing(prog_load(b, p));
  });
  same("no license pointer", [](const Bpf& b) {
    std::vector<bpf_insn> insns = {mov_imm(0, 2), exit_insn()};
    bpf_attr a{};
    a.prog_type = BPF_PROG_TYPE_XDP;
    a.insns = ptr(insns.data());
    a.insn_cnt = 2;
    return closing(call(b, BPF_PROG_LOAD, a));
  });
  same("no instructions", [](const Bpf& b) {
    ProgLoad p;
    return closing(prog_load(b, p));
  });
  same("unknown program type", [](const Bpf& b) {
    ProgLoad p;
    p.type = 1000;
    p.insns = {mov_imm(0, 0), exit_insn()};
    return closing(prog_load(b, p));
  });
  same("a log buffer too small for the log", [](const Bpf& b) {
    ProgLoad p;
    p.insns = {mov_imm(0, 2), exit_insn()};
    p.log.resize(16);
    return closing(prog_load(b, p));
  });
  same("a log buffer without a log level", [](const Bpf& b) {
    std::vector<bpf_insn> insns = {mov_imm(0, 2), exit_insn()};
    char log[256];
    bpf_attr a{};
    a.prog_type = BPF_PROG_TYPE_XDP;
    a.insns = ptr(insns.data());
    a.insn_cnt = 2;
    a.license = ptr("GPL");
    a.log_buf = ptr(log);
    a.log_size = sizeof log;
    return closing(call(b, BPF_PROG_LOAD, a));
  });
  same("reading an uninitialized register", [](const Bpf& b) {
    ProgLoad p;
    p.insns = {insn(BPF_ALU64 | BPF_MOV | BPF_X, 0, 5, 0, 0), exit_insn()};
    return closing(prog_load(b, p));
  });
  same("map reference by a bad fd", [](const Bpf& b) {
    ProgLoad p;
    p.insns = counting_program(999999);
    return closing(prog_load(b, p));
  });
  same("test run with a packet shorter than an Ethernet header", [](const Bpf& b) {
    ProgLoad p;
    p.insns = {mov_imm(0, XDP_PASS), exit_insn()};
    long fd = prog_load(b, p);
    if (fd < 0) return fd;
    long r = test_run(b, int(fd), std::vector<uint8_t>(10)).rc;
    close(int(fd));
    return r;
  });
  same("test run of a map fd", [](const Bpf& b) {
    long fd = map_create(b, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
    if (fd < 0) return fd;
    long r = test_run(b, int(fd), packet()).rc;
    close(int(fd));
    return r;
  });
}

// The positive sequence: create, update, lookup, iterate, delete: identical results.
TEST_F(KernelAndUser, MapOperationsGiveTheKernelsResults) {
  auto sequence = [](const Bpf& b, std::vector<std::string>* log) {
    long fd = map_create(b, BPF_MAP_TYPE_HASH, 4, 8, 8);
    ASSERT_GE(fd, 0);
    for (uint32_t k = 1; k <= 5; k++) {
      uint64_t v = k * 1000 + 1;
      log->push_back("update " + std::to_string(elem(b, BPF_MAP_UPDATE_ELEM, int(fd), &k, &v, BPF_NOEXIST)));
    }
    for (uint32_t k = 0; k <= 6; k++) {
      uint64_t v = 0;
      long r = elem(b, BPF_MAP_LOOKUP_ELEM, int(fd), &k, &v);
      log->push_back("lookup " + std::to_string(k) + " " + std::to_string(r) + " " + std::to_string(v));
    }
    uint32_t three = 3;
    log->push_back("delete " + std::to_string(elem(b, BPF_MAP_DELETE_ELEM, int(fd), &three, nullptr)));
    // Iteration order is the implementation's; the set of keys is what must agree.
    std::set<uint32_t> keys;
    uint32_t key = 0, next = 0;
    bpf_attr a{};
    a.map_fd = uint32_t(fd);
    a.key = 0;
    a.next_key = ptr(&next);
    long r;
    while ((r = call(b, BPF_MAP_GET_NEXT_KEY, a)) == 0 && keys.size() < 100) {
      keys.insert(next);
      key = next;
      a.key = ptr(&key);
    }
    log->push_back("iteration ends with " + std::to_string(r));
    for (uint32_t k : keys)
      log->push_back("key " + std::to_string(k));
    uint64_t v = 0;
    uint32_t one = 1;
    log->push_back("lookup_and_delete " +
                   std::to_string(elem(b, BPF_MAP_LOOKUP_AND_DELETE_ELEM, int(fd), &one, &v)) + " " +
                   std::to_string(v));
    log->push_back("lookup after " + std::to_string(elem(b, BPF_MAP_LOOKUP_ELEM, int(fd), &one, &v)));
    close(int(fd));
  };
  std::vector<std::string> k, u;
  sequence(kernel_bpf, &k);
  sequence(user_bpf, &u);
  EXPECT_EQ(k, u);
}

TEST_F(KernelAndUser, KernelObjectMapDefinitionsFailWithTheKernelsErrno) {
  struct Def {
    const char* what;
    uint32_t type, key, value, entries, flags;
  } defs[] = {
      {"devmap", BPF_MAP_TYPE_DEVMAP, 4, 8, 4, 0},
      {"devmap value 12", BPF_MAP_TYPE_DEVMAP, 4, 12, 4, 0},
      {"devmap key 8", BPF_MAP_TYPE_DEVMAP, 8, 4, 4, 0},
      {"devmap no entries", BPF_MAP_TYPE_DEVMAP, 4, 4, 0, 0},
      {"devmap BPF_F_RDONLY_PROG", BPF_MAP_TYPE_DEVMAP, 4, 4, 4, BPF_F_RDONLY_PROG},
      {"devmap BPF_F_RDONLY", BPF_MAP_TYPE_DEVMAP, 4, 4, 4, BPF_F_RDONLY},
      {"devmap BPF_F_NO_PREALLOC", BPF_MAP_TYPE_DEVMAP, 4, 4, 4, BPF_F_NO_PREALLOC},
      {"devmap_hash", BPF_MAP_TYPE_DEVMAP_HASH, 4, 4, 4, 0},
      {"devmap_hash 2^31 + 1 entries", BPF_MAP_TYPE_DEVMAP_HASH, 4, 4, 0x80000001u, 0},
      {"cpumap", BPF_MAP_TYPE_CPUMAP, 4, 8, 4, 0},
      {"cpumap above NR_CPUS", BPF_MAP_TYPE_CPUMAP, 4, 4, bpfvm::host_nr_cpus() + 1, 0},
      {"cpumap value 12", BPF_MAP_TYPE_CPUMAP, 4, 12, 4, 0},
      {"cpumap BPF_F_RDONLY", BPF_MAP_TYPE_CPUMAP, 4, 4, 4, BPF_F_RDONLY},
      {"xskmap", BPF_MAP_TYPE_XSKMAP, 4, 4, 4, 0},
      {"xskmap value 8", BPF_MAP_TYPE_XSKMAP, 4, 8, 4, 0},
      {"xskmap BPF_F_RDONLY_PROG", BPF_MAP_TYPE_XSKMAP, 4, 4, 4, BPF_F_RDONLY_PROG},
      {"stack_trace", BPF_MAP_TYPE_STACK_TRACE, 4, 1016, 100, 0},
      {"stack_trace of 128 frames", BPF_MAP_TYPE_STACK_TRACE, 4, 1024, 100, 0},
      {"stack_trace value 12", BPF_MAP_TYPE_STACK_TRACE, 4, 12, 100, 0},
      {"stack_trace build ids of 16 bytes", BPF_MAP_TYPE_STACK_TRACE, 4, 16, 100, BPF_F_STACK_BUILD_ID},
      {"stack_trace build ids", BPF_MAP_TYPE_STACK_TRACE, 4, 64, 100, BPF_F_STACK_BUILD_ID},
      {"stack_trace 2^31 + 1 entries", BPF_MAP_TYPE_STACK_TRACE, 4, 16, 0x80000001u, 0},
      {"stack_trace BPF_F_RDONLY_PROG", BPF_MAP_TYPE_STACK_TRACE, 4, 16, 4, BPF_F_RDONLY_PROG},
      {"cgroup_array", BPF_MAP_TYPE_CGROUP_ARRAY, 4, 4, 4, 0},
      {"cgroup_array value 8", BPF_MAP_TYPE_CGROUP_ARRAY, 4, 8, 4, 0},
      {"cgroup_array BPF_F_RDONLY_PROG", BPF_MAP_TYPE_CGROUP_ARRAY, 4, 4, 4, BPF_F_RDONLY_PROG},
  };
  for (const Def& d : defs)
    same(d.what,
         [&](const Bpf& b) { return closing(map_create(b, d.type, d.key, d.value, d.entries, d.flags)); });
}

// Element requests on the maps of kernel objects, logged with their results and values; the kernel
// and bpfvm must write the same log.
TEST_F(KernelAndUser, KernelObjectMapsGiveTheKernelsResults) {
  const uint32_t lo = if_nametoindex("lo");
  ASSERT_NE(lo, 0u);
  uint32_t missing_dev = 0x7ffffff0;
  while (if_indextoname(missing_dev, std::array<char, IF_NAMESIZE>().data()) != nullptr)
    ++missing_dev;
  std::string cgroup2;
  {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (cgroup2.empty() && std::getline(in, line)) {
      size_t dash = line.find(" - cgroup2 ");
      if (dash == std::string::npos) continue;
      std::string a, b, c, root;
      std::istringstream(line.substr(0, dash)) >> a >> b >> c >> root >> cgroup2;
    }
  }
  auto sequence = [&](const Bpf& b, std::vector<std::string>* log) {
    auto res = [](long r) {
      return r < 0 ? std::string(strerrorname_np(int(-r)) ?: std::to_string(r)) : "ok";
    };
    auto hex = [](const void* p, size_t n) {
      std::string s;
      for (size_t i = 0; i < n; i++)
        s += fmt::format("{:02x}", static_cast<const uint8_t*>(p)[i]);
      return s;
    };
    auto update = [&](const char* what, int fd, uint32_t k, const void* v, uint64_t flags = BPF_ANY) {
      log->push_back(fmt::format("{}: update {} {}", what, k,
                                 res(elem(b, BPF_MAP_UPDATE_ELEM, fd, &k, const_cast<void*>(v), flags))));
    };
    auto lookup = [&](const char* what, int fd, uint32_t k, size_t n) {
      std::vector<uint8_t> v(n, 0xee);
      long r = elem(b, BPF_MAP_LOOKUP_ELEM, fd, &k, v.data());
      log->push_back(fmt::format("{}: lookup {} {} {}", what, k, res(r), r == 0 ? hex(v.data(), n) : ""));
    };
    auto remove = [&](const char* what, int fd, uint32_t k) {
      log->push_back(
          fmt::format("{}: delete {} {}", what, k, res(elem(b, BPF_MAP_DELETE_ELEM, fd, &k, nullptr))));
    };
    auto keys = [&](const char* what, int fd, uint32_t start) {
      std::string out;
      uint32_t key = start, next = 0;
      bpf_attr a{};
      a.map_fd = uint32_t(fd);
      a.key = ptr(&key);
      a.next_key = ptr(&next);
      long r;
      for (int i = 0; i < 20 && (r = call(b, BPF_MAP_GET_NEXT_KEY, a)) == 0; i++) {
        out += " " + std::to_string(next);
        key = next;
      }
      log->push_back(fmt::format("{}: keys after {}:{} then {}", what, start, out, res(r)));
    };
    auto flags_of = [&](const char* what, int fd) {
      bpf_map_info info{};
      bpf_attr a{};
      a.info.bpf_fd = uint32_t(fd);
      a.info.info = ptr(&info);
      a.info.info_len = sizeof info;
      long r = call(b, BPF_OBJ_GET_INFO_BY_FD, a);
      log->push_back(fmt::format("{}: info {} map_flags {:#x}", what, res(r), info.map_flags));
    };
    struct Val {
      uint32_t first;
      int32_t prog;
    };

    int fd = int(map_create(b, BPF_MAP_TYPE_DEVMAP, 4, 8, 4));
    ASSERT_GE(fd, 0);
    flags_of("devmap", fd);
    Val dev{lo, 0}, nodev{missing_dev, 0}, prog_only{0, 5}, bad_prog{lo, 999}, no_prog{lo, -1}, clear{0, 0};
    update("devmap", fd, 1, &dev);
    lookup("devmap", fd, 1, 8);
    update("devmap", fd, 2, &nodev);
    update("devmap", fd, 2, &prog_only);
    update("devmap", fd, 1, &dev, BPF_NOEXIST);
    update("devmap", fd, 3, &no_prog, BPF_EXIST);
    update("devmap", fd, 9, &dev);
    update("devmap", fd, 1, &dev, 3);
    update("devmap", fd, 0, &bad_prog);
    lookup("devmap", fd, 2, 8);
    lookup("devmap", fd, 3, 8);
    update("devmap", fd, 1, &clear);
    lookup("devmap", fd, 1, 8);
    remove("devmap", fd, 2);
    remove("devmap", fd, 9);
    keys("devmap", fd, 1);
    close(fd);

    fd = int(map_create(b, BPF_MAP_TYPE_DEVMAP_HASH, 4, 4, 4));
    ASSERT_GE(fd, 0);
    flags_of("devmap_hash", fd);
    for (uint32_t k : {5u, 1u, 9u, 2u})
      update("devmap_hash", fd, k, &lo);
    keys("devmap_hash", fd, 12345);
    update("devmap_hash", fd, 1, &lo, BPF_EXIST);
    keys("devmap_hash", fd, 12345);
    update("devmap_hash", fd, 7, &lo);
    update("devmap_hash", fd, 7, &clear.first);
    update("devmap_hash", fd, 5, &lo, BPF_NOEXIST);
    lookup("devmap_hash", fd, 9, 4);
    remove("devmap_hash", fd, 9);
    remove("devmap_hash", fd, 9);
    lookup("devmap_hash", fd, 9, 4);
    update("devmap_hash", fd, 7, &lo, BPF_EXIST);
    keys("devmap_hash", fd, 2);
    close(fd);

    fd = int(map_create(b, BPF_MAP_TYPE_CPUMAP, 4, 8, 8));
    ASSERT_GE(fd, 0);
    flags_of("cpumap", fd);
    Val q{192, 0}, big{16385, 0}, q_bad_prog{64, 999}, q0{0, 999};
    update("cpumap", fd, 0, &q);
    lookup("cpumap", fd, 0, 8);
    update("cpumap", fd, 7, &q);  // not a possible CPU on a small machine
    update("cpumap", fd, 0, &big);
    update("cpumap", fd, 0, &q, BPF_NOEXIST);
    update("cpumap", fd, 1, &q, BPF_EXIST);
    update("cpumap", fd, 8, &q);
    update("cpumap", fd, 0, &q_bad_prog);
    update("cpumap", fd, 0, &q0);
    lookup("cpumap", fd, 0, 8);
    lookup("cpumap", fd, 1, 8);
    remove("cpumap", fd, 1);
    remove("cpumap", fd, 1);
    remove("cpumap", fd, 8);
    keys("cpumap", fd, 6);
    close(fd);

    fd = int(map_create(b, BPF_MAP_TYPE_XSKMAP, 4, 4, 4));
    ASSERT_GE(fd, 0);
    int devnull = open("/dev/null", O_RDONLY), udp = socket(AF_INET, SOCK_DGRAM, 0), badfd = 999999;
    update("xskmap", fd, 0, &devnull);
    update("xskmap", fd, 0, &udp);
    update("xskmap", fd, 0, &badfd);
    update("xskmap", fd, 4, &udp);
    update("xskmap", fd, 0, &udp, 3);
    int xsk = socket(AF_XDP, SOCK_RAW, 0), xsk2 = socket(AF_XDP, SOCK_RAW, 0);
    if (xsk >= 0 && xsk2 >= 0) {
      update("xskmap", fd, 1, &xsk, BPF_EXIST);
      update("xskmap", fd, 1, &xsk, BPF_NOEXIST);
      update("xskmap", fd, 1, &xsk, BPF_NOEXIST);
      update("xskmap", fd, 1, &xsk2, BPF_NOEXIST);
      update("xskmap", fd, 1, &xsk2, BPF_EXIST);
    }
    lookup("xskmap", fd, 1, 4);
    remove("xskmap", fd, 1);
    remove("xskmap", fd, 1);
    remove("xskmap", fd, 4);
    keys("xskmap", fd, 2);
    for (int f : {devnull, udp, xsk, xsk2})
      if (f >= 0) close(f);
    close(fd);

    fd = int(map_create(b, BPF_MAP_TYPE_CGROUP_ARRAY, 4, 4, 4));
    ASSERT_GE(fd, 0);
    int tmp = open("/tmp", O_RDONLY | O_DIRECTORY);
    devnull = open("/dev/null", O_RDONLY);
    update("cgroup_array", fd, 0, &devnull);
    update("cgroup_array", fd, 0, &tmp);
    update("cgroup_array", fd, 0, &badfd);
    update("cgroup_array", fd, 4, &tmp);
    update("cgroup_array", fd, 0, &tmp, BPF_NOEXIST);
    if (!cgroup2.empty()) {
      int cg = open(cgroup2.c_str(), O_RDONLY | O_DIRECTORY);
      update("cgroup_array", fd, 0, &cg);
      close(cg);
    }
    lookup("cgroup_array", fd, 0, 4);
    lookup("cgroup_array", fd, 1, 4);
    remove("cgroup_array", fd, 0);
    remove("cgroup_array", fd, 0);
    remove("cgroup_array", fd, 4);
    keys("cgroup_array", fd, 2);
    close(tmp);
    close(devnull);
    close(fd);

    fd = int(map_create(b, BPF_MAP_TYPE_STACK_TRACE, 4, 16, 10));
    ASSERT_GE(fd, 0);
    uint64_t ips[2] = {1, 2};
    lookup("stack_trace", fd, 0, 16);
    lookup("stack_trace", fd, 99, 16);
    update("stack_trace", fd, 0, ips);
    remove("stack_trace", fd, 0);
    remove("stack_trace", fd, 16);
    keys("stack_trace", fd, 0);
    close(fd);
  };
  std::vector<std::string> k, u;
  sequence(kernel_bpf, &k);
  sequence(user_bpf, &u);
  EXPECT_EQ(k, u);
  ASSERT_EQ(k.size(), u.size());
  for (size_t i = 0; i < k.size(); i++)
    EXPECT_EQ(k[i], u[i]);
}

// Per-CPU values: one 8-byte-aligned value per possible CPU, as libbpf sizes its buffers.
TEST_F(KernelAndUser, PerCpuValuesHaveOneSlotPerPossibleCpu) {
  auto sequence = [](const Bpf& b, std::vector<uint64_t>* out) {
    long fd = map_create(b, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2);
    ASSERT_GE(fd, 0);
    std::vector<uint64_t> in(256), got(256, 0xeeeeeeeeeeeeeeee);
    for (size_t i = 0; i < in.size(); i++)
      in[i] = 0x1000 + i;
    uint32_t k = 1;
    ASSERT_EQ(elem(b, BPF_MAP_UPDATE_ELEM, int(fd), &k, in.data()), 0);
    ASSERT_EQ(elem(b, BPF_MAP_LOOKUP_ELEM, int(fd), &k, got.data()), 0);
    *out = got;
    close(int(fd));
  };
  std::vector<uint64_t> k, u;
  sequence(kernel_bpf, &k);
  sequence(user_bpf, &u);
  EXPECT_EQ(k, u);
}

TEST_F(KernelAndUser, ATestRunGivesTheKernelsVerdictPacketAndCounters) {
  auto run = [](const Bpf& b, std::vector<std::string>* log) {
    long map = map_create(b, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
    ASSERT_GE(map, 0);
    ProgLoad p;
    p.insns = counting_program(int(map));
    long prog = prog_load(b, p);
    ASSERT_GE(prog, 0);
    TestRun r = test_run(b, int(prog), packet(), 7);
    log->push_back("rc " + std::to_string(r.rc) + " retval " + std::to_string(r.retval));
    log->push_back("out " + std::to_string(r.data_out.size()) + " same " +
                   std::to_string(r.data_out == packet()));
    uint32_t zero = 0;
    uint64_t count = 0;
    log->push_back("lookup " + std::to_string(elem(b, BPF_MAP_LOOKUP_ELEM, int(map), &zero, &count)) +
                   " count " + std::to_string(count));
    close(int(prog));
    close(int(map));
  };
  std::vector<std::string> k, u;
  run(kernel_bpf, &k);
  run(user_bpf, &u);
  EXPECT_EQ(k, u);
}

// An skb program with a context: ctx_in's mark is read, cb[0] written; ctx_out as the kernel's.
TEST_F(KernelAndUser, ATestRunWithAContextGivesTheKernelsContextOut) {
  auto run = [](const Bpf& b, std::vector<std::string>* log) {
    ProgLoad p;
    p.type = BPF_PROG_TYPE_SCHED_CLS;
    p.insns = {
        insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_0, BPF_REG_1, offsetof(__sk_buff, mark), 0),
        insn(BPF_ST | BPF_MEM | BPF_W, BPF_REG_1, 0, offsetof(__sk_buff, cb), 99),
        exit_insn(),
    };
    long prog = prog_load(b, p);
    ASSERT_GE(prog, 0);
    __sk_buff ctx_in{}, ctx_out{};
    ctx_in.mark = 7;
    ctx_in.priority = 3;
    std::vector<uint8_t> data = packet(), out(256);
    bpf_attr a{};
    a.test.prog_fd = uint32_t(prog);
    a.test.data_in = ptr(data.data());
    a.test.data_size_in = uint32_t(data.size());
    a.test.data_out = ptr(out.data());
    a.test.data_size_out = uint32_t(out.size());
    a.test.ctx_in = ptr(&ctx_in);
    a.test.ctx_size_in = sizeof ctx_in;
    a.test.ctx_out = ptr(&ctx_out);
    a.test.ctx_size_out = sizeof ctx_out;
    log->push_back("rc " + std::to_string(call(b, BPF_PROG_TEST_RUN, a)) + " retval " +
                   std::to_string(a.test.retval) + " ctx_size_out " + std::to_string(a.test.ctx_size_out));
    log->push_back("mark " + std::to_string(ctx_out.mark) + " priority " + std::to_string(ctx_out.priority) +
                   " cb0 " + std::to_string(ctx_out.cb[0]) + " len " + std::to_string(ctx_out.len));
    // A context buffer too small for the context: ENOSPC, with the size needed.
    __sk_buff small{};
    a.test.ctx_out = ptr(&small);
    a.test.ctx_size_out = 8;
    log->push_back("small rc " + std::to_string(call(b, BPF_PROG_TEST_RUN, a)) + " ctx_size_out " +
                   std::to_string(a.test.ctx_size_out));
    close(int(prog));
  };
  std::vector<std::string> k, u;
  run(kernel_bpf, &k);
  run(user_bpf, &u);
  EXPECT_EQ(k, u);
}

// ---- user space only ----

uint32_t id_of(int fd, bool prog) {
  bpf_map_info mi{};
  bpf_prog_info pi{};
  bpf_attr a{};
  a.info.bpf_fd = uint32_t(fd);
  a.info.info = prog ? ptr(&pi) : ptr(&mi);
  a.info.info_len = prog ? sizeof pi : sizeof mi;
  EXPECT_EQ(call(user_bpf, BPF_OBJ_GET_INFO_BY_FD, a), 0);
  return prog ? pi.id : mi.id;
}

long fd_by_id(uint32_t id) {
  bpf_attr a{};
  a.map_id = id;
  return call(user_bpf, BPF_MAP_GET_FD_BY_ID, a);
}

TEST_F(UserBpf, ClosingTheLastDescriptorReleasesTheMapAndDupKeepsIt) {
  long fd = map_create(user_bpf, BPF_MAP_TYPE_ARRAY, 4, 8, 2);
  ASSERT_GE(fd, 0);
  uint32_t id = id_of(int(fd), false);
  int copy = dup(int(fd));
  close(int(fd));
  bpfvm::sys::gc();
  // The dup names the same map: an update through it is seen through a new fd by id.
  uint32_t k = 1;
  uint64_t v = 99;
  EXPECT_EQ(elem(user_bpf, BPF_MAP_UPDATE_ELEM, copy, &k, &v), 0);
  long again = fd_by_id(id);
  ASSERT_GE(again, 0);
  uint64_t got = 0;
  EXPECT_EQ(elem(user_bpf, BPF_MAP_LOOKUP_ELEM, int(again), &k, &got), 0);
  EXPECT_EQ(got, 99u);
  close(copy);
  close(int(again));
  bpfvm::sys::gc();
  EXPECT_EQ(fd_by_id(id), -ENOENT);
  EXPECT_EQ(elem(user_bpf, BPF_MAP_LOOKUP_ELEM, copy, &k, &got), -EBADF);
}

TEST_F(UserBpf, AProgramKeepsItsMapsAliveAndListsThemById) {
  long map = map_create(user_bpf, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
  ASSERT_GE(map, 0);
  uint32_t map_id = id_of(int(map), false);
  ProgLoad p;
  p.insns = counting_program(int(map));
  long prog = prog_load(user_bpf, p);
  ASSERT_GE(prog, 0);
  close(int(map));
  bpfvm::sys::gc();
  uint32_t ids[4] = {};
  std::vector<bpf_insn> xlated(p.insns.size());
  bpf_prog_info info{};
  info.nr_map_ids = 4;
  info.map_ids = ptr(ids);
  info.xlated_prog_len = uint32_t(xlated.size() * sizeof(bpf_insn));
  info.xlated_prog_insns = ptr(xlated.data());
  bpf_attr a{};
  a.info.bpf_fd = uint32_t(prog);
  a.info.info = ptr(&info);
  a.info.info_len = sizeof info;
  ASSERT_EQ(call(user_bpf, BPF_OBJ_GET_INFO_BY_FD, a), 0);
  EXPECT_EQ(info.type, uint32_t(BPF_PROG_TYPE_XDP));
  EXPECT_EQ(info.nr_map_ids, 1u);
  EXPECT_EQ(ids[0], map_id);
  EXPECT_EQ(xlated[1].imm, int32_t(map_id));  // lddw names the map by id, as the kernel's dump
  EXPECT_EQ(test_run(user_bpf, int(prog), packet(), 3).retval, uint32_t(XDP_PASS));
  long m2 = fd_by_id(map_id);
  ASSERT_GE(m2, 0);
  uint32_t zero = 0;
  uint64_t count = 0;
  EXPECT_EQ(elem(user_bpf, BPF_MAP_LOOKUP_ELEM, int(m2), &zero, &count), 0);
  EXPECT_EQ(count, 3u);
  close(int(m2));
  close(int(prog));
  bpfvm::sys::gc();
  EXPECT_EQ(fd_by_id(map_id), -ENOENT);
}

TEST_F(UserBpf, ARejectedProgramGetsAKernelStyleLog) {
  ProgLoad p;
  p.insns = {insn(BPF_LDX | BPF_MEM | BPF_DW, 0, 1, 1000, 0), exit_insn()};
  p.log.resize(4096);
  EXPECT_EQ(prog_load(user_bpf, p), -EACCES);
  std::string log = p.log.data();
  EXPECT_NE(log.find("0: (79)"), std::string::npos) << log;
  EXPECT_NE(log.find("processed"), std::string::npos) << log;

  ProgLoad gpl;
  gpl.insns = {call_helper(BPF_FUNC_trace_printk), mov_imm(0, 0), exit_insn()};
  gpl.license = "MIT";
  gpl.log.resize(4096);
  EXPECT_EQ(prog_load(user_bpf, gpl), -EINVAL);
  EXPECT_NE(std::string(gpl.log.data()).find("cannot call GPL-restricted function"), std::string::npos);
}

TEST_F(UserBpf, PinnedMapsPersistInTheStateDirectory) {
  long fd = map_create(user_bpf, BPF_MAP_TYPE_HASH, 4, 8, 4);
  ASSERT_GE(fd, 0);
  uint32_t k = 5;
  uint64_t v = 55;
  ASSERT_EQ(elem(user_bpf, BPF_MAP_UPDATE_ELEM, int(fd), &k, &v), 0);
  std::string path = "/sys/fs/bpf/t" + std::to_string(getpid());
  bpf_attr a{};
  a.bpf_fd = uint32_t(fd);
  a.pathname = ptr(path.c_str());
  ASSERT_EQ(call(user_bpf, BPF_OBJ_PIN, a), 0);
  EXPECT_EQ(call(user_bpf, BPF_OBJ_PIN, a), -EEXIST);
  v = 66;
  ASSERT_EQ(elem(user_bpf, BPF_MAP_UPDATE_ELEM, int(fd), &k, &v), 0);
  close(int(fd));
  bpfvm::sys::gc();
  // The store's copy has the last value: a new process (here: a fresh object from the store after
  // the in-memory one is gone) reads it back.
  bpf_attr g{};
  g.pathname = ptr(path.c_str());
  long fd2 = call(user_bpf, BPF_OBJ_GET, g);
  ASSERT_GE(fd2, 0);
  uint64_t got = 0;
  EXPECT_EQ(elem(user_bpf, BPF_MAP_LOOKUP_ELEM, int(fd2), &k, &got), 0);
  EXPECT_EQ(got, 66u);
  close(int(fd2));
  EXPECT_EQ(bpfvm::sys::unpin(path), 0);
  bpfvm::sys::gc();
  EXPECT_EQ(call(user_bpf, BPF_OBJ_GET, g), -ENOENT);
}

}  // namespace
