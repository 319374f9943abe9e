// Maps of kernel objects: devmap, devmap_hash, cpumap, xskmap (maps/redirect_maps.h), cgroup_array
// and stack_trace (maps/cgroup_stack_maps.h). The errno of every case is the kernel's (Linux 6.18:
// tests/sys compares the same requests with the kernel's bpf(2)).
#include <fcntl.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "maps/cgroup_stack_maps.h"
#include "maps/redirect_maps.h"
#include "maps_test_util.h"

namespace bpfvm {
namespace {

using testing::make_def;
using testing::must_create;

struct Val {  // struct bpf_devmap_val / bpf_cpumap_val
  uint32_t first;
  int32_t prog;
};

uint32_t loopback() {
  uint32_t i = if_nametoindex("lo");
  EXPECT_NE(i, 0u) << "the host has no loopback device";
  return i;
}

// An ifindex no device of the host has.
uint32_t missing_ifindex() {
  char name[IF_NAMESIZE];
  uint32_t i = 0x7ffffff0;
  while (if_indextoname(i, name) != nullptr)
    ++i;
  return i;
}

std::vector<uint32_t> keys_of(Map& m) {
  std::vector<uint32_t> out;
  uint32_t cur = 0, next = 0;
  const void* prev = nullptr;
  while (m.get_next_key(prev, &next) == 0 && out.size() < 100) {
    out.push_back(next);
    cur = next;
    prev = &cur;
  }
  return out;
}

// ---- devmap ----

TEST(Devmap, DefinitionsAreCheckedAsTheKernelDoesAndGetReadOnlyToPrograms) {
  EXPECT_TRUE(create_map(make_def(MapType::Devmap, 4, 4, 4)).ok());
  EXPECT_TRUE(create_map(make_def(MapType::Devmap, 4, 8, 4)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::Devmap, 4, 12, 4)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::Devmap, 8, 4, 4)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::Devmap, 4, 4, 0)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::Devmap, 4, 4, 4, kBpfFNoPrealloc)).ok());
  EXPECT_TRUE(create_map(make_def(MapType::Devmap, 4, 4, 4, kBpfFRdonly)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::DevmapHash, 4, 4, 0x80000001u)).ok());  // too many buckets
  auto m = must_create(make_def(MapType::Devmap, 4, 8, 4));
  EXPECT_TRUE(m->def().map_flags & kBpfFRdonlyProg);
  EXPECT_FALSE(m->prog_writable());
}

TEST(Devmap, EntriesNameHostDevicesAndIfindexZeroClears) {
  auto m = must_create(make_def(MapType::Devmap, 4, 8, 4));
  uint32_t k = 1, out = 4;
  Val lo{loopback(), 0}, none{missing_ifindex(), 0};
  EXPECT_EQ(m->update(&k, &none, kBpfAny), -EINVAL);  // dev_get_by_index finds nothing
  EXPECT_EQ(m->update(&k, &lo, kBpfAny), 0);
  Val got{9, 9};
  ASSERT_EQ(m->lookup_copy(&k, &got), 0);
  EXPECT_EQ(got.first, lo.first);
  EXPECT_EQ(got.prog, 0);
  EXPECT_TRUE(redirect_target_exists(*m, 1));
  EXPECT_FALSE(redirect_target_exists(*m, 2));
  // Programs read the entry itself.
  auto* v = static_cast<const uint32_t*>(m->lookup(&k));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, lo.first);
  EXPECT_EQ(m->value_bytes_from(v), 8u);
  // Flags and indexes: every slot exists, so BPF_NOEXIST fails and BPF_EXIST does not.
  EXPECT_EQ(m->update(&k, &lo, kBpfNoExist), -EEXIST);
  uint32_t empty = 3;
  EXPECT_EQ(m->update(&empty, &lo, kBpfExist), 0);
  EXPECT_EQ(m->update(&k, &lo, 3), -EINVAL);
  EXPECT_EQ(m->update(&out, &lo, kBpfAny), -E2BIG);
  // A program on the entry: refused as an invalid one (bpfvm runs none); none without a device.
  Val with_prog{loopback(), 5}, prog_only{0, 5}, no_prog{loopback(), -1};
  EXPECT_EQ(m->update(&k, &with_prog, kBpfAny), -EINVAL);
  EXPECT_EQ(m->update(&k, &prog_only, kBpfAny), -EINVAL);
  EXPECT_EQ(m->update(&k, &no_prog, kBpfAny), 0);
  Val clear{0, 0};
  EXPECT_EQ(m->update(&k, &clear, kBpfAny), 0);
  EXPECT_EQ(m->lookup_copy(&k, &got), -ENOENT);
  EXPECT_FALSE(redirect_target_exists(*m, 1));
  // Delete of an empty slot succeeds; past the end it is -EINVAL. Keys iterate like an array's.
  EXPECT_EQ(m->remove(&empty), 0);
  EXPECT_EQ(m->remove(&empty), 0);
  EXPECT_EQ(m->remove(&out), -EINVAL);
  EXPECT_EQ(keys_of(*m), (std::vector<uint32_t>{0, 1, 2, 3}));
}

