// The backend interface (vm/runtime/backend.h) itself, the same checks on both backends: verdicts and
// kernel-format logs, map access from user space, test runs of rejected programs, bad arguments.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "vm/runtime/backend.h"

namespace bpfvm {
namespace {

std::string corpus(const std::string& name) {
  return std::string(BPFVM_CORPUS_OBJ_DIR) + "/" + name + ".o";
}

class BothBackends : public ::testing::TestWithParam<BackendKind> {
 protected:
  std::unique_ptr<Backend> open(const std::string& object) {
    if (GetParam() == BackendKind::Kernel) {
      if (Status st = kernel_available(); !st) {
        skip_ = st.error().msg;
        return nullptr;
      }
    }
    BackendOptions bo;
    bo.object.seed = 1;
    bo.object.trace_out = nullptr;
    bo.object.num_cpus = 2;
    auto b = open_backend(GetParam(), corpus(object), bo);
    EXPECT_TRUE(b.ok()) << b.error().to_string();
    return b ? std::move(*b) : nullptr;
  }
  std::string skip_;
};

#define OPEN_OR_SKIP(var, object)            \
  auto var = open(object);                   \
  if (!skip_.empty()) GTEST_SKIP() << skip_; \
  ASSERT_NE(var, nullptr)

TEST(Backend, NamesParseBothWays) {
  EXPECT_EQ(*parse_backend("user"), BackendKind::User);
  EXPECT_EQ(*parse_backend("kernel"), BackendKind::Kernel);
  EXPECT_STREQ(backend_name(BackendKind::Kernel), "kernel");
  auto bad = parse_backend("ebpf");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadInput);
}

TEST(Backend, BpfvmVerdictsBecomeAKernelStyleLog) {
  verifier::VerifyResult r;
  r.accepted = false;
  r.stats.insns_analysed = 42;
  r.stats.peak_states = 3;
  verifier::Diagnostic d;
  d.kind = verifier::ErrorKind::OutOfBounds;
  d.pc = 7;
  d.insn = "ldxw %r0, [%r2+10]";
  d.regs = "R2=pkt(off=0,r=0)";
  d.message = "read of 4 bytes at offset 10 of the packet is not proven below data_end";
  r.errors.push_back(d);
  verifier::VerifyOptions vo;
  EXPECT_EQ(
      kernel_style_log(r, vo),
      "7: (ldxw %r0, [%r2+10])\nR2=pkt(off=0,r=0)\nread of 4 bytes at offset 10 of the packet is not proven "
      "below data_end\nprocessed 42 insns (limit 1000000) max_states_per_insn 0 total_states 3 peak_states 3 "
      "mark_read 0\n");
}

TEST_P(BothBackends, AnAcceptedProgramHasAStatisticsLine) {
  OPEN_OR_SKIP(b, "parse_l4");
  ASSERT_TRUE(b->load().ok());
  auto i = b->select_program("xdp_parse_l4");
  ASSERT_TRUE(i.ok()) << i.error().to_string();
  const ProgramVerdict& v = b->verdict(*i);
  EXPECT_TRUE(v.accepted) << v.error << "\n" << v.log;
  EXPECT_TRUE(v.error.empty());
  EXPECT_GT(v.insns_processed, 0u);
  EXPECT_NE(v.log.find("processed " + std::to_string(v.insns_processed) + " insns (limit 1000000)"),
            std::string::npos)
      << v.log;
}

TEST_P(BothBackends, TheProgramsOfAnObjectKeepTheirOwnVerdicts) {
  // bpf2bpf_calls: xdp_calls is accepted everywhere; bpfvm also lists the .text functions, and
  // rejects `accumulate` alone (its argument is not a context there).
  OPEN_OR_SKIP(b, "bpf2bpf_calls");
  ASSERT_TRUE(b->load().ok());
  int entry = b->find_program("xdp_calls");
  ASSERT_GE(entry, 0);
  EXPECT_TRUE(b->verdict(entry).accepted) << b->verdict(entry).log;
  if (GetParam() == BackendKind::User) {
    int sub = b->find_program("accumulate");
    ASSERT_GE(sub, 0);
    const ProgramVerdict& v = b->verdict(sub);
    EXPECT_FALSE(v.accepted);
    EXPECT_NE(v.error.find("InvalidCtxAccess"), std::string::npos) << v.error;
    EXPECT_NE(v.log.find("invalid context read"), std::string::npos) << v.log;
    EXPECT_NE(v.log.find("processed "), std::string::npos) << v.log;
    auto run = b->test_run(static_cast<size_t>(sub), TestRunInput{});
    ASSERT_FALSE(run.ok());
    EXPECT_EQ(run.error().code, ErrorCode::kVerifier);
  }
}

TEST_P(BothBackends, MapsCanBeUpdatedReadAndIteratedFromUserSpace) {
  OPEN_OR_SKIP(b, "hash_ops");
  ASSERT_TRUE(b->load().ok());
  int m = b->find_map("kv");
  ASSERT_GE(m, 0);
  EXPECT_EQ(b->map(m).type, MapType::Hash);
  EXPECT_EQ(b->value_buffer_size(m), 8u);
  const std::vector<uint8_t> k1 = {1, 0, 0, 0}, k2 = {2, 0, 0, 0};
  const std::vector<uint8_t> v1 = {0xaa, 0, 0, 0, 0, 0, 0, 0x11}, v2 = {0xbb, 0, 0, 0, 0, 0, 0, 0x22};
  ASSERT_TRUE(b->map_update(m, k2, v2).ok());
  ASSERT_TRUE(b->map_update(m, k1, v1).ok());
  auto got = b->map_lookup(m, k1);
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, v1);
  auto none = b->map_lookup(m, std::vector<uint8_t>{9, 0, 0, 0});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto entries = b->read_map(m);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].key, k1);  // sorted by key bytes
  EXPECT_EQ((*entries)[1].values.at(0), v2);
  // BPF_NOEXIST on an existing key fails, as in the kernel.
  EXPECT_FALSE(b->map_update(m, k1, v2, 1).ok());
  // A key of the wrong size is an error naming the map.
  auto bad = b->map_lookup(m, std::vector<uint8_t>{1, 0});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().msg.find("kv"), std::string::npos) << bad.error().msg;
}

