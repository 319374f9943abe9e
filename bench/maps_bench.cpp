// Map operation costs (ns/op) per map type, next to the Linux kernel's maps doing the same operations
// on the same keys through bpf(2), in the same process.
//
// Three paths per operation:
//  - bpfvm_prog/...   the program side (Map::lookup, Map::update, push/pop): what helpers call;
//  - bpfvm_sys/...    the syscall side (Map::lookup_copy, Map::update_copy): what an embedder calls;
//                     it copies the value (every CPU's value for per-CPU maps), as BPF_MAP_LOOKUP_ELEM;
//  - kernel_sys/...   libbpf's bpf_map_lookup_elem / bpf_map_update_elem on a kernel map: a bpf(2)
//                     syscall each, so the user -> kernel transition is included (what an
//                     application sees; a BPF program's in-kernel lookups are much cheaper).
// Every bpfvm benchmark reports `kernel_ns` (the kernel path's ns/op, timed right after it in the same
// process) and `x_kernel` = its own ns/op divided by kernel_ns. Without a working bpf(2) (not root,
// kernel.unprivileged_bpf_disabled), the kernel benchmarks are skipped with the reason and no ratios
// are reported.
#include <benchmark/benchmark.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "maps/lpm_trie.h"
#include "maps/map_set.h"
#include "maps/queue_stack.h"
#include "maps/ringbuf.h"

