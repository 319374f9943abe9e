#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "maps/array_maps.h"
#include "maps_test_util.h"

namespace bpfvm {
namespace {

using testing::make_def;
using testing::must_create;

TEST(ArrayMap, LookupGivesZeroedStableValueAndUpdateWritesIt) {
  auto m = must_create(make_def(MapType::Array, 4, 12, 3));
  ASSERT_TRUE(m);
  uint32_t k = 1;
  auto* v = static_cast<uint8_t*>(m->lookup(&k));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(v) % 8, 0u);
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(v[i], 0);
  uint8_t val[12];
  std::memset(val, 0xab, sizeof val);
  EXPECT_EQ(m->update(&k, val, kBpfAny), 0);
  EXPECT_EQ(m->lookup(&k), v);  // same storage
  EXPECT_EQ(v[11], 0xab);
  // Values are 8-byte strided: index 2 starts 16 bytes after index 1.
  uint32_t k2 = 2;
  EXPECT_EQ(static_cast<uint8_t*>(m->lookup(&k2)) - v, 16);
}

TEST(ArrayMap, UpdateFlagsAndIndexErrorsAreTheKernels) {
  auto m = must_create(make_def(MapType::Array, 4, 8, 2));
  uint64_t val = 7;
  uint32_t k = 0, out_of_range = 2;
  EXPECT_EQ(m->update(&k, &val, kBpfExist), 0);
  EXPECT_EQ(m->update(&k, &val, kBpfNoExist), -EEXIST);
  EXPECT_EQ(m->update(&k, &val, 3), -EINVAL);
  EXPECT_EQ(m->update(&k, &val, 8), -EINVAL);
  EXPECT_EQ(m->update(&k, &val, kBpfFLock), -EINVAL);  // no bpf_spin_lock in the value
  EXPECT_EQ(m->update(&out_of_range, &val, kBpfAny), -E2BIG);
  EXPECT_EQ(m->lookup(&out_of_range), nullptr);
  EXPECT_EQ(m->remove(&k), -EINVAL);
  uint64_t got = 0;
  EXPECT_EQ(m->lookup_copy(&out_of_range, &got), -ENOENT);
  EXPECT_EQ(m->lookup_copy(&k, &got), 0);
  EXPECT_EQ(got, 7u);
}

TEST(ArrayMap, GetNextKeyVisitsEveryIndexOnceAndRestartsOnBadKey) {
  auto m = must_create(make_def(MapType::Array, 4, 4, 5));
  std::vector<uint32_t> seen;
  uint32_t next;
  const void* prev = nullptr;
  uint32_t cur;
  while (m->get_next_key(prev, &next) == 0) {
    seen.push_back(next);
    cur = next;
    prev = &cur;
    ASSERT_LE(seen.size(), 5u);
  }
  EXPECT_EQ(seen, (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  uint32_t bad = 99;
  ASSERT_EQ(m->get_next_key(&bad, &next), 0);
  EXPECT_EQ(next, 0u);
  uint32_t last = 4;
  EXPECT_EQ(m->get_next_key(&last, &next), -ENOENT);
}

TEST(ArrayMap, InitialValueFillsGlobalData) {
  auto d = make_def(MapType::Array, 4, 4, 1, 0, ".data");
  d.initial_value = {1, 2, 3, 4};
  auto m = must_create(d);
  uint32_t k = 0;
  EXPECT_EQ(std::memcmp(m->lookup(&k), "\x01\x02\x03\x04", 4), 0);
}

TEST(PercpuArray, EachCpuHasItsOwnValueAndSyscallSeesAllRoundedTo8) {
  MapOptions opts;
  opts.num_cpus = 3;
  auto m = must_create(make_def(MapType::PercpuArray, 4, 4, 2), opts);
  EXPECT_EQ(m->copy_value_size(), 24u);  // round_up(4, 8) * 3
  uint32_t k = 1;
  for (uint32_t c = 0; c < 3; ++c) {
    ScopedCpu cpu(c);
    uint32_t v = 100 + c;
    EXPECT_EQ(m->update(&k, &v, kBpfAny), 0);
  }
  {
    ScopedCpu cpu(1);
    EXPECT_EQ(*static_cast<uint32_t*>(m->lookup(&k)), 101u);
  }
  std::vector<uint8_t> all(24, 0xee);
  ASSERT_EQ(m->lookup_copy(&k, all.data()), 0);
  for (uint32_t c = 0; c < 3; ++c) {
    uint32_t v;
    std::memcpy(&v, all.data() + 8 * c, 4);
    EXPECT_EQ(v, 100 + c);
    uint32_t pad;
    std::memcpy(&pad, all.data() + 8 * c + 4, 4);
    EXPECT_EQ(pad, 0u) << "padding is zeroed";
  }
  // Syscall update sets every CPU from the 8-byte strided buffer.
  std::vector<uint8_t> in(24, 0);
  for (uint32_t c = 0; c < 3; ++c) {
    uint32_t v = 7 * (c + 1);
    std::memcpy(in.data() + 8 * c, &v, 4);
  }
  ASSERT_EQ(m->update_copy(&k, in.data(), kBpfAny), 0);
  ScopedCpu cpu(2);
  EXPECT_EQ(*static_cast<uint32_t*>(m->lookup(&k)), 21u);
}

TEST(ProgArray, StoresProgramHandlesForTailCallsOnly) {
  auto m = must_create(make_def(MapType::ProgArray, 4, 4, 4));
  auto* pa = static_cast<ProgArrayMap*>(m.get());
  uint32_t k = 2, id = 0;  // id 0 is a valid handle
  EXPECT_FALSE(pa->get_prog(2).has_value());
  EXPECT_EQ(m->update(&k, &id, kBpfNoExist), -EINVAL);  // only BPF_ANY
  EXPECT_EQ(m->update(&k, &id, kBpfAny), 0);
  ASSERT_TRUE(pa->get_prog(2).has_value());
  EXPECT_EQ(*pa->get_prog(2), 0u);
  EXPECT_EQ(m->lookup(&k), nullptr);  // programs cannot look up a prog array
  uint32_t got = 99;
  EXPECT_EQ(m->lookup_copy(&k, &got), 0);
  EXPECT_EQ(got, 0u);
  uint32_t big = 4;
  EXPECT_EQ(m->update(&big, &id, kBpfAny), -E2BIG);
  EXPECT_EQ(m->remove(&big), -E2BIG);
  EXPECT_EQ(m->remove(&k), 0);
  EXPECT_EQ(m->remove(&k), -ENOENT);
  EXPECT_FALSE(pa->get_prog(2).has_value());
  EXPECT_FALSE(pa->get_prog(1000).has_value());
}

TEST(ArrayOfMaps, HoldsMatchingInnerMapsAndRejectsOthers) {
  MapSet set;
  MapDef inner = make_def(MapType::Hash, 4, 8, 16, 0, "inner");
  MapDef outer = make_def(MapType::ArrayOfMaps, 4, 4, 2, 0, "outer");
  outer.inner.push_back(inner);
  auto o = set.create(outer);
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  auto i1 = set.create(inner);
  ASSERT_TRUE(i1.ok());
  MapDef other = inner;
  other.value_size = 16;
  auto i2 = set.create(other);
  ASSERT_TRUE(i2.ok());
  MapDef bigger = inner;
  bigger.max_entries = 32;
  auto i3 = set.create(bigger);
  ASSERT_TRUE(i3.ok());

  auto* aom = static_cast<ArrayOfMapsMap*>(*o);
  uint32_t k = 1;
  EXPECT_EQ(aom->update_map(&k, *i2, kBpfAny), -EINVAL);  // value size differs
  EXPECT_EQ(aom->update_map(&k, *i3, kBpfAny), -EINVAL);  // max_entries differs, no BPF_F_INNER_MAP
  EXPECT_EQ(aom->update_map(&k, nullptr, kBpfAny), -EBADF);
  EXPECT_EQ(aom->update_map(&k, *i1, kBpfNoExist), -EINVAL);
  uint32_t bad = 2;
  EXPECT_EQ(aom->update_map(&bad, *i1, kBpfAny), -E2BIG);
  EXPECT_EQ(aom->update_map(&k, *i1, kBpfAny), 0);
  EXPECT_EQ(aom->lookup(&k), static_cast<void*>(*i1));
  uint32_t id = 0;
  EXPECT_EQ(aom->lookup_copy(&k, &id), 0);
  EXPECT_EQ(id, (*i1)->id());
  uint32_t k0 = 0;
  EXPECT_EQ(aom->lookup(&k0), nullptr);
  EXPECT_EQ(aom->remove(&k), 0);
  EXPECT_EQ(aom->remove(&k), -ENOENT);

  // With BPF_F_INNER_MAP (arrays only) in the inner definition, max_entries may differ.
  MapDef outer2 = outer;
  outer2.name = "outer2";
  outer2.inner[0] = make_def(MapType::Array, 4, 8, 4, kBpfFInnerMap, "inner_array");
  auto o2 = set.create(outer2);
  ASSERT_TRUE(o2.ok()) << o2.error().to_string();
  auto i4 = set.create(make_def(MapType::Array, 4, 8, 100, kBpfFInnerMap, "flexible"));
  ASSERT_TRUE(i4.ok()) << i4.error().to_string();
  EXPECT_EQ(static_cast<ArrayOfMapsMap*>(*o2)->update_map(&k, *i4, kBpfAny), 0);
  auto i5 = set.create(make_def(MapType::Array, 4, 8, 100, 0, "rigid"));
  ASSERT_TRUE(i5.ok());
  EXPECT_EQ(static_cast<ArrayOfMapsMap*>(*o2)->update_map(&k, *i5, kBpfAny), -EINVAL);  // flags differ
}

}  // namespace
}  // namespace bpfvm
