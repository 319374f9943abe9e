// MapSet::destroy: the bpf(2) emulation (sys/) frees maps whose last reference is gone.
#include <gtest/gtest.h>

#include "maps/map_set.h"

namespace bpfvm {
namespace {

MapDef array_def(const char* name) {
  MapDef d;
  d.name = name;
  d.type = MapType::Array;
  d.key_size = 4;
  d.value_size = 64;
  d.max_entries = 16;
  return d;
}

TEST(MapSetDestroy, FreesTheMapGivesBackItsBytesAndKeepsTheOtherIds) {
  MapSet set;
  auto a = set.create(array_def("a"));
  auto b = set.create(array_def("b"));
  ASSERT_TRUE(a && b);
  const uint64_t both = set.used_bytes();
  const uint32_t b_id = (*b)->id();
  EXPECT_TRUE(set.destroy(*a));
  EXPECT_LT(set.used_bytes(), both);
  EXPECT_FALSE(set.contains(static_cast<const Map*>(*a)));
  EXPECT_EQ(set.find("a"), nullptr);
  EXPECT_EQ(set.by_id(1), nullptr);
  EXPECT_EQ(set.by_id(b_id), *b);
  EXPECT_FALSE(set.destroy(*a));  // not (any more) a map of this set
  // Value lookups by address skip the freed slot.
  uint32_t zero = 0;
  void* value = (*b)->lookup(&zero);
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(set.contains(reinterpret_cast<uint64_t>(value), 64, true, nullptr));
  auto c = set.create(array_def("c"));
  ASSERT_TRUE(c);
  EXPECT_GT((*c)->id(), b_id);  // ids are not reused
}

}  // namespace
}  // namespace bpfvm
