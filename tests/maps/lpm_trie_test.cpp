#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "maps/lpm_trie.h"
#include "maps/map_set.h"
#include "maps_test_util.h"

namespace bpfvm {
namespace {

using testing::make_def;
using testing::must_create;

struct Key4 {
  uint32_t prefixlen;
  uint8_t data[4];
};
Key4 k4(uint32_t plen, uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return Key4{plen, {a, b, c, d}};
}

struct Key16 {
  uint32_t prefixlen;
  uint8_t data[16];
};

uint32_t lookup_u32(Map& m, const void* key) {
  void* v = m.lookup(key);
  return v ? *static_cast<uint32_t*>(v) : 0;
}

std::unique_ptr<Map> ipv4_trie(uint32_t max_entries = 16) {
  return must_create(make_def(MapType::LpmTrie, 8, 4, max_entries, kBpfFNoPrealloc));
}

TEST(LpmTrie, LongestPrefixWinsWithSlash0To32) {
  auto m = ipv4_trie();
  struct {
    Key4 k;
    uint32_t v;
  } entries[] = {
      {k4(0, 0, 0, 0, 0), 1}, {k4(8, 10, 0, 0, 0), 8}, {k4(24, 10, 1, 2, 0), 24}, {k4(32, 10, 1, 2, 3), 32}};
  for (auto& e : entries)
    ASSERT_EQ(m->update(&e.k, &e.v, kBpfAny), 0);
  Key4 q = k4(32, 10, 1, 2, 3);
  EXPECT_EQ(lookup_u32(*m, &q), 32u);
  q = k4(32, 10, 1, 2, 4);
  EXPECT_EQ(lookup_u32(*m, &q), 24u);
  q = k4(32, 10, 9, 9, 9);
  EXPECT_EQ(lookup_u32(*m, &q), 8u);
  q = k4(32, 192, 168, 0, 1);
  EXPECT_EQ(lookup_u32(*m, &q), 1u);  // only /0 matches
  q = k4(16, 10, 1, 2, 3);            // the query's prefixlen limits the match
  EXPECT_EQ(lookup_u32(*m, &q), 8u);

  // Removing the /24 falls back to /8; removing /0 leaves no match for other addresses.
  Key4 d = k4(24, 10, 1, 2, 0);
  EXPECT_EQ(m->remove(&d), 0);
  EXPECT_EQ(m->remove(&d), -ENOENT);
  q = k4(32, 10, 1, 2, 4);
  EXPECT_EQ(lookup_u32(*m, &q), 8u);
  q = k4(32, 10, 1, 2, 3);
  EXPECT_EQ(lookup_u32(*m, &q), 32u);
  d = k4(0, 0, 0, 0, 0);
  EXPECT_EQ(m->remove(&d), 0);
  q = k4(32, 192, 168, 0, 1);
  EXPECT_EQ(m->lookup(&q), nullptr);
}

TEST(LpmTrie, UpdateAndDeleteAreExactPrefixWithKernelErrors) {
  auto m = ipv4_trie(2);
  uint32_t v = 5;
  Key4 a = k4(16, 192, 168, 0, 0), b = k4(16, 10, 0, 0, 0), c = k4(24, 192, 168, 1, 0);
  EXPECT_EQ(m->update(&a, &v, kBpfExist), -ENOENT);
  EXPECT_EQ(m->update(&a, &v, kBpfNoExist), 0);
  EXPECT_EQ(m->update(&a, &v, kBpfNoExist), -EEXIST);
  EXPECT_EQ(m->update(&a, &v, 4), -EINVAL);
  Key4 too_long = k4(33, 1, 2, 3, 4);
  EXPECT_EQ(m->update(&too_long, &v, kBpfAny), -EINVAL);
  EXPECT_EQ(m->remove(&too_long), -EINVAL);
  EXPECT_EQ(m->update(&b, &v, kBpfAny), 0);
  EXPECT_EQ(m->update(&c, &v, kBpfAny), -ENOSPC);
  v = 6;
  EXPECT_EQ(m->update(&a, &v, kBpfExist), 0) << "replacing is allowed when full";
  Key4 q = k4(32, 192, 168, 7, 7);
  EXPECT_EQ(lookup_u32(*m, &q), 6u);
  // Different prefix length, same bits: not the same element.
  Key4 a8 = k4(8, 192, 0, 0, 0);
  EXPECT_EQ(m->remove(&a8), -ENOENT);
  uint32_t out = 0;
  EXPECT_EQ(m->lookup_copy(&q, &out), 0);
  EXPECT_EQ(out, 6u);
}

TEST(LpmTrie, Ipv6LongestMatch) {
  auto m = must_create(make_def(MapType::LpmTrie, 20, 4, 8, kBpfFNoPrealloc));
  auto key = [](uint32_t plen, std::array<uint8_t, 16> d) {
    Key16 k{plen, {}};
    std::memcpy(k.data, d.data(), 16);
    return k;
  };
  // 2001:db8::/32, 2001:db8:1::/48, 2001:db8:1::1/128, ::/0
  Key16 p32 = key(32, {0x20, 0x01, 0x0d, 0xb8});
  Key16 p48 = key(48, {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01});
  Key16 p128 = key(128, {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});
  Key16 p0 = key(0, {});
  uint32_t v32 = 32, v48 = 48, v128 = 128, v0 = 1;
  ASSERT_EQ(m->update(&p128, &v128, kBpfAny), 0);
  ASSERT_EQ(m->update(&p32, &v32, kBpfAny), 0);
  ASSERT_EQ(m->update(&p48, &v48, kBpfAny), 0);
  ASSERT_EQ(m->update(&p0, &v0, kBpfAny), 0);
  Key16 q = p128;
  EXPECT_EQ(lookup_u32(*m, &q), 128u);
  q.data[15] = 2;
  EXPECT_EQ(lookup_u32(*m, &q), 48u);
  q.data[5] = 2;
  EXPECT_EQ(lookup_u32(*m, &q), 32u);
  q.data[3] = 0xb9;
  EXPECT_EQ(lookup_u32(*m, &q), 1u);
}

TEST(LpmTrie, GetNextKeyIsPostOrderAndCoversAllKeysOnce) {
  auto m = ipv4_trie();
  // The kernel's example (192.168.0.0/16, 192.168.0.0/24, 192.168.1.0/24, 192.168.128.0/24), plus
  // 10.0.0.0/8, which sits left of 192.168/16 under an intermediate /0 root (bit 0 is 0).
  Key4 keys[] = {k4(16, 192, 168, 0, 0), k4(24, 192, 168, 0, 0), k4(24, 192, 168, 1, 0),
                 k4(24, 192, 168, 128, 0), k4(8, 10, 0, 0, 0)};
  uint32_t v = 0;
  for (auto& k : keys)
    ASSERT_EQ(m->update(&k, &v, kBpfAny), 0);
  std::vector<std::pair<uint32_t, uint32_t>> order;  // (prefixlen, data as big-endian number)
  Key4 next, cur;
  const void* prev = nullptr;
  while (m->get_next_key(prev, &next) == 0) {
    order.emplace_back(next.prefixlen, uint32_t(next.data[0]) << 24 | uint32_t(next.data[1]) << 16 |
                                           uint32_t(next.data[2]) << 8 | next.data[3]);
    cur = next;
    prev = &cur;
    ASSERT_LE(order.size(), 5u);
  }
  // Post-order: more specific prefixes before the prefixes containing them.
  std::vector<std::pair<uint32_t, uint32_t>> expect = {
      {8, 0x0a000000}, {24, 0xc0a80000}, {24, 0xc0a80100}, {24, 0xc0a88000}, {16, 0xc0a80000}};
  EXPECT_EQ(order, expect);
  Key4 missing = k4(12, 1, 2, 3, 4);
  ASSERT_EQ(m->get_next_key(&missing, &next), 0);
  EXPECT_EQ(next.prefixlen, 8u) << "a missing key restarts from the first";
  EXPECT_EQ(next.data[0], 10);
}

// Randomised: the trie agrees with a brute-force longest-prefix search.
TEST(LpmTrie, AgreesWithBruteForceOnRandomPrefixes) {
  std::mt19937 rng(1234);
  auto m = ipv4_trie(200);
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> ref;  // (plen, masked addr) -> value
  auto mask = [](uint32_t plen) { return plen == 0 ? 0u : ~0u << (32 - plen); };
  auto key_of = [](uint32_t plen, uint32_t addr) {
    return k4(plen, uint8_t(addr >> 24), uint8_t(addr >> 16), uint8_t(addr >> 8), uint8_t(addr));
  };
  for (int step = 0; step < 2000; ++step) {
    uint32_t plen = rng() % 33;
    uint32_t addr = (rng() & 0xff0f0f00u) & mask(plen);  // few distinct bits: many shared prefixes
    Key4 k = key_of(plen, addr);
    if (rng() % 3 == 0) {
      int r = m->remove(&k);
      EXPECT_EQ(r, ref.erase({plen, addr}) ? 0 : -ENOENT);
    } else if (ref.size() < 200 || ref.count({plen, addr})) {
      uint32_t v = rng();
      ASSERT_EQ(m->update(&k, &v, kBpfAny), 0);
      ref[{plen, addr}] = v;
    }
    uint32_t probe = rng() & 0xff0f0f0fu;
    Key4 q = key_of(32, probe);
    const uint32_t* want = nullptr;
    for (int p = 32; p >= 0 && !want; --p) {
      auto it = ref.find({uint32_t(p), probe & mask(p)});
      if (it != ref.end()) want = &it->second;
    }
    void* got = m->lookup(&q);
    ASSERT_EQ(got != nullptr, want != nullptr) << "step " << step;
    if (want) {
      ASSERT_EQ(*static_cast<uint32_t*>(got), *want) << "step " << step;
    }
  }
  std::set<std::pair<uint32_t, uint32_t>> seen;
  Key4 next, cur;
  const void* prev = nullptr;
  while (m->get_next_key(prev, &next) == 0) {
    uint32_t addr = uint32_t(next.data[0]) << 24 | uint32_t(next.data[1]) << 16 |
                    uint32_t(next.data[2]) << 8 | next.data[3];
    EXPECT_TRUE(seen.insert({next.prefixlen, addr}).second) << "key visited twice";
    cur = next;
    prev = &cur;
    ASSERT_LE(seen.size(), ref.size());
  }
  EXPECT_EQ(seen.size(), ref.size());
  for (auto& [k, v] : ref)
    EXPECT_TRUE(seen.count(k));
}

}  // namespace
}  // namespace bpfvm

namespace bpfvm {
namespace {

TEST(LpmTrie, LookupResultsAreVouchedForByTheMapSet) {
  MapSet set(MapOptions{});
  auto m = set.create(testing::make_def(MapType::LpmTrie, 8, 4, 4, kBpfFNoPrealloc));
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  Key4 k = k4(16, 10, 1, 0, 0);
  uint32_t v = 7;
  ASSERT_EQ((*m)->update(&k, &v, kBpfAny), 0);
  Key4 probe = k4(32, 10, 1, 2, 3);
  auto* p = static_cast<uint8_t*>((*m)->lookup(&probe));
  ASSERT_NE(p, nullptr);
  auto addr = reinterpret_cast<uint64_t>(p);
  EXPECT_TRUE(set.contains(addr, 4, true, nullptr));
  EXPECT_FALSE(set.contains(addr, 5, false, nullptr));  // one byte past the value
  EXPECT_FALSE(set.contains(addr + 4, 1, false, nullptr));  // padding up to the 8-byte stride
}

}  // namespace
}  // namespace bpfvm
