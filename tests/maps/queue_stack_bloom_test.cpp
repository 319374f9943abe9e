#include <gtest/gtest.h>

#include <vector>

#include "maps/queue_stack.h"
#include "maps_test_util.h"

namespace bpfvm {
namespace {

using testing::make_def;
using testing::must_create;

std::vector<uint32_t> pop_all(Map& m) {
  std::vector<uint32_t> out;
  uint32_t v;
  while (m.pop(&v) == 0) {
    out.push_back(v);
    if (out.size() > 100) break;
  }
  return out;
}

TEST(QueueMap, FifoWithE2bigWhenFullAndBpfExistOverwritingTheOldest) {
  auto m = must_create(make_def(MapType::Queue, 0, 4, 3));
  uint32_t v;
  EXPECT_EQ(m->pop(&v), -ENOENT);
  EXPECT_EQ(m->peek(&v), -ENOENT);
  for (uint32_t i = 1; i <= 3; ++i)
    ASSERT_EQ(m->push(&i, kBpfAny), 0);
  uint32_t four = 4;
  EXPECT_EQ(m->push(&four, kBpfAny), -E2BIG);
  EXPECT_EQ(m->push(&four, kBpfNoExist), -EINVAL);
  EXPECT_EQ(m->push(&four, 4), -EINVAL);
  EXPECT_EQ(m->push(&four, kBpfExist), 0);  // drops 1
  ASSERT_EQ(m->peek(&v), 0);
  EXPECT_EQ(v, 2u);
  EXPECT_EQ(m->lookup_copy(nullptr, &v), 0);  // syscall lookup peeks
  EXPECT_EQ(v, 2u);
  EXPECT_EQ(pop_all(*m), (std::vector<uint32_t>{2, 3, 4}));
  // Wrap the internal ring several times.
  for (uint32_t i = 0; i < 10; ++i) {
    ASSERT_EQ(m->push(&i, kBpfAny), 0);
    ASSERT_EQ(m->pop(&v), 0);
    ASSERT_EQ(v, i);
  }
  EXPECT_EQ(m->lookup(nullptr), nullptr);
  EXPECT_EQ(m->update(nullptr, &v, kBpfAny), -EINVAL);
  EXPECT_EQ(m->remove(nullptr), -EINVAL);
  EXPECT_EQ(m->get_next_key(nullptr, &v), -EINVAL);
}

TEST(StackMap, LifoAndBpfExistDropsTheOldest) {
  auto m = must_create(make_def(MapType::Stack, 0, 4, 3));
  for (uint32_t i = 1; i <= 3; ++i)
    ASSERT_EQ(m->push(&i, kBpfAny), 0);
  uint32_t four = 4, v;
  EXPECT_EQ(m->push(&four, kBpfAny), -E2BIG);
  EXPECT_EQ(m->push(&four, kBpfExist), 0);  // drops 1, the bottom
  ASSERT_EQ(m->peek(&v), 0);
  EXPECT_EQ(v, 4u);
  EXPECT_EQ(pop_all(*m), (std::vector<uint32_t>{4, 3, 2}));
  EXPECT_EQ(m->pop(&v), -ENOENT);
}

TEST(QueueStack, DefinitionsNeedNoKeyAndAValue) {
  EXPECT_FALSE(create_map(make_def(MapType::Queue, 4, 4, 3)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::Stack, 0, 0, 3)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::Stack, 0, 4, 0)).ok());
  EXPECT_FALSE(create_map(make_def(MapType::Queue, 0, 4, 3, kBpfFNoPrealloc)).ok());
}

TEST(BloomFilter, PushedValuesTestPresentAndNoFalseNegatives) {
  auto d = make_def(MapType::BloomFilter, 0, 8, 1000);
  d.map_extra = 3;
  auto m = must_create(d);
  auto* bf = static_cast<BloomFilterMap*>(m.get());
  EXPECT_EQ(bf->nr_hashes(), 3u);
  EXPECT_EQ(bf->nr_bits(), 8192u);  // 1000 * 3 / 5 * 7 = 4200, rounded up to a power of 2
  for (uint64_t i = 0; i < 1000; ++i)
    ASSERT_EQ(m->push(&i, kBpfAny), 0);
  for (uint64_t i = 0; i < 1000; ++i)
    ASSERT_EQ(m->peek(&i), 0) << i;
  int false_pos = 0;
  for (uint64_t i = 1000000; i < 1001000; ++i)
    false_pos += m->peek(&i) == 0;
  EXPECT_LT(false_pos, 500) << "a bloom filter sized for 1000 values is mostly right on others";
  uint64_t x = 1;
  EXPECT_EQ(m->push(&x, kBpfExist), -EINVAL);
  EXPECT_EQ(m->pop(&x), -EOPNOTSUPP);
  EXPECT_EQ(m->remove(nullptr), -EOPNOTSUPP);
  EXPECT_EQ(m->update(nullptr, &x, kBpfAny), -EINVAL);
  EXPECT_EQ(m->lookup(&x), nullptr);
}

TEST(BloomFilter, EmptyFilterHasNoMembersAndDefaultsToFiveHashes) {
  auto m = must_create(make_def(MapType::BloomFilter, 0, 4, 10));
  auto* bf = static_cast<BloomFilterMap*>(m.get());
  EXPECT_EQ(bf->nr_hashes(), 5u);
  EXPECT_EQ(bf->nr_bits(), 128u);  // 10 * 5 / 5 * 7 = 70 -> 128
  uint32_t v = 7;
  EXPECT_EQ(m->peek(&v), -ENOENT);
  auto bad = make_def(MapType::BloomFilter, 0, 4, 10);
  bad.map_extra = 0x10;
  EXPECT_FALSE(create_map(bad).ok());
  EXPECT_FALSE(create_map(make_def(MapType::BloomFilter, 4, 4, 10)).ok());
}

}  // namespace
}  // namespace bpfvm