TEST(DevmapHash, KeysIterateInTheKernelsBucketOrderNewestFirst) {
  auto m = must_create(make_def(MapType::DevmapHash, 4, 4, 4));  // 4 buckets: bucket = key & 3
  uint32_t lo = loopback();
  for (uint32_t k : {5u, 1u, 9u, 2u})
    ASSERT_EQ(m->update(&k, &lo, kBpfAny), 0) << k;
  EXPECT_EQ(keys_of(*m), (std::vector<uint32_t>{9, 1, 5, 2}));
  uint32_t missing = 12345, next = 0;
  ASSERT_EQ(m->get_next_key(&missing, &next), 0);  // a missing key restarts from the first
  EXPECT_EQ(next, 9u);
  uint32_t one = 1;
  ASSERT_EQ(m->update(&one, &lo, kBpfExist), 0);  // a replaced entry goes to the head of its bucket
  EXPECT_EQ(keys_of(*m), (std::vector<uint32_t>{1, 9, 5, 2}));
}

TEST(DevmapHash, FlagsCapacityAndDeleteAreTheKernels) {
  auto m = must_create(make_def(MapType::DevmapHash, 4, 8, 2));
  Val lo{loopback(), 0}, zero{0, 0}, none{missing_ifindex(), 0};
  uint32_t a = 7, b = 8, c = 9;
  EXPECT_EQ(m->update(&a, &zero, kBpfAny), -EINVAL);  // no device 0 in a hash
  EXPECT_EQ(m->update(&a, &none, kBpfAny), -EINVAL);
  EXPECT_EQ(m->update(&a, &lo, kBpfExist), 0);  // BPF_EXIST does not require the key
  EXPECT_EQ(m->update(&a, &lo, kBpfNoExist), -EEXIST);
  EXPECT_EQ(m->update(&b, &lo, kBpfNoExist), 0);
  EXPECT_EQ(m->update(&c, &lo, kBpfAny), -E2BIG);  // full
  EXPECT_EQ(m->update(&a, &lo, 4), -EINVAL);
  Val got{};
  ASSERT_EQ(m->lookup_copy(&b, &got), 0);
  EXPECT_EQ(got.first, lo.first);
  EXPECT_NE(m->value_bytes_from(m->lookup(&b)), 0u);
  EXPECT_TRUE(redirect_target_exists(*m, 8));
  EXPECT_EQ(m->remove(&b), 0);
  EXPECT_EQ(m->remove(&b), -ENOENT);
  EXPECT_FALSE(redirect_target_exists(*m, 8));
  EXPECT_EQ(m->update(&c, &lo, kBpfAny), 0);  // room again
}

// ---- cpumap ----

