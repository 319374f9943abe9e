#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "maps/hash_maps.h"
#include "maps_test_util.h"

namespace bpfvm {
namespace {

using testing::make_def;
using testing::must_create;

std::multiset<uint32_t> all_keys(Map& m) {
  std::multiset<uint32_t> keys;
  uint32_t next, cur;
  const void* prev = nullptr;
  while (m.get_next_key(prev, &next) == 0) {
    keys.insert(next);
    cur = next;
    prev = &cur;
    if (keys.size() > 100000) break;
  }
  return keys;
}

TEST(HashMap, FlagsGiveTheKernelsErrnos) {
  auto m = must_create(make_def(MapType::Hash, 4, 8, 4));
  uint32_t k = 10;
  uint64_t v = 1;
  EXPECT_EQ(m->update(&k, &v, kBpfExist), -ENOENT);
  EXPECT_EQ(m->update(&k, &v, kBpfNoExist), 0);
  EXPECT_EQ(m->update(&k, &v, kBpfNoExist), -EEXIST);
  v = 2;
  EXPECT_EQ(m->update(&k, &v, kBpfExist), 0);
  EXPECT_EQ(*static_cast<uint64_t*>(m->lookup(&k)), 2u);
  EXPECT_EQ(m->update(&k, &v, 3), -EINVAL);
  EXPECT_EQ(m->update(&k, &v, kBpfFLock), -EINVAL);
  uint32_t missing = 11;
  EXPECT_EQ(m->lookup(&missing), nullptr);
  EXPECT_EQ(m->remove(&missing), -ENOENT);
  EXPECT_EQ(m->remove(&k), 0);
  EXPECT_EQ(m->lookup(&k), nullptr);
  uint64_t out;
  EXPECT_EQ(m->lookup_copy(&k, &out), -ENOENT);
}

TEST(HashMap, FullMapRefusesNewKeysWithE2bigButReplacesExisting) {
  auto m = must_create(make_def(MapType::Hash, 4, 4, 3));
  for (uint32_t k = 0; k < 3; ++k)
    ASSERT_EQ(m->update(&k, &k, kBpfAny), 0);
  uint32_t k = 3, v = 9;
  EXPECT_EQ(m->update(&k, &v, kBpfAny), -E2BIG);
  uint32_t k1 = 1;
  EXPECT_EQ(m->update(&k1, &v, kBpfAny), 0);
  EXPECT_EQ(*static_cast<uint32_t*>(m->lookup(&k1)), 9u);
  ASSERT_EQ(m->remove(&k1), 0);
  EXPECT_EQ(m->update(&k, &v, kBpfAny), 0);  // the freed slot is reused
  EXPECT_EQ(static_cast<HashMap*>(m.get())->count(), 3u);
}

TEST(HashMap, ValuePointersAreAlignedAndStable) {
  auto m = must_create(make_def(MapType::Hash, 3, 5, 64));
  uint8_t key[3] = {1, 2, 3};
  uint8_t val[5] = {9, 9, 9, 9, 9};
  ASSERT_EQ(m->update(key, val, kBpfAny), 0);
  void* p = m->lookup(key);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 8, 0u);
  // Many more inserts (new chunks) do not move the element.
  for (uint32_t i = 0; i < 60; ++i) {
    uint8_t k2[3] = {uint8_t(i), uint8_t(i >> 8), 0xff};
    ASSERT_EQ(m->update(k2, val, kBpfAny), 0);
  }
  EXPECT_EQ(m->lookup(key), p);
  static_cast<uint8_t*>(p)[0] = 42;  // programs write through the pointer
  uint8_t out[5];
  ASSERT_EQ(m->lookup_copy(key, out), 0);
  EXPECT_EQ(out[0], 42);
}

TEST(HashMap, GetNextKeyCoversAllKeysOnceAndRestartsFromAMissingKey) {
  auto m = must_create(make_def(MapType::Hash, 4, 4, 200));
  std::multiset<uint32_t> expect;
  for (uint32_t k = 0; k < 150; ++k) {
    uint32_t key = k * 7919;
    ASSERT_EQ(m->update(&key, &k, kBpfAny), 0);
    expect.insert(key);
  }
  EXPECT_EQ(all_keys(*m), expect);
  uint32_t first, again, missing = 5;
  ASSERT_EQ(m->get_next_key(nullptr, &first), 0);
  ASSERT_EQ(m->get_next_key(&missing, &again), 0);
  EXPECT_EQ(first, again);
  auto empty = must_create(make_def(MapType::Hash, 4, 4, 4));
  EXPECT_EQ(empty->get_next_key(nullptr, &first), -ENOENT);
}

TEST(PercpuHash, ProgramUpdatesTouchOneCpuAndSyscallSeesAll) {
  MapOptions opts;
  opts.num_cpus = 2;
  auto m = must_create(make_def(MapType::PercpuHash, 4, 12, 8), opts);
  EXPECT_EQ(m->copy_value_size(), 32u);  // round_up(12, 8) * 2
  uint32_t k = 5;
  uint8_t v[12];
  std::memset(v, 0x11, sizeof v);
  {
    ScopedCpu cpu(1);
    ASSERT_EQ(m->update(&k, v, kBpfNoExist), 0);
    EXPECT_EQ(static_cast<uint8_t*>(m->lookup(&k))[0], 0x11);
  }
  {
    ScopedCpu cpu(0);
    EXPECT_EQ(static_cast<uint8_t*>(m->lookup(&k))[0], 0) << "a new element is zero on the other CPUs";
  }
  std::vector<uint8_t> all(32, 0xee);
  ASSERT_EQ(m->lookup_copy(&k, all.data()), 0);
  EXPECT_EQ(all[0], 0);
  EXPECT_EQ(all[12], 0) << "padding zeroed";
  EXPECT_EQ(all[16], 0x11);
  EXPECT_EQ(all[27], 0x11);
  EXPECT_EQ(all[28], 0);
  std::vector<uint8_t> in(32, 0x22);
  ASSERT_EQ(m->update_copy(&k, in.data(), kBpfExist), 0);
  ScopedCpu cpu(0);
  EXPECT_EQ(static_cast<uint8_t*>(m->lookup(&k))[11], 0x22);
}

TEST(LruHash, EvictsTheLeastRecentlyUsedAndLookupRefreshes) {
  auto m = must_create(make_def(MapType::LruHash, 4, 4, 3));
  for (uint32_t k = 1; k <= 3; ++k)
    ASSERT_EQ(m->update(&k, &k, kBpfAny), 0);
  uint32_t k1 = 1;
  ASSERT_NE(m->lookup(&k1), nullptr);  // order now (oldest first): 2, 3, 1
  uint32_t k4 = 4;
  ASSERT_EQ(m->update(&k4, &k4, kBpfAny), 0);  // evicts 2
  uint32_t k2 = 2, k3 = 3;
  EXPECT_EQ(m->lookup(&k2), nullptr);
  EXPECT_NE(m->lookup(&k3), nullptr);  // order: 1, 4, 3
  uint32_t k5 = 5;
  ASSERT_EQ(m->update(&k5, &k5, kBpfAny), 0);  // evicts 1
  EXPECT_EQ(m->lookup(&k1), nullptr);
  EXPECT_NE(m->lookup(&k4), nullptr);
  EXPECT_NE(m->lookup(&k5), nullptr);
  EXPECT_EQ(static_cast<HashMap*>(m.get())->count(), 3u);
  // Updating an existing key refreshes it too (order: 3, 4, 5 -> update 3 -> 4, 5, 3).
  ASSERT_EQ(m->update(&k3, &k3, kBpfExist), 0);
  uint32_t k6 = 6;
  ASSERT_EQ(m->update(&k6, &k6, kBpfAny), 0);  // evicts 4
  EXPECT_EQ(m->lookup(&k4), nullptr);
  EXPECT_NE(m->lookup(&k3), nullptr);
  // lookup_copy (syscall side) does not refresh: order 5, 6, 3 -> copy 5 -> insert 7 evicts 5.
  uint32_t out;
  ASSERT_EQ(m->lookup_copy(&k5, &out), 0);
  uint32_t k7 = 7;
  ASSERT_EQ(m->update(&k7, &k7, kBpfAny), 0);
  EXPECT_EQ(m->lookup(&k5), nullptr);
  EXPECT_EQ(m->update(&k7, &k7, kBpfNoExist), -EEXIST);
  uint32_t k8 = 8;
  EXPECT_EQ(m->update(&k8, &k8, kBpfExist), -ENOENT);
}

TEST(LruPercpuHash, EvictsAndKeepsPerCpuValues) {
  MapOptions opts;
  opts.num_cpus = 2;
  auto m = must_create(make_def(MapType::LruPercpuHash, 4, 8, 2), opts);
  for (uint32_t k = 0; k < 3; ++k) {
    ScopedCpu cpu(k % 2);
    uint64_t v = 100 + k;
    ASSERT_EQ(m->update(&k, &v, kBpfAny), 0);
  }
  uint32_t k0 = 0, k2 = 2;
  EXPECT_EQ(m->lookup(&k0), nullptr);
  ScopedCpu cpu(0);
  EXPECT_EQ(*static_cast<uint64_t*>(m->lookup(&k2)), 102u);
}

TEST(HashOfMaps, StoresInnerMapsByKey) {
  MapSet set;
  MapDef outer = make_def(MapType::HashOfMaps, 8, 4, 4, 0, "outer");
  outer.inner.push_back(make_def(MapType::Array, 4, 4, 2, 0, "inner"));
  auto o = set.create(outer);
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  auto in = set.create(outer.inner[0]);
  ASSERT_TRUE(in.ok());
  auto wrong = set.create(make_def(MapType::Hash, 4, 4, 2, 0, "wrong"));
  ASSERT_TRUE(wrong.ok());
  auto* hom = static_cast<HashOfMapsMap*>(*o);
  uint64_t key = 0x1122334455667788ULL;
  EXPECT_EQ(hom->update_map(&key, *wrong, kBpfAny), -EINVAL);
  EXPECT_EQ(hom->update_map(&key, *in, kBpfExist), -ENOENT);
  EXPECT_EQ(hom->update_map(&key, *in, kBpfAny), 0);
  EXPECT_EQ(hom->update_map(&key, *in, kBpfNoExist), -EEXIST);
  EXPECT_EQ(hom->update(&key, &key, kBpfAny), -EINVAL);
  Map* got = static_cast<Map*>(hom->lookup(&key));
  ASSERT_EQ(got, *in);
  uint32_t ik = 1, iv = 77;
  EXPECT_EQ(got->update(&ik, &iv, kBpfAny), 0);
  uint32_t id = 0;
  EXPECT_EQ(hom->lookup_copy(&key, &id), 0);
  EXPECT_EQ(id, (*in)->id());
  uint64_t next;
  EXPECT_EQ(hom->get_next_key(nullptr, &next), 0);
  EXPECT_EQ(next, key);
  EXPECT_EQ(hom->get_next_key(&key, &next), -ENOENT);
  EXPECT_EQ(hom->remove(&key), 0);
  EXPECT_EQ(hom->lookup(&key), nullptr);
}

}  // namespace
}  // namespace bpfvm
