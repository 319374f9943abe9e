// Map lookups without the helper call (vm/map_lookup.h): inline array lookups and direct hash-map
// calls in the unchecked JIT code of verified programs give what the interpreter's helper gives,
// for every shape of array (value strides 8, 24, 64, 72: scaled index, multiply, shift), keys in
// and out of range, hash hits and misses, with blinding on and off and the speculation barrier;
// and they are planned only where they may be.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "helpers/kernel_helpers.h"
#include "jit/jit.h"
#include "jit/jit_internal.h"
#include "tests/object_util.h"

namespace bpfvm {
namespace {

// Looks up keys 0 .. n-1 in map 0 and sums the first u64 of every value found; each miss adds
// 1 << 40. (The values' addresses are the helper's: the sum covers where the code reads.)
std::string lookup_loop(uint32_t n) {
  return fmt::format(R"(
    mov %r6, 0
    mov %r7, 0
  loop:
    stxw [%r10-4], %r7
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_idx(0)
    call 1
    jeq %r0, 0, miss
    ldxdw %r1, [%r0+0]
    add %r6, %r1
    ja next
  miss:
    lddw %r1, 0x10000000000
    add %r6, %r1
  next:
    add %r7, 1
    jlt %r7, {}, loop
    mov %r0, %r6
    exit
  )",
                     n);
}

MapDef map_def(MapType type, uint32_t value_size, uint32_t max_entries) {
  MapDef d;
  d.name = "m";
  d.type = type;
  d.key_size = 4;
  d.value_size = value_size;
  d.max_entries = max_entries;
  return d;
}

// Fills the map: value of key k starts with k * 1000 + 7 (hash maps: the even keys only).
void fill(Object& o, uint32_t keys) {
  Map& m = *o.map(0);
  std::vector<uint8_t> v(m.copy_value_size(), 0xab);
  const size_t stride = m.is_percpu() ? round_up8(m.def().value_size) : v.size();
  for (uint32_t k = 0; k < keys; ++k) {
    if (m.type() == MapType::Hash && k % 2 == 1) continue;
    uint64_t x = uint64_t(k) * 1000 + 7;
    for (size_t off = 0; off < v.size(); off += stride)  // every CPU's value of a per-CPU map
      std::memcpy(v.data() + off, &x, 8);
    std::vector<uint8_t> key(4);
    std::memcpy(key.data(), &k, 4);
    ASSERT_TRUE(o.update(m, key, v).ok());
  }
}

struct Outcome {
  uint64_t r0;
  bool checked;
};

// Runs the program verified, on `engine` with `jit` options; the count of planned lookups of the
// unchecked code as well.
Outcome run_prog(const std::string& text,
                 const MapDef& def,
                 Engine engine,
                 const jit::JitOptions& jo,
                 uint32_t* planned = nullptr,
                 std::function<void(HelperTable&)> add_helpers = nullptr) {
  ObjectOptions opts;
  opts.engine = engine;
  opts.jit = jo;
  opts.add_helpers = std::move(add_helpers);
  auto o = one_program_object(text, ProgType::Raw, {def}, opts);
  if (!o) return {0, true};
  fill(*o, def.max_entries);
  auto v = o->verify(0);
  EXPECT_TRUE(v.ok() && v->accepted) << (v.ok() && !v->errors.empty() ? v->errors[0].to_string() : "");
  auto r = o->run(0, {});
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  if (planned != nullptr && engine == Engine::Jit) {
    jit::JitOptions unchecked = jo;
    unchecked.verified = true;
    auto j = o->compile_jit(0, unchecked);
    EXPECT_TRUE(j.ok());
    *planned = j ? (*j)->impl().planned_lookups : 0;
  }
  return r ? Outcome{r->r0, r->checked} : Outcome{0, true};
}

struct Shape {
  MapType type;
  uint32_t value_size, max_entries;
};

class PlannedLookups : public ::testing::TestWithParam<Shape> {};

TEST_P(PlannedLookups, GiveWhatTheHelperGives) {
  if (!jit::jit_supported()) GTEST_SKIP() << "no JIT on this host";
  const Shape s = GetParam();
  const MapDef def = map_def(s.type, s.value_size, s.max_entries);
  const std::string text = lookup_loop(s.max_entries + 3);  // 3 keys past the end
  const Outcome want = run_prog(text, def, Engine::Interp, {});
  EXPECT_FALSE(want.checked);
  // The expected sum, from the fill: every present key's value, 1 << 40 per absent key.
  uint64_t sum = 0;
  for (uint32_t k = 0; k < s.max_entries + 3; ++k) {
    bool present = k < s.max_entries && (s.type != MapType::Hash || k % 2 == 0);
    sum += present ? uint64_t(k) * 1000 + 7 : uint64_t(1) << 40;
  }
  EXPECT_EQ(want.r0, sum);
  for (bool blinding : {true, false})
    for (bool barrier : {false, true}) {
      SCOPED_TRACE(fmt::format("blinding {} barrier {}", blinding, barrier));
      jit::JitOptions jo;
      jo.blinding = blinding;
      jo.spec_barrier = barrier;
      uint32_t planned = 0;
      const Outcome got = run_prog(text, def, Engine::Jit, jo, &planned);
      EXPECT_FALSE(got.checked);
      EXPECT_EQ(got.r0, want.r0);
      EXPECT_EQ(planned, 1u);
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes,
                         PlannedLookups,
                         ::testing::Values(Shape{MapType::Array, 8, 16},     // stride 8: a scaled index
                                           Shape{MapType::Array, 20, 5},     // stride 24: a multiply
                                           Shape{MapType::Array, 64, 9},     // stride 64: a shift
                                           Shape{MapType::Array, 72, 3},     // stride 72: a multiply
                                           Shape{MapType::Array, 8, 1},      // one entry
                                           Shape{MapType::Hash, 8, 64},      // direct call, hits and misses
                                           Shape{MapType::Hash, 24, 1000}),  // (no longer one chunk)
                         [](const auto& info) {
                           const Shape& s = info.param;
                           return fmt::format("{}_{}x{}", s.type == MapType::Hash ? "hash" : "array",
                                              s.value_size, s.max_entries);
                         });

TEST(PlannedLookups, OnlyWhereTheyMayBe) {
  if (!jit::jit_supported()) GTEST_SKIP() << "no JIT on this host";
  const MapDef arr = map_def(MapType::Array, 8, 16);
  const std::string text = lookup_loop(19);
  const uint64_t want = run_prog(text, arr, Engine::Interp, {}).r0;
  uint32_t planned = 99;
  // Turned off: the helper.
  jit::JitOptions off;
  off.inline_map_lookups = false;
  EXPECT_EQ(run_prog(text, arr, Engine::Jit, off, &planned).r0, want);
  EXPECT_EQ(planned, 0u);
  // Per-CPU arrays and LRU hash maps keep the helper (the run's CPU, the LRU list).
  for (MapType t : {MapType::PercpuArray, MapType::LruHash}) {
    const MapDef d = map_def(t, 8, 16);
    const uint64_t w = run_prog(text, d, Engine::Interp, {}).r0;
    EXPECT_EQ(run_prog(text, d, Engine::Jit, {}, &planned).r0, w);
    EXPECT_EQ(planned, 0u) << map_type_name(t);
  }
  // r1 reaching the call from two paths (a jump target between the lddw and the call): the helper.
  const std::string joined = R"(
    stw [%r10-4], 3
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_idx(0)
    jeq %r2, 0, +0
    call 1
    mov %r6, 1
    jeq %r0, 0, +1
    ldxdw %r6, [%r0+0]
    mov %r0, %r6
    exit
  )";
  const uint64_t jw = run_prog(joined, arr, Engine::Interp, {}).r0;
  EXPECT_EQ(jw, 3007u);
  EXPECT_EQ(run_prog(joined, arr, Engine::Jit, {}, &planned).r0, jw);
  EXPECT_EQ(planned, 0u);
  // An embedder's own bpf_map_lookup_elem is called, not bypassed.
  auto mine = [](HelperTable& t) {
    ASSERT_TRUE(add_kernel_helper(t, "map_lookup_elem",
                                  [](HelperCall&, uint64_t, uint64_t, uint64_t, uint64_t,
                                     uint64_t) -> uint64_t { return 0; })
                    .ok());
  };
  EXPECT_EQ(run_prog(text, arr, Engine::Jit, {}, &planned, mine).r0, uint64_t(19)
                                                                         << 40);  // every lookup misses
  EXPECT_EQ(planned, 0u);
}

}  // namespace
}  // namespace bpfvm