TEST(Cpumap, EntriesArePossibleCpusWithABoundedQueue) {
  EXPECT_FALSE(create_map(make_def(MapType::Cpumap, 4, 4, host_nr_cpus() + 1)).ok());
  EXPECT_TRUE(create_map(make_def(MapType::Cpumap, 4, 4, host_nr_cpus())).ok());
  EXPECT_FALSE(create_map(make_def(MapType::Cpumap, 4, 4, 4, kBpfFRdonly)).ok());  // NUMA only
  MapOptions opts;
  opts.num_cpus = 2;
  auto m = must_create(make_def(MapType::Cpumap, 4, 8, 8), opts);
  uint32_t cpu0 = 0, cpu5 = 5, past = 8;
  Val q{192, 0};
  EXPECT_EQ(m->update(&cpu5, &q, kBpfAny), -ENODEV);  // not a possible CPU
  Val big{16385, 0};
  EXPECT_EQ(m->update(&cpu0, &big, kBpfAny), -EOVERFLOW);
  EXPECT_EQ(m->update(&cpu0, &q, kBpfNoExist), -EEXIST);
  EXPECT_EQ(m->update(&past, &q, kBpfAny), -E2BIG);
  Val with_prog{192, 7};
  EXPECT_EQ(m->update(&cpu0, &with_prog, kBpfAny), -ENOMEM);  // the kernel's errno for a bad program
  EXPECT_EQ(m->update(&cpu0, &q, kBpfExist), 0);
  Val got{};
  ASSERT_EQ(m->lookup_copy(&cpu0, &got), 0);
  EXPECT_EQ(got.first, 192u);
  EXPECT_EQ(got.prog, 0);
  EXPECT_TRUE(redirect_target_exists(*m, 0));
  EXPECT_EQ(m->value_bytes_from(m->lookup(&cpu0)), 0u);  // programs cannot read a cpumap
  Val zero{0, 7};
  EXPECT_EQ(m->update(&cpu0, &zero, kBpfAny), 0);  // qsize 0 deletes (the program is not loaded)
  EXPECT_EQ(m->lookup_copy(&cpu0, &got), -ENOENT);
  EXPECT_EQ(m->remove(&cpu5), 0);
  EXPECT_EQ(m->remove(&past), -EINVAL);
}

// ---- xskmap ----

TEST(Xskmap, ValuesMustBeAfXdpSockets) {
  EXPECT_FALSE(create_map(make_def(MapType::Xskmap, 4, 8, 4)).ok());
  auto m = must_create(make_def(MapType::Xskmap, 4, 4, 4));
  uint32_t k = 0, past = 4;
  int devnull = open("/dev/null", O_RDONLY);
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  int closed = 1 << 20;
  ASSERT_GE(devnull, 0);
  ASSERT_GE(udp, 0);
  EXPECT_EQ(m->update(&k, &devnull, kBpfAny), -ENOTSOCK);
  EXPECT_EQ(m->update(&k, &udp, kBpfAny), -EOPNOTSUPP);
  EXPECT_EQ(m->update(&k, &closed, kBpfAny), -EBADF);
  EXPECT_EQ(m->update(&past, &udp, kBpfAny), -E2BIG);
  EXPECT_EQ(m->update(&k, &udp, 3), -EINVAL);
  EXPECT_EQ(m->remove(&k), 0);
  EXPECT_EQ(m->remove(&past), -EINVAL);
  uint32_t v;
  EXPECT_EQ(m->lookup_copy(&k, &v), -EOPNOTSUPP);  // no syscall lookup
  close(devnull);
  close(udp);

  int xsk = socket(44 /* AF_XDP */, SOCK_RAW, 0);
  if (xsk < 0) GTEST_SKIP() << "cannot open an AF_XDP socket here: " << strerror(errno);
  int xsk2 = socket(44, SOCK_RAW, 0);
  ASSERT_GE(xsk2, 0);
  EXPECT_EQ(m->update(&k, &xsk, kBpfExist), -ENOENT);
  EXPECT_EQ(m->update(&k, &xsk, kBpfNoExist), 0);
  EXPECT_TRUE(redirect_target_exists(*m, 0));
  EXPECT_EQ(m->update(&k, &xsk, kBpfNoExist), 0);  // the same socket again
  EXPECT_EQ(m->update(&k, &xsk2, kBpfNoExist), -EEXIST);
  // The map holds its own reference: closing ours keeps the entry.
  close(xsk);
  EXPECT_TRUE(redirect_target_exists(*m, 0));
  EXPECT_EQ(m->update(&k, &xsk2, kBpfExist), 0);
  EXPECT_EQ(m->remove(&k), 0);
  EXPECT_FALSE(redirect_target_exists(*m, 0));
  close(xsk2);
}

// ---- cgroup_array ----

// The cgroup v2 mount point, or "".
std::string cgroup2_root() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    size_t dash = line.find(" - cgroup2 ");
    if (dash == std::string::npos) continue;
    std::string fields = line.substr(0, dash);
    std::string a, b, c, root, mount;
    std::istringstream(fields) >> a >> b >> c >> root >> mount;
    return mount;
  }
  return "";
}

