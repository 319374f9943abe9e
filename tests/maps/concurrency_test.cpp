// Several threads on one map at once; the end state must be consistent. Run under TSan to check
// the locking (cmake -DCMAKE_CXX_FLAGS=-fsanitize=thread).
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "maps/hash_maps.h"
#include "maps/ringbuf.h"
#include "maps_test_util.h"

namespace bpfvm {
namespace {

using testing::make_def;
using testing::must_create;

constexpr int kThreads = 4;

template <class F>
void run_threads(F&& f) {
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      set_current_cpu(t);
      f(t);
    });
  for (auto& th : ts)
    th.join();
}

TEST(Concurrency, ArrayAtomicAddsFromFourThreadsSumExactly) {
  auto m = must_create(make_def(MapType::Array, 4, 8, 16));
  constexpr int kIters = 20000;
  run_threads([&](int t) {
    for (int i = 0; i < kIters; ++i) {
      uint32_t k = uint32_t(i % 16);
      auto* v = static_cast<uint64_t*>(m->lookup(&k));
      __atomic_fetch_add(v, 1, __ATOMIC_RELAXED);  // what a BPF atomic add compiles to
    }
  });
  uint64_t total = 0;
  for (uint32_t k = 0; k < 16; ++k) {
    uint64_t v;
    ASSERT_EQ(m->lookup_copy(&k, &v), 0);
    EXPECT_EQ(v, uint64_t(kThreads) * kIters / 16);
    total += v;
  }
  EXPECT_EQ(total, uint64_t(kThreads) * kIters);
}

TEST(Concurrency, PercpuArrayNeedsNoAtomics) {
  auto m = must_create(make_def(MapType::PercpuArray, 4, 8, 1));
  run_threads([&](int) {
    uint32_t k = 0;
    for (int i = 0; i < 10000; ++i)
      ++*static_cast<uint64_t*>(m->lookup(&k));
  });
  std::vector<uint64_t> all(4);
  uint32_t k = 0;
  ASSERT_EQ(m->lookup_copy(&k, all.data()), 0);
  for (uint64_t v : all)
    EXPECT_EQ(v, 10000u);
}

// Each thread owns a key range: inserts, counts through lookup pointers, deletes half; other threads
// iterate and look up meanwhile. The end state is exactly the surviving keys with exact counts.
void hash_workout(MapType type, uint32_t max_entries) {
  auto m = must_create(make_def(type, 4, 8, max_entries));
  constexpr uint32_t kPerThread = 500;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      uint32_t next, cur;
      const void* prev = nullptr;
      int steps = 0;
      while (m->get_next_key(prev, &next) == 0 && steps++ < 5000) {
        cur = next;
        prev = &cur;
        // Only the pointer: reading the value would race with the writers' atomic adds (as a
        // syscall-side read races with programs in the kernel).
        (void)m->lookup(&cur);
      }
    }
  });
  run_threads([&](int t) {
    for (uint32_t i = 0; i < kPerThread; ++i) {
      uint32_t k = uint32_t(t) * 100000 + i;
      uint64_t zero = 0;
      ASSERT_EQ(m->update(&k, &zero, kBpfNoExist), 0);
      for (int rep = 0; rep < 3; ++rep) {
        auto* v = static_cast<uint64_t*>(m->lookup(&k));
        ASSERT_NE(v, nullptr);
        __atomic_fetch_add(v, 1, __ATOMIC_RELAXED);
      }
      if (i % 2) {
        ASSERT_EQ(m->remove(&k), 0);
      }
    }
  });
  done = true;
  reader.join();
  std::set<uint32_t> keys;
  uint32_t next, cur;
  const void* prev = nullptr;
  while (m->get_next_key(prev, &next) == 0) {
    ASSERT_TRUE(keys.insert(next).second);
    cur = next;
    prev = &cur;
  }
  ASSERT_EQ(keys.size(), size_t(kThreads) * kPerThread / 2);
  for (uint32_t k : keys) {
    EXPECT_EQ((k % 100000) % 2, 0u);
    uint64_t v;
    ASSERT_EQ(m->lookup_copy(&k, &v), 0);
    EXPECT_EQ(v, 3u);
  }
  EXPECT_EQ(static_cast<HashMap*>(m.get())->count(), keys.size());
}

TEST(Concurrency, HashInsertsLookupsDeletesFromFourThreads) {
  hash_workout(MapType::Hash, 4096);
}

