#include "vm/helper_table.h"

#include <gtest/gtest.h>

namespace bpfvm {
namespace {

uint64_t one(HelperCall&, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  return 1;
}
uint64_t two(HelperCall&, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  return 2;
}

TEST(HelperTable, FindsByNumberAndByName) {
  HelperTable t;
  ASSERT_TRUE(t.add(5, "five", one).ok());
  ASSERT_TRUE(t.add(70000, "big", two).ok());  // beyond the dense range
  ASSERT_NE(t.find(5), nullptr);
  EXPECT_EQ(t.find(5)->name, "five");
  EXPECT_EQ(t.find(70000)->fn, &two);
  EXPECT_EQ(t.find(6), nullptr);
  EXPECT_EQ(t.find(70001), nullptr);
  EXPECT_EQ(t.find("big")->id, 70000u);
  EXPECT_EQ(t.find("nothing"), nullptr);
}

TEST(HelperTable, AddReplacesByNumberAndKeepsTheEntryAddress) {
  HelperTable t;
  int user = 0;
  ASSERT_TRUE(t.add(5, "five", one).ok());
  const HelperEntry* before = t.find(5);
  ASSERT_TRUE(t.add(5, "cinq", two, &user).ok());
  EXPECT_EQ(t.find(5), before);
  EXPECT_EQ(t.find(5)->fn, &two);
  EXPECT_EQ(t.find(5)->user, &user);
  EXPECT_EQ(t.find("five"), nullptr);
  EXPECT_EQ(t.find("cinq"), before);
  EXPECT_EQ(t.entries().size(), 1u);
}

TEST(HelperTable, RejectsEmptyNamesNullFunctionsAndDuplicateNames) {
  HelperTable t;
  EXPECT_FALSE(t.add(1, "", one).ok());
  EXPECT_FALSE(t.add(1, "x", nullptr).ok());
  ASSERT_TRUE(t.add(1, "x", one).ok());
  auto dup = t.add(2, "x", two);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().msg.find("already used by helper 1"), std::string::npos) << dup.error().msg;
  EXPECT_EQ(t.find(2), nullptr);
}

TEST(HelperTable, EntriesAreSortedById) {
  HelperTable t;
  ASSERT_TRUE(t.add(9000, "c", one).ok());
  ASSERT_TRUE(t.add(3, "a", one).ok());
  ASSERT_TRUE(t.add(7, "b", one).ok());
  auto e = t.entries();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0]->id, 3u);
  EXPECT_EQ(e[1]->id, 7u);
  EXPECT_EQ(e[2]->id, 9000u);
}

}  // namespace
}  // namespace bpfvm
