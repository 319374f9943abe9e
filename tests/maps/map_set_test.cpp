#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <string>

#include "maps/ringbuf.h"
#include "maps_test_util.h"

namespace bpfvm {
namespace {

using testing::make_def;

// Our constants are the kernel's.
static_assert(kBpfAny == BPF_ANY && kBpfNoExist == BPF_NOEXIST && kBpfExist == BPF_EXIST &&
              kBpfFLock == BPF_F_LOCK);
static_assert(kBpfFNoPrealloc == BPF_F_NO_PREALLOC && kBpfFNoCommonLru == BPF_F_NO_COMMON_LRU &&
              kBpfFNumaNode == BPF_F_NUMA_NODE && kBpfFZeroSeed == BPF_F_ZERO_SEED &&
              kBpfFMmapable == BPF_F_MMAPABLE && kBpfFInnerMap == BPF_F_INNER_MAP &&
              kBpfFRdonlyProg == BPF_F_RDONLY_PROG && kBpfFPreserveElems == BPF_F_PRESERVE_ELEMS);
static_assert(kBpfFCurrentCpu == BPF_F_CURRENT_CPU && kBpfFIndexMask == BPF_F_INDEX_MASK);
static_assert(kBpfRbNoWakeup == BPF_RB_NO_WAKEUP && kBpfRbForceWakeup == BPF_RB_FORCE_WAKEUP &&
              kBpfRbAvailData == BPF_RB_AVAIL_DATA && kBpfRbRingSize == BPF_RB_RING_SIZE &&
              kBpfRbConsPos == BPF_RB_CONS_POS && kBpfRbProdPos == BPF_RB_PROD_POS);
static_assert(kRingbufBusyBit == BPF_RINGBUF_BUSY_BIT && kRingbufDiscardBit == BPF_RINGBUF_DISCARD_BIT &&
              kRingbufHdrSize == BPF_RINGBUF_HDR_SZ);
static_assert(uint32_t(MapType::BloomFilter) == BPF_MAP_TYPE_BLOOM_FILTER &&
              uint32_t(MapType::LpmTrie) == BPF_MAP_TYPE_LPM_TRIE &&
              uint32_t(MapType::Ringbuf) == BPF_MAP_TYPE_RINGBUF);

std::string create_error(const MapDef& d, const MapOptions& opts = {}) {
  auto r = create_map(d, opts);
  return r.ok() ? "" : r.error().msg;
}

TEST(CreateMap, InvalidDefinitionsAreRefusedNamingTheMapAndWhy) {
  struct Case {
    MapDef def;
    std::string expect;
  } cases[] = {
      {make_def(MapType::Hash, 0, 4, 4, 0, "h"), "map 'h' (hash): key_size is 0"},
      {make_def(MapType::Hash, 4, 0, 4, 0, "h"), "map 'h' (hash): value_size is 0"},
      {make_def(MapType::Hash, 4, 4, 0, 0, "h"), "map 'h' (hash): max_entries is 0"},
      {make_def(MapType::Hash, 513, 4, 4, 0, "h"), "key_size 513 above the BPF stack size 512"},
      {make_def(MapType::Hash, 4, 4, 4, kBpfFMmapable, "h"), "map_flags 0x400"},
      {make_def(MapType::Hash, 4, 4, 4, kBpfFNoCommonLru, "h"), "only for LRU"},
      {make_def(MapType::LruHash, 4, 4, 4, kBpfFNoPrealloc, "l"), "cannot use BPF_F_NO_PREALLOC"},
      {make_def(MapType::Array, 8, 4, 4, 0, "a"), "map 'a' (array): key_size is 8, must be 4"},
      {make_def(MapType::Array, 4, 4, 0, 0, "a"), "max_entries is 0"},
      {make_def(MapType::PercpuArray, 4, 40000, 4, 0, "p"), "per-CPU limit"},
      {make_def(MapType::PercpuArray, 4, 4, 4, kBpfFMmapable, "p"), "map_flags"},
      {make_def(MapType::ProgArray, 4, 8, 4, 0, "pa"), "value_size is 8, must be 4"},
      {make_def(MapType::LpmTrie, 8, 4, 4, 0, "t"), "requires BPF_F_NO_PREALLOC"},
      {make_def(MapType::LpmTrie, 4, 4, 4, kBpfFNoPrealloc, "t"),
       "key_size 4 must be 4 (prefixlen) + 1..256"},
      {make_def(MapType::LpmTrie, 261, 4, 4, kBpfFNoPrealloc, "t"), "key_size 261"},
      {make_def(MapType::ArrayOfMaps, 4, 4, 4, 0, "o"), "exactly one inner map definition"},
      {make_def(MapType::StackTrace, 4, 12, 4, 0, "st"), "map 'st' (stack_trace): value_size 12 must be"},
      {make_def(MapType::Devmap, 4, 12, 4, 0, "d"), "map 'd' (devmap): value_size is 12, must be 4 or 8"},
      {make_def(MapType::Xskmap, 4, 8, 4, 0, "x"), "map 'x' (xskmap): value_size is 8, must be 4"},
      {make_def(MapType::Cpumap, 4, 4, 4, kBpfFRdonly, "c"), "map 'c' (cpumap): map_flags 0x8"},
      {make_def(MapType::CgroupArray, 4, 8, 4, 0, "g"), "map 'g' (cgroup_array): value_size is 8, must be 4"},
      {make_def(MapType::Sockmap, 4, 8, 4, 0, "sk"), "map 'sk' (sockmap): map type 15 is not supported"},
      {make_def(MapType::Unspec, 4, 8, 4, 0, "u"), "map 'u' (unspec): map type 0 is not supported"},
      {make_def(static_cast<MapType>(1000), 4, 8, 4, 0, "x"), "map 'x' (unknown): map type 1000"},
  };
  for (const auto& c : cases) {
    std::string err = create_error(c.def);
    EXPECT_NE(err.find(c.expect), std::string::npos) << "got: '" << err << "', want: '" << c.expect << "'";
  }
  MapDef with_inner = make_def(MapType::Hash, 4, 4, 4, 0, "h");
  with_inner.inner.push_back(make_def(MapType::Array, 4, 4, 4));
  EXPECT_NE(create_error(with_inner).find("not a map of maps"), std::string::npos);
  MapDef nested = make_def(MapType::ArrayOfMaps, 4, 4, 4, 0, "o");
  nested.inner.push_back(make_def(MapType::ArrayOfMaps, 4, 4, 4, 0, "i"));
  EXPECT_NE(create_error(nested).find("cannot itself be a map of maps"), std::string::npos);
  MapDef bad_inner = make_def(MapType::HashOfMaps, 4, 4, 4, 0, "o");
  bad_inner.inner.push_back(make_def(MapType::Array, 4, 4, 0, 0, "i"));
  EXPECT_NE(
      create_error(bad_inner).find("map 'o' (hash_of_maps): inner map: map 'i' (array): max_entries is 0"),
      std::string::npos)
      << create_error(bad_inner);
  auto unsupported = create_map(make_def(MapType::Sockmap, 4, 4, 4, 0, "s"));
  ASSERT_FALSE(unsupported.ok());
  EXPECT_EQ(unsupported.error().code, ErrorCode::kUnsupported);
}

TEST(MapSet, MemoryCapIsSharedAndRefusalNamesTheMapAndSize) {
  MapOptions opts;
  opts.memory_cap = 1 << 20;
  MapSet set(opts);
  auto a = set.create(make_def(MapType::Array, 4, 1024, 600, 0, "first"));  // 614400 bytes + overhead
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_EQ((*a)->id(), 1u);
  EXPECT_GE(set.used_bytes(), 614400u);
  auto b = set.create(make_def(MapType::Array, 4, 1024, 600, 0, "second"));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().msg.find("map 'second' (array): needs 614656 bytes"), std::string::npos)
      << b.error().msg;
  EXPECT_NE(b.error().msg.find("memory cap of 1048576 bytes"), std::string::npos) << b.error().msg;
  auto c = set.create(make_def(MapType::Array, 4, 1024, 300, 0, "third"));
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(set.find("third"), *c);
  EXPECT_EQ(set.by_id(2), *c);
  EXPECT_EQ(set.find("second"), nullptr);
  EXPECT_EQ(set.size(), 2u);
}

TEST(MapSet, HugeDefinitionIsRefusedWithoutAllocating) {
  MapSet set;  // default cap: 1 GiB
  auto r = set.create(make_def(MapType::Hash, 64, 4096, 4000000, 0, "huge"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().msg.find("map 'huge' (hash): needs"), std::string::npos) << r.error().msg;
  MapOptions opts;
  opts.num_cpus = 1u << 31;
  auto p = create_map(make_def(MapType::PercpuArray, 4, 8, UINT32_MAX, 0, "overflow"), opts);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().msg.find("map 'overflow'"), std::string::npos);
}

TEST(MapSet, FindsTheRingbufOwningASample) {
  MapSet set;
  auto r1 = set.create(make_def(MapType::Ringbuf, 0, 0, 4096, 0, "rb1"));
  auto r2 = set.create(make_def(MapType::Ringbuf, 0, 0, 8192, 0, "rb2"));
  ASSERT_TRUE(r1.ok() && r2.ok());
  auto* rb2 = static_cast<RingbufMap*>(*r2);
  void* s = rb2->reserve(16, 0);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(set.find_ringbuf(s), rb2);
  int local;
  EXPECT_EQ(set.find_ringbuf(&local), nullptr);
  set.find_ringbuf(s)->submit(s, 0);
  EXPECT_EQ(rb2->consume([](const void*, uint32_t len) { return len == 16 ? 0 : -1; }), 1);
}

}  // namespace
}  // namespace bpfvm