// Program-side lookups take no lock (maps/hash_table.h): while two threads insert and delete the
// odd keys over and over (chains change, slots are reused), two readers look up every key. An even
// key (inserted once, never deleted) must always be found with its value; an odd key's result, found
// or not, must be a value of the map. Small tables are one flat chunk, large ones several chunks.
void lockfree_lookups(uint32_t max_entries) {
  auto m = must_create(make_def(MapType::Hash, 4, 8, max_entries));
  constexpr uint32_t kKeys = 512;
  for (uint32_t k = 0; k < kKeys; k += 2) {
    uint64_t v = uint64_t(k) * 3 + 1;
    ASSERT_EQ(m->update(&k, &v, kBpfAny), 0);
  }
  std::atomic<bool> done{false};
  std::atomic<uint64_t> lost{0}, wrong{0}, stray{0}, lookups{0};
  run_threads([&](int t) {
    if (t < 2) {  // writers
      for (int round = 0; round < 4000; ++round)
        for (uint32_t k = 1 + 2 * uint32_t(t); k < kKeys; k += 4) {
          uint64_t v = uint64_t(k) * 3 + 1;
          (void)m->update(&k, &v, kBpfAny);
          if (round % 2) (void)m->remove(&k);
        }
      if (t == 0) done = true;
      return;
    }
    while (!done.load(std::memory_order_relaxed)) {
      for (uint32_t k = 0; k < kKeys; ++k) {
        const auto* v = static_cast<const uint64_t*>(m->lookup(&k));
        lookups.fetch_add(1, std::memory_order_relaxed);
        if (k % 2 == 0) {
          if (v == nullptr)
            lost.fetch_add(1);
          else if (*v != uint64_t(k) * 3 + 1)
            wrong.fetch_add(1);
        } else if (v != nullptr && m->value_bytes_from(v) != 8) {
          stray.fetch_add(1);
        }
      }
    }
  });
  EXPECT_EQ(lost.load(), 0u);
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(stray.load(), 0u);
  EXPECT_GT(lookups.load(), 0u);
}

TEST(Concurrency, LockFreeHashLookupsDuringInsertsAndDeletes) {
  lockfree_lookups(1024);    // one flat chunk
  lockfree_lookups(100000);  // chunks of 256 slots
}

TEST(Concurrency, LruHashInsertsLookupsDeletesFromFourThreads) {
  // Room for every live key: no evictions, so the end state is exact.
  hash_workout(MapType::LruHash, 4096);
}

TEST(Concurrency, LruHashUnderPressureNeverExceedsMaxEntries) {
  auto m = must_create(make_def(MapType::LruHash, 4, 8, 64));
  run_threads([&](int t) {
    for (uint32_t i = 0; i < 5000; ++i) {
      uint32_t k = uint32_t(t) * 100000 + i;
      uint64_t v = k;
      ASSERT_EQ(m->update(&k, &v, kBpfAny), 0);
      // The element may already be evicted by another thread (and its slot reused): only the
      // pointer is taken, never dereferenced.
      (void)m->lookup(&k);
    }
  });
  auto* h = static_cast<HashMap*>(m.get());
  EXPECT_EQ(h->count(), 64u);
  uint32_t next, cur;
  const void* prev = nullptr;
  int n = 0;
  while (m->get_next_key(prev, &next) == 0) {
    uint64_t v;
    ASSERT_EQ(m->lookup_copy(&next, &v), 0);
    EXPECT_EQ(v, next);
    cur = next;
    prev = &cur;
    ++n;
  }
  EXPECT_EQ(n, 64);
}

TEST(Concurrency, RingbufManyProducersOneConsumerLosesNothing) {
  auto m = must_create(make_def(MapType::Ringbuf, 0, 0, 1 << 14));
  auto* rb = static_cast<RingbufMap*>(m.get());
  constexpr uint32_t kPer = 3000;
  std::atomic<int> producers_left{kThreads};
  std::vector<uint32_t> last(kThreads, 0);
  uint64_t received = 0;
  std::thread consumer([&] {
    for (;;) {
      bool finished = producers_left.load() == 0;
      rb->consume([&](const void* d, uint32_t len) {
        uint32_t rec[2];
        std::memcpy(rec, d, 8);
        EXPECT_EQ(len, 8u);
        EXPECT_EQ(rec[1], last[rec[0]] + 1) << "per-producer order";
        last[rec[0]] = rec[1];
        ++received;
        return 0;
      });
      if (finished) break;
    }
  });
  run_threads([&](int t) {
    for (uint32_t i = 1; i <= kPer; ++i) {
      uint32_t rec[2] = {uint32_t(t), i};
      while (rb->output(rec, sizeof rec, 0) == -EAGAIN)
        std::this_thread::yield();
    }
    producers_left.fetch_sub(1);
  });
  consumer.join();
  EXPECT_EQ(received, uint64_t(kThreads) * kPer);
}

}  // namespace
}  // namespace bpfvm