TEST(CgroupArray, SlotsHoldCgroupV2DirectoriesOnly) {
  EXPECT_FALSE(create_map(make_def(MapType::CgroupArray, 4, 8, 4)).ok());
  auto m = must_create(make_def(MapType::CgroupArray, 4, 4, 4));
  auto* cg = static_cast<CgroupArrayMap*>(m.get());
  uint32_t k = 0, past = 4;
  int devnull = open("/dev/null", O_RDONLY);
  int tmp = open("/tmp", O_RDONLY | O_DIRECTORY);
  int closed = 1 << 20;
  EXPECT_EQ(m->update(&k, &devnull, kBpfAny), -EBADF);
  EXPECT_EQ(m->update(&k, &tmp, kBpfAny), -EBADF);  // a directory, not a cgroup
  EXPECT_EQ(m->update(&k, &closed, kBpfAny), -EBADF);
  EXPECT_EQ(m->update(&k, &tmp, kBpfNoExist), -EINVAL);  // BPF_ANY only
  EXPECT_EQ(m->update(&past, &tmp, kBpfAny), -E2BIG);
  close(devnull);
  close(tmp);
  EXPECT_EQ(cg->current_task_under(0), -EAGAIN);
  EXPECT_EQ(cg->current_task_under(4), -E2BIG);
  EXPECT_EQ(m->remove(&k), -ENOENT);
  EXPECT_EQ(m->remove(&past), -E2BIG);
  uint32_t v;
  EXPECT_EQ(m->lookup_copy(&k, &v), -kENOTSUPP);

  const std::string root = cgroup2_root();
  if (root.empty()) GTEST_SKIP() << "no cgroup v2 hierarchy mounted";
  int rootfd = open(root.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(rootfd, 0);
  EXPECT_EQ(m->update(&k, &rootfd, kBpfAny), 0);
  close(rootfd);
  EXPECT_EQ(cg->current_task_under(0), 1);  // every task is under the root
  // A new cgroup holds no task, so this thread is not under it.
  const std::string child = root + "/bpfvm-test-" + std::to_string(getpid());
  if (mkdir(child.c_str(), 0755) == 0) {
    int childfd = open(child.c_str(), O_RDONLY | O_DIRECTORY);
    uint32_t one = 1;
    EXPECT_EQ(m->update(&one, &childfd, kBpfAny), 0);
    EXPECT_EQ(cg->current_task_under(1), 0);
    close(childfd);
    rmdir(child.c_str());
  }
  EXPECT_EQ(m->remove(&k), 0);
  EXPECT_EQ(cg->current_task_under(0), -EAGAIN);
}

// ---- stack_trace ----

TEST(StackTrace, DefinitionsFollowThePerfStackLimits) {
  EXPECT_TRUE(create_map(make_def(MapType::StackTrace, 4, 127 * 8, 10000)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::StackTrace, 4, 128 * 8, 10)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::StackTrace, 4, 12, 10)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::StackTrace, 8, 16, 10)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::StackTrace, 4, 16, 0)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::StackTrace, 4, 16, 10, kBpfFRdonlyProg)).ok());
  constexpr uint32_t kBuildId = 1u << 5;
  EXPECT_FALSE(create_map(make_def(MapType::StackTrace, 4, 16, 10, kBuildId)).ok());  // 32-byte entries
  EXPECT_TRUE(create_map(make_def(MapType::StackTrace, 4, 64, 10, kBuildId)).ok());
}

TEST(StackTrace, NoStackIsRecordedAndTheMapAnswersAsAnEmptyOne) {
  auto m = must_create(make_def(MapType::StackTrace, 4, 16, 10));  // 16 buckets
  uint32_t id = 3, past = 16;
  uint64_t ips[2] = {};
  EXPECT_EQ(m->lookup_copy(&id, ips), -ENOENT);
  EXPECT_EQ(m->update(&id, ips, kBpfAny), -EINVAL);
  EXPECT_EQ(m->remove(&id), -ENOENT);
  EXPECT_EQ(m->remove(&past), -E2BIG);
  uint32_t next;
  EXPECT_EQ(m->get_next_key(nullptr, &next), -ENOENT);
  EXPECT_EQ(StackTraceMap::get_stackid(0), -EFAULT);
  EXPECT_EQ(StackTraceMap::get_stackid(0xff | 1 << 8 | 1 << 9 | 1 << 10), -EFAULT);
  EXPECT_EQ(StackTraceMap::get_stackid(1 << 11), -EINVAL);
}

}  // namespace
}  // namespace bpfvm
