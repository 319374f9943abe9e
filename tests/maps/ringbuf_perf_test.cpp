#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "maps/perf_event_array.h"
#include "maps/ringbuf.h"
#include "maps_test_util.h"

namespace bpfvm {
namespace {

using testing::make_def;
using testing::must_create;

std::vector<std::string> drain(RingbufMap& rb) {
  std::vector<std::string> out;
  int n = rb.consume([&](const void* d, uint32_t len) {
    out.emplace_back(static_cast<const char*>(d), len);
    return 0;
  });
  EXPECT_EQ(n, int(out.size()));
  return out;
}

std::unique_ptr<Map> ringbuf(uint32_t size = 4096) {
  return must_create(make_def(MapType::Ringbuf, 0, 0, size));
}

TEST(Ringbuf, RecordsComeOutInOrderAndDiscardedOnesAreSkipped) {
  auto m = ringbuf();
  auto* rb = static_cast<RingbufMap*>(m.get());
  ASSERT_EQ(rb->output("one", 3, 0), 0);
  char* r2 = static_cast<char*>(rb->reserve(5, 0));
  ASSERT_NE(r2, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(r2) % 8, 0u);
  std::memcpy(r2, "two!!", 5);
  void* r3 = rb->reserve(4, 0);
  ASSERT_NE(r3, nullptr);
  void* r4 = rb->reserve(4, 0);
  std::memcpy(r4, "four", 4);
  // Header: len with the busy bit while reserved, 8 bytes before the sample.
  uint32_t hdr;
  std::memcpy(&hdr, r2 - 8, 4);
  EXPECT_EQ(hdr, 5u | kRingbufBusyBit);
  // Positions: 8+3 -> 16, 8+5 -> 16, 8+4 -> 16 (x2).
  EXPECT_EQ(rb->query(kBpfRbProdPos), 64u);
  EXPECT_EQ(rb->query(kBpfRbAvailData), 64u);
  EXPECT_EQ(rb->query(kBpfRbRingSize), 4096u);
  EXPECT_EQ(rb->query(99), 0u);
  // The consumer stops at the first record still reserved.
  EXPECT_EQ(drain(*rb), (std::vector<std::string>{"one"}));
  rb->submit(r2, 0);
  rb->submit(r4, kBpfRbNoWakeup);  // after the still-busy r3: not visible yet
  EXPECT_EQ(drain(*rb), (std::vector<std::string>{"two!!"}));
  rb->discard(r3, kBpfRbForceWakeup);
  std::memcpy(&hdr, static_cast<char*>(r3) - 8, 4);
  EXPECT_EQ(hdr, 4u | kRingbufDiscardBit);
  EXPECT_EQ(drain(*rb), (std::vector<std::string>{"four"}));
  EXPECT_EQ(rb->query(kBpfRbConsPos), 64u);
  EXPECT_EQ(rb->query(kBpfRbAvailData), 0u);
  EXPECT_TRUE(rb->owns(r2));
  int local;
  EXPECT_FALSE(rb->owns(&local));
}

TEST(Ringbuf, FullRingRefusesWithNullAndEagainThenWrapsAround) {
  auto m = ringbuf(4096);
  auto* rb = static_cast<RingbufMap*>(m.get());
  std::string big(1000, 'a');
  // 1000 + 8 = 1008 bytes per record: 4 fit (4032 <= 4095), a fifth does not.
  for (int i = 0; i < 4; ++i) {
    big[0] = char('0' + i);
    ASSERT_EQ(rb->output(big.data(), big.size(), 0), 0) << i;
  }
  EXPECT_EQ(rb->reserve(1000, 0), nullptr);
  EXPECT_EQ(rb->output(big.data(), big.size(), 0), -EAGAIN);
  EXPECT_EQ(rb->output(big.data(), 8, 4), -EINVAL);  // unknown flag
  EXPECT_EQ(rb->reserve(8, 1), nullptr);             // reserve takes no flags
  EXPECT_EQ(rb->reserve(4096, 0), nullptr);          // can never fit
  // A record that fits exactly in what is left (4095 - 4032 = 63 -> 56 bytes = 8 + 48).
  void* pending = rb->reserve(48, 0);
  ASSERT_NE(pending, nullptr);
  std::memset(pending, 'p', 48);
  EXPECT_EQ(rb->reserve(1, 0), nullptr);
  std::vector<std::string> got;
  int n = rb->consume([&](const void* d, uint32_t len) {
    got.emplace_back(static_cast<const char*>(d), len);
    return got.size() == 2 ? -7 : 0;  // stop after the second record
  });
  EXPECT_EQ(n, -7);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1][0], '1');
  EXPECT_EQ(rb->query(kBpfRbConsPos), 2016u);
  // Now a record crossing the end of the ring: prod is at 4088, the sample wraps past 4096.
  ASSERT_EQ(drain(*rb).size(), 2u);  // the two 1000-byte records left; stops at the busy 48-byte one
  std::string wrap(1500, 'w');
  for (int i = 0; i < 1500; ++i)
    wrap[i] = char('a' + i % 26);
  ASSERT_EQ(rb->output(wrap.data(), wrap.size(), 0), 0) << "a busy record blocks the consumer, not producers";
  EXPECT_TRUE(drain(*rb).empty());
  rb->submit(pending, 0);
  auto last = drain(*rb);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0], std::string(48, 'p'));
  EXPECT_EQ(last[1], wrap);
  EXPECT_EQ(rb->query(kBpfRbAvailData), 0u);
}

