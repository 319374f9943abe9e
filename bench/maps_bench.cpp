// Map operation costs (ns/op) per map type: the program-side lookup and update paths.
// Not wired into CMake yet; build with:
//   add_executable(maps_bench maps_bench.cpp)
//   target_link_libraries(maps_bench PRIVATE bpfvm_maps benchmark::benchmark benchmark::benchmark_main)
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <mutex>

#include "maps/lpm_trie.h"
#include "maps/map_set.h"
#include "maps/queue_stack.h"
#include "maps/ringbuf.h"

namespace bpfvm {
namespace {

constexpr uint32_t kEntries = 1 << 16;

std::unique_ptr<Map> make(MapType type,
                          uint32_t key_size,
                          uint32_t value_size,
                          uint32_t max_entries,
                          uint32_t flags = 0) {
  MapDef d;
  d.name = "bench";
  d.type = type;
  d.key_size = key_size;
  d.value_size = value_size;
  d.max_entries = max_entries;
  d.map_flags = flags;
  auto r = create_map(d);
  return r.ok() ? std::move(r.value()) : nullptr;
}

// Maps keyed by u32: filled with kEntries keys, then looked up (all hits) or updated in place.
void BM_Lookup(benchmark::State& state, MapType type) {
  auto m = make(type, 4, 8, kEntries);
  for (uint32_t k = 0; k < kEntries; ++k) {
    uint64_t v = k;
    (void)m->update(&k, &v, kBpfAny);
  }
  uint32_t k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m->lookup(&k));
    k = (k + 7919) & (kEntries - 1);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Update(benchmark::State& state, MapType type) {
  auto m = make(type, 4, 8, kEntries);
  uint32_t k = 0;
  uint64_t v = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m->update(&k, &v, kBpfAny));
    k = (k + 7919) & (kEntries - 1);
  }
  state.SetItemsProcessed(state.iterations());
}

// Four threads on one shared, pre-filled map (contention on the bucket stripes / the LRU lock).
void BM_LookupShared(benchmark::State& state, MapType type) {
  static std::once_flag once[64];
  static std::unique_ptr<Map> shared[64];
  const uint32_t t = static_cast<uint32_t>(type) % 64;
  std::call_once(once[t], [&] {
    shared[t] = make(type, 4, 8, kEntries);
    for (uint32_t k = 0; k < kEntries; ++k) {
      uint64_t v = k;
      (void)shared[t]->update(&k, &v, kBpfAny);
    }
  });
  Map* m = shared[t].get();
  uint32_t k = uint32_t(state.thread_index()) * 1000;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m->lookup(&k));
    k = (k + 7919) & (kEntries - 1);
  }
  state.SetItemsProcessed(state.iterations());
}

// Insert + delete of a fresh key (hash maps): allocation and free-list path.
void BM_InsertDelete(benchmark::State& state, MapType type) {
  auto m = make(type, 4, 8, kEntries);
  uint32_t k = 0;
  uint64_t v = 1;
  for (auto _ : state) {
    (void)m->update(&k, &v, kBpfNoExist);
    (void)m->remove(&k);
    ++k;
  }
  state.SetItemsProcessed(state.iterations());
}

// LRU at capacity: every update of a new key evicts.
void BM_LruEvict(benchmark::State& state) {
  auto m = make(MapType::LruHash, 4, 8, 1024);
  uint32_t k = 0;
  uint64_t v = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m->update(&k, &v, kBpfAny));
    ++k;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_LpmLookup(benchmark::State& state) {
  auto m = make(MapType::LpmTrie, 8, 8, kEntries, kBpfFNoPrealloc);
  struct Key {
    uint32_t plen;
    uint8_t d[4];
  };
  for (uint32_t i = 0; i < 4096; ++i) {
    Key k{8 + i % 25, {uint8_t(i >> 4), uint8_t(i * 37), uint8_t(i * 101), 0}};
    uint64_t v = i;
    (void)m->update(&k, &v, kBpfAny);
  }
  uint32_t x = 12345;
  for (auto _ : state) {
    x = x * 1103515245 + 12345;
    Key q{32, {uint8_t(x >> 24), uint8_t(x >> 16), uint8_t(x >> 8), uint8_t(x)}};
    benchmark::DoNotOptimize(m->lookup(&q));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_QueuePushPop(benchmark::State& state) {
  auto m = make(MapType::Queue, 0, 8, 1024);
  uint64_t v = 1;
  for (auto _ : state) {
    (void)m->push(&v, kBpfAny);
    (void)m->pop(&v);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RingbufOutputConsume(benchmark::State& state) {
  auto m = make(MapType::Ringbuf, 0, 0, 1 << 20);
  auto* rb = static_cast<RingbufMap*>(m.get());
  uint8_t rec[64] = {};
  uint64_t n = 0;
  for (auto _ : state) {
    if (rb->output(rec, sizeof rec, 0) != 0) {
      rb->consume([](const void*, uint32_t) { return 0; });
    }
    ++n;
  }
  state.SetItemsProcessed(int64_t(n));
}

void BM_BloomPushPeek(benchmark::State& state) {
  auto m = make(MapType::BloomFilter, 0, 8, kEntries);
  uint64_t v = 0;
  for (auto _ : state) {
    (void)m->push(&v, kBpfAny);
    benchmark::DoNotOptimize(m->peek(&v));
    ++v;
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(BM_Lookup, array, MapType::Array);
BENCHMARK_CAPTURE(BM_Lookup, percpu_array, MapType::PercpuArray);
BENCHMARK_CAPTURE(BM_Lookup, hash, MapType::Hash);
BENCHMARK_CAPTURE(BM_Lookup, percpu_hash, MapType::PercpuHash);
BENCHMARK_CAPTURE(BM_Lookup, lru_hash, MapType::LruHash);
BENCHMARK_CAPTURE(BM_LookupShared, array, MapType::Array)->Threads(4);
BENCHMARK_CAPTURE(BM_LookupShared, hash, MapType::Hash)->Threads(4);
BENCHMARK_CAPTURE(BM_LookupShared, lru_hash, MapType::LruHash)->Threads(4);
BENCHMARK_CAPTURE(BM_Update, array, MapType::Array);
BENCHMARK_CAPTURE(BM_Update, hash, MapType::Hash);
BENCHMARK_CAPTURE(BM_Update, lru_hash, MapType::LruHash);
BENCHMARK_CAPTURE(BM_InsertDelete, hash, MapType::Hash);
BENCHMARK_CAPTURE(BM_InsertDelete, lru_hash, MapType::LruHash);
BENCHMARK(BM_LruEvict);
BENCHMARK(BM_LpmLookup);
BENCHMARK(BM_QueuePushPop);
BENCHMARK(BM_RingbufOutputConsume);
BENCHMARK(BM_BloomPushPeek);

}  // namespace
}  // namespace bpfvm