namespace bpfvm {
namespace {

constexpr uint32_t kEntries = 1 << 16;  // keys filled in the u32-keyed maps (a power of two)
constexpr uint32_t kStride = 7919;      // key walk: k = (k + kStride) % kEntries
constexpr uint32_t kLpmPrefixes = 4096;
constexpr int kKernelTimingOps = 20000;  // syscalls timed for each x_kernel ratio

// ---- The kernel side ----

// Empty when bpf(2) works (a map can be created), else why not. Probed once.
const std::string& kernel_unavailable() {
  static const std::string why = [] {
    int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 8, 1, nullptr);
    if (fd >= 0) {
      close(fd);
      return std::string();
    }
    int err = errno;
    return fmt::format(
        "bpf(2) unavailable (BPF_MAP_CREATE: {}; needs root or CAP_BPF): kernel benchmarks skipped, "
        "x_kernel ratios omitted",
        std::strerror(err));
  }();
  return why;
}

uint32_t cpus() {
  static const uint32_t n = [] {
    int k = libbpf_num_possible_cpus();
    if (k > 0) return static_cast<uint32_t>(k);
    return std::max(1u, std::thread::hardware_concurrency());
  }();
  return n;
}

// ---- The maps compared ----

struct LpmKey {
  uint32_t prefixlen;
  uint8_t data[4];
};

enum class Op { Lookup, Update, PushPop };
enum class Path { Prog, Sys, Kernel };
const char* op_name(Op op) {
  switch (op) {
    case Op::Lookup:
      return "lookup";
    case Op::Update:
      return "update";
    case Op::PushPop:
      return "push_pop";
  }
  return "?";
}
const char* path_name(Path p) {
  switch (p) {
    case Path::Prog:
      return "bpfvm_prog";
    case Path::Sys:
      return "bpfvm_sys";
    case Path::Kernel:
      return "kernel_sys";
  }
  return "?";
}

struct Spec {
  const char* name;
  MapType type;
  uint32_t key_size, value_size, max_entries, flags;
};
// Hash maps get twice the entries they hold, so that the kernel's LRU (per-CPU free lists) never
// evicts one of the filled keys.
const Spec kSpecs[] = {
    {"array", MapType::Array, 4, 8, kEntries, 0},
    {"percpu_array", MapType::PercpuArray, 4, 8, kEntries, 0},
    {"hash", MapType::Hash, 4, 8, 2 * kEntries, 0},
    {"percpu_hash", MapType::PercpuHash, 4, 8, 2 * kEntries, 0},
    {"lru_hash", MapType::LruHash, 4, 8, 2 * kEntries, 0},
    {"lpm_trie", MapType::LpmTrie, 8, 8, kEntries, kBpfFNoPrealloc},
    {"queue", MapType::Queue, 0, 8, 1024, 0},
};

LpmKey lpm_stored_key(uint32_t i) {
  return LpmKey{8 + i % 25, {uint8_t(i >> 4), uint8_t(i * 37), uint8_t(i * 101), 0}};
}

// The same map twice, filled with the same entries: bpfvm's and (when bpf(2) works) the kernel's.
// Built once per spec and shared by its benchmarks (updates rewrite existing keys only).
struct Fixture {
  const Spec* spec = nullptr;
  std::unique_ptr<Map> vm;
  int fd = -1;
  std::string error;  // why the fixture is unusable, or empty
  ~Fixture() {
    if (fd >= 0) close(fd);
  }
};

std::string fill(Fixture& f) {
  const Spec& s = *f.spec;
  MapDef d;
  d.name = "bench";
  d.type = s.type;
  d.key_size = s.key_size;
  d.value_size = s.value_size;
  d.max_entries = s.max_entries;
  d.map_flags = s.flags;
  MapOptions mo;
  mo.num_cpus = cpus();  // per-CPU copies of the same size on both sides
  auto r = create_map(d, mo);
  if (!r.ok()) return "bpfvm create_map: " + r.error().to_string();
  f.vm = std::move(r.value());
  const bool kernel = kernel_unavailable().empty();
  if (kernel) {
    bpf_map_create_opts opts{};
    opts.sz = sizeof(opts);
    opts.map_flags = s.flags;
    f.fd = bpf_map_create(static_cast<bpf_map_type>(s.type), "bench", s.key_size, s.value_size, s.max_entries,
                          &opts);
    if (f.fd < 0) return fmt::format("kernel bpf_map_create({}): {}", s.name, std::strerror(errno));
  }
  std::vector<uint64_t> values(cpus());
  if (s.type == MapType::Queue) return {};
  if (s.type == MapType::LpmTrie) {
    for (uint32_t i = 0; i < kLpmPrefixes; ++i) {
      LpmKey k = lpm_stored_key(i);
      uint64_t v = i;
      if (int e = f.vm->update(&k, &v, kBpfAny)) return fmt::format("bpfvm lpm update: {}", e);
      if (kernel && bpf_map_update_elem(f.fd, &k, &v, BPF_ANY))
        return fmt::format("kernel lpm update: {}", std::strerror(errno));
    }
    // Same answers on both sides for a sample of the benchmark's queries.
    uint32_t x = 12345;
    for (int i = 0; kernel && i < 2000; ++i) {
      x = x * 1103515245 + 12345;
      LpmKey q{32, {uint8_t(x >> 24), uint8_t(x >> 16), uint8_t(x >> 8), uint8_t(x)}};
      uint64_t a = 0, b = 0;
      int ea = f.vm->lookup_copy(&q, &a);
      int eb = bpf_map_lookup_elem(f.fd, &q, &b) ? -errno : 0;
      if (ea != eb || a != b) return "lpm_trie: bpfvm and the kernel answer a query differently";
    }
    return {};
  }
  for (uint32_t k = 0; k < kEntries; ++k) {
    std::fill(values.begin(), values.end(), k);
    if (int e = f.vm->update_copy(&k, values.data(), kBpfAny)) return fmt::format("bpfvm update: {}", e);
    if (kernel && bpf_map_update_elem(f.fd, &k, values.data(), BPF_ANY))
      return fmt::format("kernel update: {}", std::strerror(errno));
  }
  // Every lookup of the benchmark hits, on both sides.
  for (uint32_t k = 0; k < kEntries; ++k) {
    if (f.vm->lookup_copy(&k, values.data())) return fmt::format("bpfvm lost key {}", k);
    if (kernel && bpf_map_lookup_elem(f.fd, &k, values.data()))
      return fmt::format("kernel lost key {}: {}", k, std::strerror(errno));
  }
  return {};
}

Fixture& fixture(const Spec* s) {
  static std::mutex mu;
  static std::map<const Spec*, std::unique_ptr<Fixture>> all;
  std::lock_guard<std::mutex> lock(mu);
  auto& f = all[s];
  if (!f) {
    f = std::make_unique<Fixture>();
    f->spec = s;
    f->error = fill(*f);
  }
  return *f;
}

// Calls body(step) with `step`, one operation of `op` on `path` (keys advance between calls).
template <class Body>
void with_step(Fixture& f, Op op, Path path, Body&& body) {
  const int fd = f.fd;
  Map* m = f.vm.get();
  std::vector<uint64_t> buf(std::max<uint32_t>(cpus(), m->copy_value_size() / 8 + 1), 1);
  uint64_t* out = buf.data();
  if (op == Op::PushPop) {
    uint64_t v = 1;
    if (path == Path::Prog) {
      body([&] {
        (void)m->push(&v, kBpfAny);
        (void)m->pop(&v);
      });
    } else {
      body([&] {
        (void)bpf_map_update_elem(fd, nullptr, &v, BPF_ANY);
        (void)bpf_map_lookup_and_delete_elem(fd, nullptr, &v);
      });
    }
    return;
  }
  if (f.spec->type == MapType::LpmTrie) {
    uint32_t x = 12345, i = 0;
    auto query = [&] {
      x = x * 1103515245 + 12345;
      return LpmKey{32, {uint8_t(x >> 24), uint8_t(x >> 16), uint8_t(x >> 8), uint8_t(x)}};
    };
    auto stored = [&] { return lpm_stored_key(i++ % kLpmPrefixes); };
    if (op == Op::Lookup) {
      switch (path) {
        case Path::Prog:
          body([&] {
            LpmKey q = query();
            benchmark::DoNotOptimize(m->lookup(&q));
          });
          break;
        case Path::Sys:
          body([&] {
            LpmKey q = query();
            benchmark::DoNotOptimize(m->lookup_copy(&q, out));
          });
          break;
        case Path::Kernel:
          body([&] {
            LpmKey q = query();
            benchmark::DoNotOptimize(bpf_map_lookup_elem(fd, &q, out));
          });
          break;
      }
    } else {
      switch (path) {
        case Path::Prog:
          body([&] {
            LpmKey k = stored();
            benchmark::DoNotOptimize(m->update(&k, out, kBpfAny));
          });
          break;
        case Path::Sys:
          body([&] {
            LpmKey k = stored();
            benchmark::DoNotOptimize(m->update_copy(&k, out, kBpfAny));
          });
          break;
        case Path::Kernel:
          body([&] {
            LpmKey k = stored();
            benchmark::DoNotOptimize(bpf_map_update_elem(fd, &k, out, BPF_ANY));
          });
          break;
      }
    }
    return;
  }
  uint32_t k = 0;
  auto next = [&] { k = (k + kStride) & (kEntries - 1); };
  if (op == Op::Lookup) {
    switch (path) {
      case Path::Prog:
        body([&] {
          benchmark::DoNotOptimize(m->lookup(&k));
          next();
        });
        break;
      case Path::Sys:
        body([&] {
          benchmark::DoNotOptimize(m->lookup_copy(&k, out));
          next();
        });
        break;
      case Path::Kernel:
        body([&] {
          benchmark::DoNotOptimize(bpf_map_lookup_elem(fd, &k, out));
          next();
        });
        break;
    }
  } else {
    switch (path) {
      case Path::Prog:
        body([&] {
          benchmark::DoNotOptimize(m->update(&k, out, kBpfAny));
          next();
        });
        break;
      case Path::Sys:
        body([&] {
          benchmark::DoNotOptimize(m->update_copy(&k, out, kBpfAny));
          next();
        });
        break;
      case Path::Kernel:
        body([&] {
          benchmark::DoNotOptimize(bpf_map_update_elem(fd, &k, out, BPF_ANY));
          next();
        });
        break;
    }
  }
}

using Clock = std::chrono::steady_clock;

double kernel_ns_per_op(Fixture& f, Op op) {
  double ns = 0;
  with_step(f, op, Path::Kernel, [&](auto step) {
    for (int i = 0; i < kKernelTimingOps / 10; ++i)
      step();  // warm-up
    auto t0 = Clock::now();
    for (int i = 0; i < kKernelTimingOps; ++i)
      step();
    ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / kKernelTimingOps;
  });
  return ns;
}

void BM_MapOp(benchmark::State& state, const Spec* spec, Op op, Path path) {
  Fixture& f = fixture(spec);
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  if (path == Path::Kernel && !kernel_unavailable().empty()) {
    state.SkipWithError(kernel_unavailable().c_str());
    return;
  }
  ScopedCpu cpu(0);
  double ns = 0;
  with_step(f, op, path, [&](auto step) {
    auto t0 = Clock::now();
    for (auto _ : state)
      step();
    ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
         static_cast<double>(std::max<benchmark::IterationCount>(1, state.iterations()));
  });
  state.SetItemsProcessed(state.iterations());
  if (path != Path::Kernel && kernel_unavailable().empty()) {
    double kernel = kernel_ns_per_op(f, op);
    state.counters["kernel_ns"] = kernel;
    state.counters["x_kernel"] = ns / kernel;
  }
}

// ---- bpfvm only: contention, allocation, eviction, ring buffer, bloom filter ----

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

// Four threads on one shared, pre-filled map (contention on the bucket stripes / the LRU lock).
void BM_LookupShared(benchmark::State& state, MapType type) {
  static std::once_flag once[64];
  static std::unique_ptr<Map> shared[64];
  const uint32_t t = static_cast<uint32_t>(type) % 64;
  std::call_once(once[t], [&] {
    shared[t] = make(type, 4, 8, kEntries);
    for (uint32_t k = 0; shared[t] && k < kEntries; ++k) {
      uint64_t v = k;
      (void)shared[t]->update(&k, &v, kBpfAny);
    }
  });
  Map* m = shared[t].get();
  if (!m) {
    state.SkipWithError("create_map failed");
    return;
  }
  uint32_t k = uint32_t(state.thread_index()) * 1000;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m->lookup(&k));
    k = (k + kStride) & (kEntries - 1);
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

void BM_RingbufOutputConsume(benchmark::State& state) {
  auto m = make(MapType::Ringbuf, 0, 0, 1 << 20);
  auto* rb = static_cast<RingbufMap*>(m.get());
  uint8_t rec[64] = {};
  for (auto _ : state) {
    if (rb->output(rec, sizeof rec, 0) != 0) {
      rb->consume([](const void*, uint32_t) { return 0; });
    }
  }
  state.SetItemsProcessed(state.iterations());
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

void register_all() {
  for (const Spec& s : kSpecs) {
    const bool queue = s.type == MapType::Queue;
    for (Op op : {Op::Lookup, Op::Update, Op::PushPop}) {
      if (queue != (op == Op::PushPop)) continue;
      for (Path p : {Path::Prog, Path::Sys, Path::Kernel}) {
        // bpfvm's syscall side has no pop (BPF_MAP_LOOKUP_AND_DELETE_ELEM); queues: program side only.
        if (queue && p == Path::Sys) continue;
        std::string name = fmt::format("{}/{}/{}", path_name(p), op_name(op), s.name);
        benchmark::RegisterBenchmark(name.c_str(), BM_MapOp, &s, op, p);
      }
    }
  }
  benchmark::RegisterBenchmark("bpfvm_prog/lookup_4threads/array", BM_LookupShared, MapType::Array)
      ->Threads(4);
  benchmark::RegisterBenchmark("bpfvm_prog/lookup_4threads/hash", BM_LookupShared, MapType::Hash)->Threads(4);
  benchmark::RegisterBenchmark("bpfvm_prog/lookup_4threads/lru_hash", BM_LookupShared, MapType::LruHash)
      ->Threads(4);
  benchmark::RegisterBenchmark("bpfvm_prog/insert_delete/hash", BM_InsertDelete, MapType::Hash);
  benchmark::RegisterBenchmark("bpfvm_prog/insert_delete/lru_hash", BM_InsertDelete, MapType::LruHash);
  benchmark::RegisterBenchmark("bpfvm_prog/lru_evict", BM_LruEvict);
  benchmark::RegisterBenchmark("bpfvm_prog/ringbuf_output_consume", BM_RingbufOutputConsume);
  benchmark::RegisterBenchmark("bpfvm_prog/bloom_push_peek", BM_BloomPushPeek);
}

}  // namespace
}  // namespace bpfvm

int main(int argc, char** argv) {
  if (!bpfvm::kernel_unavailable().empty()) std::fprintf(stderr, "%s\n", bpfvm::kernel_unavailable().c_str());
  bpfvm::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