TEST(Ringbuf, RecordsWrapAroundTheEndIntact) {
  auto m = ringbuf(4096);
  auto* rb = static_cast<RingbufMap*>(m.get());
  std::string rec(1500, 'x');
  int produced = 0;
  std::vector<std::string> got;
  for (int round = 0; round < 12; ++round) {
    for (int i = 0; i < 2; ++i) {
      for (size_t j = 0; j < rec.size(); ++j)
        rec[j] = char('a' + (j + produced) % 26);
      ASSERT_EQ(rb->output(rec.data(), rec.size(), 0), 0) << "round " << round;
      ++produced;
    }
    rb->consume([&](const void* d, uint32_t len) {
      got.emplace_back(static_cast<const char*>(d), len);
      return 0;
    });
  }
  ASSERT_EQ(got.size(), 24u);
  for (int p = 0; p < 24; ++p) {
    for (size_t j = 0; j < got[p].size(); ++j) {
      ASSERT_EQ(got[p][j], char('a' + (j + p) % 26)) << "record " << p << " byte " << j;
    }
  }
  EXPECT_GT(rb->query(kBpfRbProdPos), 4096u * 8);
}

TEST(Ringbuf, DefinitionMustBeAPowerOfTwoPageMultipleWithoutKeyOrValue) {
  EXPECT_FALSE(create_map(make_def(MapType::Ringbuf, 0, 0, 4096 * 3)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::Ringbuf, 0, 0, 2048)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::Ringbuf, 4, 0, 4096)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::Ringbuf, 0, 8, 4096)).ok());
  EXPECT_TRUE(create_map(make_def(MapType::Ringbuf, 0, 0, 1 << 16)).ok());
}

TEST(PerfEventArray, OutputGoesToTheCurrentCpusBuffer) {
  MapOptions opts;
  opts.num_cpus = 2;
  opts.perf_buffer_bytes = 64;
  auto m = must_create(make_def(MapType::PerfEventArray, 4, 4, 0), opts);
  EXPECT_EQ(m->def().max_entries, 2u) << "libbpf default: one slot per CPU";
  auto* pe = static_cast<PerfEventArrayMap*>(m.get());
  {
    ScopedCpu cpu(1);
    EXPECT_EQ(pe->output(kBpfFCurrentCpu, "hello", 5), 0);
    EXPECT_EQ(pe->output(1, "again", 5), 0);
    EXPECT_EQ(pe->output(0, "other", 5), -EOPNOTSUPP);
    EXPECT_EQ(pe->output(2, "x", 1), -E2BIG);
    EXPECT_EQ(pe->output(1ULL << 32, "x", 1), -EINVAL);
  }
  {
    ScopedCpu cpu(0);
    EXPECT_EQ(pe->output(kBpfFCurrentCpu, "abcd", 4), 0);
  }
  std::vector<std::tuple<uint32_t, std::string, uint32_t>> got;
  int n = pe->consume([&](uint32_t cpu, const void* d, uint32_t size) {
    got.emplace_back(cpu, std::string(static_cast<const char*>(d), 5 < size ? 5 : size), size);
  });
  EXPECT_EQ(n, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], std::make_tuple(0u, std::string("abcd"), 4u));    // 4 + 4 is already 8-aligned
  EXPECT_EQ(got[1], std::make_tuple(1u, std::string("hello"), 12u));  // 4 + 5 padded to 16
  EXPECT_EQ(got[2], std::make_tuple(1u, std::string("again"), 12u));
  EXPECT_EQ(pe->consume([](uint32_t, const void*, uint32_t) {}), 0);
}

TEST(PerfEventArray, FullBufferLosesSamplesWithEnospc) {
  MapOptions opts;
  opts.num_cpus = 1;
  opts.perf_buffer_bytes = 64;  // each 20-byte sample takes 8 + 4 + 20 = 32 bytes
  auto m = must_create(make_def(MapType::PerfEventArray, 4, 4, 4), opts);
  auto* pe = static_cast<PerfEventArrayMap*>(m.get());
  char data[20] = {};
  EXPECT_EQ(pe->output(kBpfFCurrentCpu, data, 20), 0);
  EXPECT_EQ(pe->output(kBpfFCurrentCpu, data, 20), 0);
  EXPECT_EQ(pe->output(kBpfFCurrentCpu, data, 20), -ENOSPC);
  EXPECT_EQ(pe->lost(0), 1u);
  uint32_t idx = 3;
  EXPECT_EQ(pe->output(idx, data, 1), -ENOENT) << "no event at indexes past the CPUs";
  EXPECT_EQ(pe->consume([](uint32_t, const void*, uint32_t) {}), 2);
  EXPECT_EQ(pe->output(kBpfFCurrentCpu, data, 20), 0) << "room again after consuming";
}

}  // namespace
}  // namespace bpfvm