TEST_P(BothBackends, PerCpuValuesComeOnePerCpuPaddedToEightBytes) {
  OPEN_OR_SKIP(b, "percpu_counters");
  ASSERT_TRUE(b->load().ok());
  int m = -1;
  for (size_t i = 0; i < b->num_maps(); i++)
    if (b->map(i).per_cpu) m = static_cast<int>(i);
  ASSERT_GE(m, 0) << "percpu_counters has a per-CPU map";
  const BackendMap& d = b->map(m);
  EXPECT_EQ(b->value_buffer_size(m), (d.value_size + 7) / 8 * 8 * b->num_cpus());
  std::vector<uint8_t> key(d.key_size, 0);
  auto v = b->map_lookup(m, key);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  if (v->has_value()) {
    EXPECT_EQ((*v)->size(), b->value_buffer_size(m));
  }
}

TEST_P(BothBackends, ATestRunReturnsR0AndTheGrownPacket) {
  OPEN_OR_SKIP(b, "xdp_adjust");
  ASSERT_TRUE(b->load().ok());
  auto i = b->select_program("xdp_add_trailer");
  ASSERT_TRUE(i.ok());
  TestRunInput in;
  in.data_in.assign(64, 0);
  in.data_in[12] = 0x08;  // IPv4
  // One repetition: with more, the kernel keeps growing the same XDP buffer while bpfvm resets the
  // packet before each run (ContextInput::repeat), a difference bpfvm diff --repeat shows.
  in.repeat = 1;
  auto out = b->test_run(*i, in);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(out->data_out.size(), 68u);  // the trailer grew the packet by 4 bytes
  EXPECT_TRUE(out->ctx_out.empty());     // no context given, none returned
}

TEST_P(BothBackends, SelectingAMissingProgramListsTheProgramsThereAre) {
  OPEN_OR_SKIP(b, "xdp_adjust");
  auto i = b->select_program("nope");
  ASSERT_FALSE(i.ok());
  EXPECT_NE(i.error().msg.find("xdp_add_trailer"), std::string::npos) << i.error().msg;
  auto several = b->select_program("");
  ASSERT_FALSE(several.ok());
  EXPECT_NE(several.error().msg.find("--program"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends,
                         BothBackends,
                         ::testing::Values(BackendKind::User, BackendKind::Kernel),
                         [](const ::testing::TestParamInfo<BackendKind>& p) {
                           return std::string(backend_name(p.param));
                         });

}  // namespace
}  // namespace bpfvm
