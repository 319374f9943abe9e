// Kernel helpers through small assembled programs run by the interpreter, with a real MapSet as the
// helper context's maps and as the run's RegionResolver.
#include "helpers/kernel_helpers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "helpers/context.h"
#include "helpers/environment.h"
#include "helpers/proto.h"
#include "maps/array_maps.h"
#include "maps/map_set.h"
#include "maps/perf_event_array.h"
#include "maps/queue_stack.h"
#include "maps/ringbuf.h"
#include "vm/asm.h"
#include "vm/elf/prog_type.h"

namespace bpfvm {
namespace {

constexpr uint64_t neg(int e) {
  return static_cast<uint64_t>(static_cast<int64_t>(-e));
}

MapDef def(std::string name, MapType t, uint32_t ks, uint32_t vs, uint32_t n) {
  MapDef d;
  d.name = std::move(name);
  d.type = t;
  d.key_size = ks;
  d.value_size = vs;
  d.max_entries = n;
  return d;
}

class Targets : public TailCallTargets {
 public:
  const Interpreter* interpreter(uint32_t id) const override {
    auto it = progs.find(id);
    return it == progs.end() ? nullptr : it->second;
  }
  std::map<uint32_t, const Interpreter*> progs;
};

struct Rig {
  MapSet maps;
  HelperTable table;
  CapturingEnvironment env;
  HelperContext hctx;
  std::vector<uint8_t> mem = std::vector<uint8_t>(256, 0);
  Targets targets;
  RunStats stats;
  std::vector<std::unique_ptr<Interpreter>> vms;

  Rig() {
    register_kernel_helpers(table);
    hctx.maps = &maps;
  }
  Map* add(const MapDef& d) {
    auto m = maps.create(d);
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().to_string());
    return m.ok() ? *m : nullptr;
  }
  uint64_t addr(size_t off = 0) const { return reinterpret_cast<uint64_t>(mem.data()) + off; }
  // Assembles `text`, patching `map(NAME)` references with the maps' host addresses.
  const Interpreter* load(const std::string& text) {
    auto out = assemble(text);
    EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().to_string()) << "\n" << text;
    if (!out.ok()) return nullptr;
    for (const MapRef& ref : out->map_refs) {
      Map* m = maps.find(ref.name);
      EXPECT_NE(m, nullptr) << ref.name;
      out->program.insns[ref.insn_index].imm64 = reinterpret_cast<uint64_t>(m);
    }
    auto vm = Interpreter::create(out->program, &table);
    EXPECT_TRUE(vm.ok()) << (vm.ok() ? "" : vm.error().to_string());
    if (!vm.ok()) return nullptr;
    vms.push_back(std::move(*vm));
    return vms.back().get();
  }
  Result<uint64_t> run(const Interpreter* vm, bool checked = true) {
    RunInput in;
    in.args[0] = addr();
    in.args[1] = mem.size();
    in.regions.push_back(MemRegion{addr(), mem.size(), true, "input"});
    in.resolver = &maps;
    in.context = &hctx;
    in.tail_calls = &targets;
    RunOptions opts;
    opts.checked = checked;
    opts.budget = 10'000'000;
    return vm->run(in, opts, env, &stats);
  }
  // Runs in checked mode (programs here change map state, so each runs once); expects success.
  uint64_t value(const std::string& text) {
    const Interpreter* vm = load(text);
    if (vm == nullptr) return 0xdead;
    auto r = run(vm, true);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string()) << "\n" << text;
    return r.ok() ? *r : 0xdead;
  }
  Error fault(const std::string& text) {
    const Interpreter* vm = load(text);
    if (vm == nullptr) return make_error(ErrorCode::kInternal, kNoPc, "no program");
    auto r = run(vm, true);
    EXPECT_FALSE(r.ok()) << "expected a fault from\n" << text;
    return r.ok() ? make_error(ErrorCode::kInternal, kNoPc, "no fault") : r.error();
  }
};

// r2 = &key (u32 `key` at r10-4), r1 = map.
std::string key_args(std::string_view map, uint32_t key) {
  return fmt::format(
      "stw [%r10-4], {}\n"
      "lddw %r1, map({})\n"
      "mov %r2, %r10\n"
      "add %r2, -4\n",
      key, map);
}

// ---- Maps ----------------------------------------------------------------------------------------

TEST(MapHelpers, UpdateFlagsAndErrnos) {
  Rig rig;
  Map* h = rig.add(def("h", MapType::Hash, 4, 8, 2));
  auto update = [&](uint32_t key, uint64_t flags) {
    return fmt::format("stdw [%r10-16], 42\n{}mov %r3, %r10\nadd %r3, -16\nmov %r4, {}\ncall 2\n",
                       key_args("h", key), flags);
  };
  EXPECT_EQ(rig.value(update(1, kBpfNoExist) + "exit"), 0u);
  EXPECT_EQ(rig.value(update(1, kBpfNoExist) + "exit"), neg(EEXIST));
  EXPECT_EQ(rig.value(update(2, kBpfExist) + "exit"), neg(ENOENT));
  EXPECT_EQ(rig.value(update(2, kBpfAny) + "exit"), 0u);
  EXPECT_EQ(rig.value(update(3, kBpfAny) + "exit"), neg(E2BIG));  // full
  EXPECT_EQ(rig.value(update(3, 7) + "exit"), neg(EINVAL));
  uint32_t k = 1;
  uint64_t v = 0;
  ASSERT_EQ(h->lookup_copy(&k, &v), 0);
  EXPECT_EQ(v, 42u);
  EXPECT_EQ(rig.value(key_args("h", 1) + "call 3\nexit"), 0u);
  EXPECT_EQ(rig.value(key_args("h", 1) + "call 3\nexit"), neg(ENOENT));
  EXPECT_EQ(h->lookup_copy(&k, &v), -ENOENT);
}

TEST(MapHelpers, LookupReturnsAWritableValueInCheckedMode) {
  Rig rig;
  Map* h = rig.add(def("h", MapType::Hash, 4, 8, 16));
  uint32_t k = 1;
  uint64_t v = 41;
  ASSERT_EQ(h->update(&k, &v, kBpfAny), 0);
  std::string prog = key_args("h", 1) +
                     "call 1\n"
                     "jeq %r0, 0, miss\n"
                     "ldxdw %r1, [%r0]\n"
                     "add %r1, 1\n"
                     "stxdw [%r0], %r1\n"
                     "ldxdw %r0, [%r0]\n"
                     "exit\n"
                     "miss:\n"
                     "mov %r0, -1\n"
                     "exit\n";
  EXPECT_EQ(rig.value(prog), 42u);
  ASSERT_EQ(h->lookup_copy(&k, &v), 0);
  EXPECT_EQ(v, 42u);
  // A missing key gives NULL.
  EXPECT_EQ(rig.value(key_args("h", 9) + "call 1\nexit"), 0u);
}

TEST(MapHelpers, CheckedModeFaultsOneBytePastAMapValue) {
  Rig rig;
  Map* h = rig.add(def("h", MapType::Hash, 4, 8, 16));
  rig.add(def("arr", MapType::Array, 4, 4, 4));  // stride 8: 4 bytes of padding after each value
  uint32_t k = 1;
  uint64_t v = 7;
  ASSERT_EQ(h->update(&k, &v, kBpfAny), 0);
  EXPECT_EQ(rig.value(key_args("h", 1) + "call 1\nldxb %r0, [%r0+7]\nexit"), 0u);
  Error e = rig.fault(key_args("h", 1) + "call 1\nldxb %r0, [%r0+8]\nexit");
  EXPECT_EQ(e.code, ErrorCode::kOutOfBounds) << e.to_string();
  EXPECT_EQ(e.pc, 6u) << e.to_string();
  EXPECT_EQ(rig.value(key_args("arr", 2) + "call 1\nstw [%r0], 5\nldxw %r0, [%r0]\nexit"), 5u);
  e = rig.fault(key_args("arr", 2) + "call 1\nldxw %r0, [%r0+1]\nexit");
  EXPECT_EQ(e.code, ErrorCode::kOutOfBounds) << e.to_string();
}

TEST(MapHelpers, ReadOnlyMapValuesAreNotWritable) {
  Rig rig;
  MapDef d = def("ro", MapType::Array, 4, 8, 1);
  d.read_only = true;
  d.initial_value = {9, 0, 0, 0, 0, 0, 0, 0};
  rig.add(d);
  EXPECT_EQ(rig.value(key_args("ro", 0) + "call 1\nldxdw %r0, [%r0]\nexit"), 9u);
  Error e = rig.fault(key_args("ro", 0) + "call 1\nstdw [%r0], 1\nexit");
  EXPECT_EQ(e.code, ErrorCode::kOutOfBounds);
  EXPECT_NE(e.msg.find("read-only map 'ro' value"), std::string::npos) << e.msg;
}

TEST(MapHelpers, ForeignMapPointerFails) {
  Rig rig;
  auto other = create_map(def("x", MapType::Array, 4, 8, 1));
  ASSERT_TRUE(other.ok());
  std::string prog = fmt::format("stw [%r10-4], 0\nlddw %r1, {}\nmov %r2, %r10\nadd %r2, -4\ncall 1\nexit",
                                 reinterpret_cast<uint64_t>(other->get()));
  Error e = rig.fault(prog);
  EXPECT_EQ(e.code, ErrorCode::kHelperFault);
  EXPECT_NE(e.msg.find("not a map of this program"), std::string::npos) << e.msg;
}

TEST(MapHelpers, UnimplementedKernelHelperIsNamed) {
  Rig rig;
  Error e = rig.fault("call 13\nexit");
  EXPECT_EQ(e.code, ErrorCode::kUnknownHelper);
  EXPECT_EQ(e.msg, "helper 13 (bpf_clone_redirect) is not implemented by bpfvm");
  e = rig.fault("call 100000\nexit");
  EXPECT_EQ(e.msg, "unknown helper 100000");
}

TEST(MapHelpers, QueueAndStack) {
  Rig rig;
  rig.add(def("q", MapType::Queue, 0, 8, 2));
  rig.add(def("s", MapType::Stack, 0, 8, 2));
  auto push = [](std::string_view m, int v, int flags) {
    return fmt::format(
        "stdw [%r10-8], {}\nlddw %r1, map({})\nmov %r2, %r10\nadd %r2, -8\nmov %r3, {}\ncall 87\n", v, m,
        flags);
  };
  auto take = [](std::string_view m, int id) {
    return fmt::format("stdw [%r10-8], -1\nlddw %r1, map({})\nmov %r2, %r10\nadd %r2, -8\ncall {}\n", m, id);
  };
  for (std::string_view m : {"q", "s"}) {
    EXPECT_EQ(rig.value(push(m, 1, 0) + "exit"), 0u);
    EXPECT_EQ(rig.value(push(m, 2, 0) + "exit"), 0u);
    EXPECT_EQ(rig.value(push(m, 3, 0) + "exit"), neg(E2BIG));
    EXPECT_EQ(rig.value(push(m, 3, kBpfExist) + "exit"), 0u);  // drops the oldest (1)
  }
  EXPECT_EQ(rig.value(take("q", 89) + "ldxdw %r0, [%r10-8]\nexit"), 2u);  // peek
  EXPECT_EQ(rig.value(take("q", 88) + "ldxdw %r0, [%r10-8]\nexit"), 2u);
  EXPECT_EQ(rig.value(take("q", 88) + "ldxdw %r0, [%r10-8]\nexit"), 3u);
  EXPECT_EQ(rig.value(take("q", 88) + "exit"), neg(ENOENT));
  EXPECT_EQ(rig.value(take("s", 88) + "ldxdw %r0, [%r10-8]\nexit"), 3u);
  EXPECT_EQ(rig.value(take("s", 88) + "ldxdw %r0, [%r10-8]\nexit"), 2u);
}

// ---- Ring buffers and perf output -------------------------------------------------------------------

TEST(RingbufHelpers, ReserveSubmitDiscardOutputQuery) {
  Rig rig;
  auto* rb = static_cast<RingbufMap*>(rig.add(def("rb", MapType::Ringbuf, 0, 0, 4096)));
  // Reserve 16 bytes, fill them in checked mode, submit; reserve and discard another.
  std::string prog =
      "lddw %r1, map(rb)\nmov %r2, 16\nmov %r3, 0\ncall 131\njeq %r0, 0, fail\n"
      "stdw [%r0], 0x11\nstdw [%r0+8], 0x22\nmov %r1, %r0\nmov %r2, 0\ncall 132\n"
      "lddw %r1, map(rb)\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, fail\n"
      "stdw [%r0], 0x33\nmov %r1, %r0\nmov %r2, 0\ncall 133\n"
      "stdw [%r10-8], 0x44\nlddw %r1, map(rb)\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\nmov %r4, 0\ncall 130\n"
      "jne %r0, 0, fail\n"
      "lddw %r1, map(rb)\nmov %r2, 0\ncall 134\nexit\n"
      "fail:\nmov %r0, -1\nexit\n";
  // Available data: 3 records of 8 + 16, 8 + 8, 8 + 8 bytes.
  EXPECT_EQ(rig.value(prog), 24u + 16u + 16u);
  std::vector<std::vector<uint64_t>> seen;
  int n = rb->consume([&](const void* data, uint32_t len) {
    std::vector<uint64_t> v(len / 8);
    std::memcpy(v.data(), data, len);
    seen.push_back(v);
    return 0;
  });
  EXPECT_EQ(n, 2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::vector<uint64_t>{0x11, 0x22}));
  EXPECT_EQ(seen[1], (std::vector<uint64_t>{0x44}));
  // Submitting something that is not a record fails.
  Error e = rig.fault("lddw %r1, 0x1000\nmov %r2, 0\ncall 132\nexit");
  EXPECT_EQ(e.code, ErrorCode::kHelperFault);
  // Reservation flags must be 0, and a record larger than the ring fails: NULL.
  EXPECT_EQ(rig.value("lddw %r1, map(rb)\nmov %r2, 8\nmov %r3, 1\ncall 131\nexit"), 0u);
  EXPECT_EQ(rig.value("lddw %r1, map(rb)\nmov %r2, 8192\nmov %r3, 0\ncall 131\nexit"), 0u);
}

TEST(PerfHelpers, CurrentCpuAndIndex) {
  Rig rig;
  auto* pe = static_cast<PerfEventArrayMap*>(rig.add(def("events", MapType::PerfEventArray, 4, 4, 8)));
  rig.hctx.cpu = 2;
  auto out = [](std::string flags) {
    return "stdw [%r10-8], 0x1234\nlddw %r2, map(events)\nlddw %r3, " + flags +
           "\nmov %r4, %r10\nadd %r4, -8\nmov %r5, 8\ncall 25\nexit";
  };
  EXPECT_EQ(rig.value(out("0xffffffff")), 0u);  // BPF_F_CURRENT_CPU
  EXPECT_EQ(rig.value(out("7")), neg(ENOENT));  // no event at index 7 (4 CPUs)
  EXPECT_EQ(rig.value(out("8")), neg(E2BIG));
  EXPECT_EQ(rig.value(out("1")), neg(EOPNOTSUPP));  // another CPU's buffer
  EXPECT_EQ(rig.value(out("0x100000000")), neg(EINVAL));
  std::vector<std::pair<uint32_t, uint64_t>> seen;
  pe->consume([&](uint32_t cpu, const void* data, uint32_t size) {
    uint64_t v;
    std::memcpy(&v, data, 8);
    seen.emplace_back(cpu, v);
  });
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (std::pair<uint32_t, uint64_t>{2, 0x1234}));
  EXPECT_EQ(rig.value("call 8\nexit"), 2u);  // get_smp_processor_id
}

// ---- Probe reads and strings ---------------------------------------------------------------------------

TEST(ProbeRead, GoodAndBadPointers) {
  Rig rig;
  std::memcpy(rig.mem.data() + 16, "hello\0", 6);
  for (int id : {4, 112, 113}) {
    // Copy 8 bytes of the input into the stack (prefilled with ones).
    std::string good = fmt::format(
        "mov %r6, %r1\nstdw [%r10-8], -1\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\nmov %r3, %r6\nadd %r3, 16\n"
        "call {}\njne %r0, 0, +1\nldxdw %r0, [%r10-8]\nexit",
        id);
    uint64_t expect;
    std::memcpy(&expect, rig.mem.data() + 16, 8);
    EXPECT_EQ(rig.value(good), expect) << id;
    std::string bad = fmt::format(
        "stdw [%r10-8], -1\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\nlddw %r3, 0x1000\ncall {}\n"
        "mov %r6, %r0\nldxdw %r0, [%r10-8]\nlsh %r6, 32\nor %r0, %r6\nexit",
        id);
    // -EFAULT (in the high half) and a zero-filled destination.
    EXPECT_EQ(rig.value(bad), static_cast<uint64_t>(static_cast<uint32_t>(-EFAULT)) << 32) << id;
  }
  for (int id : {45, 114, 115}) {
    auto str = [&](int size, std::string src) {
      return fmt::format(
          "mov %r6, %r1\nstdw [%r10-16], -1\nstdw [%r10-8], -1\nmov %r1, %r10\nadd %r1, -16\nmov %r2, {}\n"
          "{}\ncall {}\nexit",
          size, src, id);
    };
    EXPECT_EQ(rig.value(str(16, "mov %r3, %r6\nadd %r3, 16")), 6u) << id;  // "hello" + NUL
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(rig.mem.data() + 16)), "hello");
    EXPECT_EQ(rig.value(str(4, "mov %r3, %r6\nadd %r3, 16")), 4u) << id;  // "hel" + NUL
    EXPECT_EQ(rig.value(str(16, "lddw %r3, 0x1000")), neg(EFAULT)) << id;
    // Unterminated at the end of the input region.
    std::memset(rig.mem.data() + 250, 'x', 6);
    EXPECT_EQ(rig.value(str(16, "mov %r3, %r6\nadd %r3, 250")), neg(EFAULT)) << id;
  }
}

TEST(StringHelpers, Strncmp) {
  Rig rig;
  std::memcpy(rig.mem.data(), "abc\0abd\0ab\0", 11);
  auto cmp = [&](int s1, int n, int s2) {
    return rig.value(fmt::format(
        "mov %r6, %r1\nadd %r1, {}\nmov %r2, {}\nmov %r3, %r6\nadd %r3, {}\ncall 182\nexit", s1, n, s2));
  };
  EXPECT_EQ(cmp(0, 3, 0), 0u);
  EXPECT_EQ(cmp(0, 3, 4), static_cast<uint64_t>(-1));  // abc < abd
  EXPECT_EQ(cmp(4, 3, 0), 1u);
  EXPECT_EQ(cmp(0, 2, 4), 0u);  // only 2 characters
  EXPECT_EQ(cmp(0, 3, 8), 1u);  // "abc" vs "ab": 'c' > NUL
  EXPECT_EQ(cmp(8, 3, 0), static_cast<uint64_t>(-1));
}

TEST(StringHelpers, Snprintf) {
  Rig rig;
  std::memcpy(rig.mem.data(), "x=%d y=%s\0hi\0", 13);
  uint64_t args[2] = {5, rig.addr(10)};
  std::memcpy(rig.mem.data() + 32, args, 16);
  auto prog = [](int size, int data_len) {
    return fmt::format(
        "mov %r6, %r1\nmov %r1, %r6\nadd %r1, 64\nmov %r2, {}\nmov %r3, %r6\nmov %r4, %r6\nadd %r4, 32\n"
        "mov %r5, {}\ncall 165\nexit",
        size, data_len);
  };
  EXPECT_EQ(rig.value(prog(32, 16)), 9u);  // "x=5 y=hi" + NUL
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(rig.mem.data() + 64)), "x=5 y=hi");
  EXPECT_EQ(rig.value(prog(8, 16)), 9u);  // truncated, still the full length
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(rig.mem.data() + 64)), "x=5 y=h");
  EXPECT_EQ(rig.value(prog(32, 12)), neg(EINVAL));   // not a multiple of 8
  EXPECT_EQ(rig.value(prog(32, 8)), neg(EINVAL));    // %s has no argument
  EXPECT_EQ(rig.value(prog(32, 104)), neg(EINVAL));  // more than 12 arguments
}

// ---- Callbacks -------------------------------------------------------------------------------------

TEST(LoopHelper, IteratesBreaksAndReportsErrors) {
  Rig rig;
  // Sums the indexes into *ctx; breaks at index 4: 5 iterations, sum 10.
  std::string prog =
      "stdw [%r10-8], 0\nmov %r1, 10\nlddw %r2, func(cb)\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 0\ncall 181\n"
      "mul %r0, 1000\nldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit\n"
      "cb:\nldxdw %r3, [%r2]\nadd %r3, %r1\nstxdw [%r2], %r3\nmov %r0, 0\njne %r1, 4, +1\nmov %r0, 1\nexit\n";
  EXPECT_EQ(rig.value(prog), 5010u);
  std::string no_break =
      "stdw [%r10-8], 0\nmov %r1, 6\nlddw %r2, func(cb)\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 0\ncall 181\n"
      "mul %r0, 1000\nldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit\n"
      "cb:\nldxdw %r3, [%r2]\nadd %r3, %r1\nstxdw [%r2], %r3\nmov %r0, 0\nexit\n";
  EXPECT_EQ(rig.value(no_break), 6015u);
  auto args = [](std::string n, int flags) {
    return "lddw %r1, " + n + "\nlddw %r2, func(cb)\nmov %r3, 0\nmov %r4, " + std::to_string(flags) +
           "\ncall 181\nexit\ncb:\nmov %r0, 0\nexit\n";
  };
  EXPECT_EQ(rig.value(args("3", 1)), neg(EINVAL));
  EXPECT_EQ(rig.value(args("0x800001", 0)), neg(E2BIG));
  EXPECT_EQ(rig.value(args("0", 0)), 0u);
}

TEST(LoopHelper, FaultInsideTheCallbackEndsTheRunAtItsPc) {
  Rig rig;
  std::string prog =
      "mov %r1, 3\nlddw %r2, func(cb)\nmov %r3, 0\nmov %r4, 0\ncall 181\nmov %r0, 7\nexit\n"
      "cb:\nmov %r0, 0\njne %r1, 2, +1\nldxdw %r0, [%r3]\nexit\n";
  Error e = rig.fault(prog);
  EXPECT_EQ(e.code, ErrorCode::kOutOfBounds) << e.to_string();
  EXPECT_EQ(e.pc, 10u) << e.to_string();  // the ldxdw in the callback
  // The budget is shared with the callbacks.
  const Interpreter* vm = rig.load(
      "mov %r1, 1000\nlddw %r2, func(cb)\nmov %r3, 0\nmov %r4, 0\ncall 181\nexit\ncb:\nmov %r0, 0\nexit\n");
  RunInput in;
  in.context = &rig.hctx;
  RunOptions opts;
  opts.budget = 500;
  auto r = vm->run(in, opts, rig.env);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBudgetExhausted);
  opts.budget = 1'000'000;
  RunStats stats;
  ASSERT_TRUE(vm->run(in, opts, rig.env, &stats).ok());
  EXPECT_EQ(stats.insns_executed, 6u + 2u * 1000u);
  // Unchecked mode gives the same result.
  opts.checked = false;
  auto u = vm->run(in, opts, rig.env);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(*u, 1000u);
}

TEST(LoopHelper, NestedCallbacksHitTheCallDepthLimit) {
  Rig rig;
  // The callback calls bpf_loop again: frame 1, 2, ... until the limit of 8 frames.
  std::string prog =
      "mov %r1, 1\nlddw %r2, func(cb)\nmov %r3, 0\nmov %r4, 0\ncall 181\nexit\n"
      "cb:\nmov %r1, 1\nlddw %r2, func(cb)\nmov %r3, 0\nmov %r4, 0\ncall 181\nexit\n";
  Error e = rig.fault(prog);
  EXPECT_EQ(e.code, ErrorCode::kCallDepth) << e.to_string();
}

TEST(ForEachMapElem, ArraysAndHashes) {
  Rig rig;
  Map* arr = rig.add(def("arr", MapType::Array, 4, 8, 4));
  Map* h = rig.add(def("h", MapType::Hash, 4, 8, 8));
  for (uint32_t k = 0; k < 4; ++k) {
    uint64_t v = k + 1;
    ASSERT_EQ(arr->update(&k, &v, kBpfAny), 0);
    ASSERT_EQ(h->update(&k, &v, kBpfAny), 0);
  }
  // ctx += *key * 100 + *value; returns count * 10000 + ctx.
  auto prog = [](std::string_view map, int stop_after) {
    return fmt::format(
        "stdw [%r10-8], 0\nlddw %r1, map({})\nlddw %r2, func(cb)\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 0\n"
        "call 164\nmul %r0, 10000\nldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit\n"
        "cb:\nldxw %r5, [%r2]\nmul %r5, 100\nldxdw %r0, [%r3]\nadd %r5, %r0\nldxdw %r0, [%r4]\nadd %r0, %r5\n"
        "stxdw [%r4], %r0\nmov %r0, 0\nldxdw %r5, [%r4]\njlt %r5, {}, +1\nmov %r0, 1\nexit\n",
        map, stop_after);
  };
  EXPECT_EQ(rig.value(prog("arr", 100000)), 4u * 10000 + 600 + 10);
  EXPECT_EQ(rig.value(prog("h", 100000)), 4u * 10000 + 600 + 10);
  // Early break: the element that breaks counts.
  EXPECT_EQ(rig.value(prog("arr", 1)), 1u * 10000 + 1);
  // The value is writable through the callback, the key is not.
  std::string write_key =
      "lddw %r1, map(arr)\nlddw %r2, func(cb)\nmov %r3, 0\nmov %r4, 0\ncall 164\nexit\n"
      "cb:\nstw [%r2], 1\nmov %r0, 0\nexit\n";
  Error e = rig.fault(write_key);
  EXPECT_EQ(e.code, ErrorCode::kOutOfBounds) << e.to_string();
}

// ---- Tail calls --------------------------------------------------------------------------------------

TEST(TailCalls, ChainStopsAfter33) {
  Rig rig;
  rig.add(def("cnt", MapType::Array, 4, 8, 1));
  Map* progs = rig.add(def("progs", MapType::ProgArray, 4, 4, 4));
  // Counts its runs in cnt[0] and tail-calls slot 0 (itself); when that fails, returns the count.
  std::string self = key_args("cnt", 0) +
                     "call 1\njeq %r0, 0, out\nmov %r1, 1\nlock add [%r0], %r1\n"
                     "mov %r1, %r9\nlddw %r2, map(progs)\nmov %r3, 0\ncall 12\n" +
                     key_args("cnt", 0) +
                     "call 1\njeq %r0, 0, out\nldxdw %r0, [%r0]\nexit\nout:\nmov %r0, -1\nexit\n";
  const Interpreter* vm = rig.load("mov %r9, %r1\n" + self);
  ASSERT_NE(vm, nullptr);
  rig.targets.progs[7] = vm;
  uint32_t k = 0, id = 7;
  ASSERT_EQ(progs->update(&k, &id, kBpfAny), 0);
  auto r = rig.run(vm);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, 34u);
  EXPECT_EQ(rig.stats.tail_calls, 33u);
}

TEST(TailCalls, EmptySlotsCountOutOfRangeIndexesDoNot) {
  Rig rig;
  rig.add(def("cnt", MapType::Array, 4, 8, 1));
  Map* progs = rig.add(def("progs", MapType::ProgArray, 4, 4, 4));
  // Each run: count, tail-call index 9 (out of range: not counted), slot 1 (empty: counted), then
  // slot 0 (itself). Run i makes attempts 2i - 1 and 2i: runs 1..16 tail-call, run 17 makes
  // attempt 33 (empty slot) and has its 34th refused.
  auto tail = [](int slot) {
    return fmt::format("mov %r1, %r9\nlddw %r2, map(progs)\nmov %r3, {}\ncall 12\n", slot);
  };
  std::string prog = "mov %r9, %r1\n" + key_args("cnt", 0) +
                     "call 1\njeq %r0, 0, out\nmov %r1, 1\nlock add [%r0], %r1\n" + tail(9) + tail(1) +
                     tail(0) + key_args("cnt", 0) +
                     "call 1\njeq %r0, 0, out\nldxdw %r0, [%r0]\nexit\nout:\nmov %r0, -1\nexit\n";
  const Interpreter* vm = rig.load(prog);
  ASSERT_NE(vm, nullptr);
  rig.targets.progs[7] = vm;
  uint32_t k = 0, id = 7;
  ASSERT_EQ(progs->update(&k, &id, kBpfAny), 0);
  auto r = rig.run(vm);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, 17u);
  EXPECT_EQ(rig.stats.tail_calls, 33u);
}

TEST(TailCalls, TargetSeesTheContextAndMissingSlotsContinue) {
  Rig rig;
  Map* progs = rig.add(def("progs", MapType::ProgArray, 4, 4, 4));
  rig.mem[0] = 0x5a;
  const Interpreter* target = rig.load("ldxb %r0, [%r1]\nadd %r0, %r6\nexit");  // r6 is cleared
  rig.targets.progs[3] = target;
  uint32_t k = 1, id = 3;
  ASSERT_EQ(progs->update(&k, &id, kBpfAny), 0);
  auto caller = [](int slot) {
    return fmt::format("mov %r6, 100\nlddw %r2, map(progs)\nmov %r3, {}\ncall 12\nadd %r0, 1000\nexit", slot);
  };
  EXPECT_EQ(rig.value(caller(1)), 0x5au);
  EXPECT_EQ(rig.value(caller(0)), 1000 + neg(ENOENT));  // empty slot: continues
  EXPECT_EQ(rig.value(caller(9)), 1000 + neg(ENOENT));  // out of range
  // Unchecked runs tail-call the same way.
  const Interpreter* vm = rig.load(caller(1));
  auto r = rig.run(vm, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0x5au);
  // From a subprogram: kUnsupported.
  Error e = rig.fault("call local sub\nexit\nsub:\nlddw %r2, map(progs)\nmov %r3, 1\ncall 12\nexit");
  EXPECT_EQ(e.code, ErrorCode::kUnsupported) << e.to_string();
}

// ---- Packets -----------------------------------------------------------------------------------------

struct XdpRig : Rig {
  std::vector<uint8_t> buf = std::vector<uint8_t>(256, 0);
  uint32_t fields[3] = {};  // data, data_end, data_meta
  PacketState ps;
  XdpRig() {
    ps.buf = buf.data();
    ps.capacity = 200;
    ps.data = 64;
    ps.data_end = 128;
    ps.data_meta = 64;
    ps.min_headroom = 16;
    ps.ctx_data = &fields[0];
    ps.ctx_data_end = &fields[1];
    ps.ctx_data_meta = &fields[2];
    hctx.packet = &ps;
  }
  uint64_t call(int id, int delta) { return value(fmt::format("mov %r2, {}\ncall {}\nexit", delta, id)); }
  uint32_t at(uint32_t off) const {
    return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(buf.data()) + off);
  }
};

TEST(XdpAdjust, HeadBounds) {
  XdpRig x;
  EXPECT_EQ(x.call(44, -16), 0u);
  EXPECT_EQ(x.ps.data, 48u);
  EXPECT_EQ(x.fields[0], x.at(48));
  EXPECT_EQ(x.call(44, -33), neg(EINVAL));  // below the headroom kept
  EXPECT_EQ(x.call(44, -32), 0u);
  EXPECT_EQ(x.ps.data, 16u);
  EXPECT_EQ(x.call(44, 128 - 16 - 13), neg(EINVAL));  // fewer than 14 bytes left
  EXPECT_EQ(x.call(44, 128 - 16 - 14), 0u);
  EXPECT_EQ(x.ps.data, 114u);
}

TEST(XdpAdjust, TailBounds) {
  XdpRig x;
  x.buf[130] = 0xee;
  EXPECT_EQ(x.call(65, 8), 0u);
  EXPECT_EQ(x.ps.data_end, 136u);
  EXPECT_EQ(x.buf[130], 0);  // grown area cleared
  EXPECT_EQ(x.fields[1], x.at(136));
  EXPECT_EQ(x.call(65, 65), neg(EINVAL));  // past capacity 200
  EXPECT_EQ(x.call(65, 64), 0u);
  EXPECT_EQ(x.call(65, -(200 - 64 - 13)), neg(EINVAL));
  EXPECT_EQ(x.call(65, -(200 - 64 - 14)), 0u);
  EXPECT_EQ(x.ps.data_end, 78u);
}

TEST(XdpAdjust, MetaBoundsAndHeadMovesMeta) {
  XdpRig x;
  EXPECT_EQ(x.call(54, -6), neg(EACCES));   // not a multiple of 4
  EXPECT_EQ(x.call(54, -36), neg(EACCES));  // more than 32 bytes
  EXPECT_EQ(x.call(54, 4), neg(EINVAL));    // after data
  EXPECT_EQ(x.call(54, -8), 0u);
  EXPECT_EQ(x.ps.data_meta, 56u);
  EXPECT_EQ(x.fields[2], x.at(56));
  x.buf[56] = 0xab;
  EXPECT_EQ(x.call(44, 8), 0u);  // the metadata moves with data
  EXPECT_EQ(x.ps.data_meta, 64u);
  EXPECT_EQ(x.buf[64], 0xab);
  EXPECT_EQ(x.call(44, -49), neg(EINVAL));  // headroom + metadata must stay
  EXPECT_EQ(x.call(44, -48), 0u);
}

// Independent reference: one's complement sum of 32-bit little-endian words and the seed.
uint32_t ref_csum(const std::vector<uint32_t>& words, uint32_t seed) {
  uint64_t s = seed;
  for (uint32_t w : words)
    s += w;
  while (s >> 32)
    s = (s & 0xffffffff) + (s >> 32);
  return static_cast<uint32_t>(s);
}

TEST(CsumDiff, MatchesTheReferenceAndTheIpChecksum) {
  Rig rig;
  const uint8_t ip[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                          0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  std::memcpy(rig.mem.data(), ip, 20);
  uint64_t r = rig.value("mov %r3, %r1\nmov %r1, 0\nmov %r2, 0\nmov %r4, 20\nmov %r5, 0\ncall 28\nexit");
  uint32_t s = static_cast<uint32_t>(r);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  EXPECT_EQ(ntohs(static_cast<uint16_t>(~s)), 0xb861);
  // Random-ish from/to words and seeds against the reference.
  uint32_t x = 12345;
  for (int trial = 0; trial < 50; ++trial) {
    int nf = trial % 5, nt = (trial * 7) % 6;
    std::vector<uint32_t> words;
    for (int i = 0; i < nf + nt; ++i) {
      x = x * 1103515245 + 12345;
      uint32_t w = trial % 3 == 0 ? 0xffffffffu - (x & 3) : x;
      std::memcpy(rig.mem.data() + 4 * i, &w, 4);
      words.push_back(i < nf ? ~w : w);
    }
    uint32_t seed = trial % 4 == 0 ? 0 : x ^ 0xdeadbeef;
    std::string prog = fmt::format(
        "mov %r6, %r1\nmov %r2, {}\nmov %r3, %r6\nadd %r3, {}\nmov %r4, {}\nlddw %r5, {}\ncall 28\nexit",
        nf * 4, nf * 4, nt * 4, seed);
    EXPECT_EQ(rig.value(prog), ref_csum(words, seed)) << trial;
  }
  EXPECT_EQ(rig.value("mov %r3, %r1\nmov %r2, 3\nmov %r4, 4\nmov %r5, 0\ncall 28\nexit"), neg(EINVAL));
  EXPECT_EQ(rig.value("mov %r3, %r1\nmov %r2, 256\nmov %r4, 260\nmov %r5, 0\ncall 28\nexit"), neg(EINVAL));
}

TEST(SkbHelpers, LoadStoreAndCsumReplace) {
  XdpRig x;
  uint8_t ip[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                    0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  std::memcpy(x.buf.data() + 64, ip, 20);
  // Load 4 bytes at offset 12 (the source address).
  EXPECT_EQ(x.value("mov %r2, 12\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 4\ncall 26\njne %r0, 0, +1\n"
                    "ldxw %r0, [%r10-8]\nexit"),
            0x0100a8c0u);
  EXPECT_EQ(x.value("stdw [%r10-8], -1\nmov %r2, 62\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 4\ncall 26\n"
                    "ldxdw %r1, [%r10-8]\nlddw %r2, 0xffffffff00000000\njeq %r1, %r2, +1\nmov %r0, 1\nexit"),
            neg(EFAULT));
  // Rewrite the source address to 10.0.0.1 and fix the IP checksum with l3_csum_replace.
  uint32_t from, to;
  std::memcpy(&from, ip + 12, 4);
  const uint8_t new_src[4] = {10, 0, 0, 1};
  std::memcpy(&to, new_src, 4);
  std::string prog = fmt::format(
      "stw [%r10-4], {}\nmov %r2, 12\nmov %r3, %r10\nadd %r3, -4\nmov %r4, 4\nmov %r5, 0\ncall 9\njne %r0, "
      "0, out\n"
      "mov %r2, 10\nlddw %r3, {}\nlddw %r4, {}\nmov %r5, 4\ncall 10\nout:\nexit",
      static_cast<int32_t>(to), from, to);
  EXPECT_EQ(x.value(prog), 0u);
  // The checksum of the modified header verifies.
  uint32_t s = 0;
  for (int i = 0; i < 20; i += 2)
    s += (x.buf[64 + i] << 8) | x.buf[64 + i + 1];
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  EXPECT_EQ(s, 0xffffu);
  EXPECT_EQ(x.buf[64 + 12], 10);
  // Bad flags and offsets.
  EXPECT_EQ(x.value("mov %r2, 11\nmov %r3, 0\nmov %r4, 0\nmov %r5, 4\ncall 10\nexit"), neg(EFAULT));
  EXPECT_EQ(x.value("mov %r2, 10\nmov %r3, 0\nmov %r4, 0\nmov %r5, 3\ncall 10\nexit"), neg(EINVAL));
  // l4 with BPF_F_MARK_MANGLED_0 leaves a zero checksum alone.
  x.buf[64 + 6] = 0;
  x.buf[64 + 7] = 0;
  EXPECT_EQ(x.value("mov %r2, 6\nmov %r3, 1\nmov %r4, 2\nmov %r5, 0x24\ncall 11\nexit"), 0u);
  EXPECT_EQ(x.buf[64 + 6] | x.buf[64 + 7], 0);
}

// ---- Spin locks, identity, registration ---------------------------------------------------------

TEST(SpinLock, SerialisesConcurrentRuns) {
  Rig rig;
  Map* arr = rig.add(def("locked", MapType::Array, 4, 16, 1));  // {bpf_spin_lock; pad; u64 counter}
  std::string prog = key_args("locked", 0) +
                     "call 1\njeq %r0, 0, out\nmov %r6, %r0\nmov %r1, %r6\ncall 93\n"
                     "ldxdw %r1, [%r6+8]\nadd %r1, 1\nstxdw [%r6+8], %r1\nmov %r1, %r6\ncall 94\nout:\nexit";
  const Interpreter* vm = rig.load(prog);
  ASSERT_NE(vm, nullptr);
  constexpr int kRuns = 2000;
  auto worker = [&] {
    RunInput in;
    in.resolver = &rig.maps;
    in.context = &rig.hctx;
    for (int i = 0; i < kRuns; ++i)
      ASSERT_TRUE(vm->run(in, RunOptions{}, rig.env).ok());
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  uint32_t k = 0;
  uint8_t v[16];
  ASSERT_EQ(arr->lookup_copy(&k, v), 0);
  uint64_t counter;
  std::memcpy(&counter, v + 8, 8);
  EXPECT_EQ(counter, 2u * kRuns);
  uint32_t lock;
  std::memcpy(&lock, v, 4);
  EXPECT_EQ(lock, 0u);
}

TEST(Identity, DeterministicValues) {
  Rig rig;
  rig.hctx.deterministic = true;
  uint64_t comm = 0;
  std::memcpy(&comm, "bpfvm", 5);
  EXPECT_EQ(rig.value("call 14\nexit"), (uint64_t{kDeterministicTgid} << 32) | kDeterministicPid);
  EXPECT_EQ(rig.value("call 15\nexit"), (uint64_t{kDeterministicGid} << 32) | kDeterministicUid);
  EXPECT_EQ(
      rig.value("stdw [%r10-8], -1\nstdw [%r10-16], -1\nmov %r1, %r10\nadd %r1, -16\nmov %r2, 16\ncall 16\n"
                "ldxdw %r0, [%r10-16]\nexit"),
      comm);
  EXPECT_EQ(rig.value("call 42\nexit"), 0u);
  rig.hctx.deterministic = false;
  EXPECT_EQ(rig.value("call 14\nrsh %r0, 32\nexit"), static_cast<uint64_t>(getpid()));
}

// ---- Kernel objects: redirect targets, cgroups, stacks --------------------------------------------

TEST(RedirectHelpers, RedirectGivesTheXdpOrTcVerdictByProgramType) {
  Rig rig;
  auto redirect = [&](ProgType t, int flags) {
    rig.hctx.prog_type = static_cast<uint32_t>(t);
    return rig.value(fmt::format("mov %r1, 1\nmov %r2, {}\ncall 23\nexit", flags));
  };
  EXPECT_EQ(redirect(ProgType::Xdp, 0), 4u);       // XDP_REDIRECT
  EXPECT_EQ(redirect(ProgType::Xdp, 1), 0u);       // any flag: XDP_ABORTED
  EXPECT_EQ(redirect(ProgType::SchedCls, 0), 7u);  // TC_ACT_REDIRECT
  EXPECT_EQ(redirect(ProgType::SchedCls, 1), 7u);  // BPF_F_INGRESS
  EXPECT_EQ(redirect(ProgType::SchedCls, 2), 2u);  // unknown flag: TC_ACT_SHOT
}

TEST(RedirectHelpers, RedirectMapRedirectsToExistingEntriesElseReturnsTheFlagsAction) {
  Rig rig;
  rig.hctx.prog_type = static_cast<uint32_t>(ProgType::Xdp);
  MapDef dm = def("tx", MapType::Devmap, 4, 4, 4);
  Map* devmap = rig.add(dm);
  MapDef cm = def("cpus", MapType::Cpumap, 4, 4, 4);
  Map* cpumap = rig.add(cm);
  rig.add(def("arr", MapType::Array, 4, 4, 4));
  uint32_t one = 1, lo = if_nametoindex("lo"), qsize = 64;
  ASSERT_EQ(devmap->update(&one, &lo, kBpfAny), 0);
  ASSERT_EQ(cpumap->update(&one, &qsize, kBpfAny), 0);
  auto redirect_map = [&](std::string_view map, uint64_t key, uint64_t flags) {
    return rig.value(
        fmt::format("lddw %r1, map({})\nlddw %r2, {:#x}\nlddw %r3, {:#x}\ncall 51\nexit", map, key, flags));
  };
  EXPECT_EQ(redirect_map("tx", 1, 0), 4u);
  EXPECT_EQ(redirect_map("tx", 0x100000001, 0), 4u);  // the key is a u32
  EXPECT_EQ(redirect_map("tx", 2, 0), 0u);            // no entry: XDP_ABORTED from the flags
  EXPECT_EQ(redirect_map("tx", 2, 2), 2u);            // ... or XDP_PASS
  EXPECT_EQ(redirect_map("tx", 2, 1 << 3), 4u);       // BPF_F_BROADCAST needs no entry
  EXPECT_EQ(redirect_map("tx", 1, 1 << 5), 0u);       // unknown flag: XDP_ABORTED
  EXPECT_EQ(redirect_map("cpus", 1, 0), 4u);
  EXPECT_EQ(redirect_map("cpus", 3, 3), 3u);
  EXPECT_EQ(redirect_map("cpus", 1, 1 << 3), 0u);  // cpumaps take no broadcast
  Error e = rig.fault("lddw %r1, map(arr)\nmov %r2, 0\nmov %r3, 0\ncall 51\nexit");
  EXPECT_EQ(e.code, ErrorCode::kHelperFault);
  EXPECT_NE(e.msg.find("map 'arr' (array) is not a devmap"), std::string::npos) << e.msg;
}

TEST(CgroupHelpers, UnderCgroupAnswersForTheCallingThread) {
  Rig rig;
  Map* cg = rig.add(def("cg", MapType::CgroupArray, 4, 4, 2));
  auto current = [&](int index) {
    return rig.value(fmt::format("lddw %r1, map(cg)\nmov %r2, {}\ncall 37\nexit", index));
  };
  auto skb = [&](int index) {
    return rig.value(fmt::format("lddw %r2, map(cg)\nmov %r3, {}\ncall 33\nexit", index));
  };
  EXPECT_EQ(current(0), neg(EAGAIN));  // empty slot
  EXPECT_EQ(current(2), neg(E2BIG));
  EXPECT_EQ(skb(0), neg(EAGAIN));
  // The cgroup v2 root: every task is under it.
  std::ifstream in("/proc/self/mountinfo");
  std::string line, root;
  while (root.empty() && std::getline(in, line)) {
    size_t dash = line.find(" - cgroup2 ");
    if (dash == std::string::npos) continue;
    std::string a, b, c, r;
    std::istringstream(line.substr(0, dash)) >> a >> b >> c >> r >> root;
  }
  if (root.empty()) GTEST_SKIP() << "no cgroup v2 hierarchy mounted";
  int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  uint32_t k = 1;
  ASSERT_EQ(cg->update(&k, &fd, kBpfAny), 0);
  close(fd);
  EXPECT_EQ(current(1), 1u);
  EXPECT_EQ(skb(1), 1u);
}

TEST(StackHelpers, GetStackidFindsNoStackInUserSpace) {
  Rig rig;
  rig.add(def("stacks", MapType::StackTrace, 4, 64, 16));
  rig.add(def("arr", MapType::Array, 4, 4, 4));
  EXPECT_EQ(rig.value("lddw %r2, map(stacks)\nmov %r3, 0x100\ncall 27\nexit"), neg(EFAULT));
  EXPECT_EQ(rig.value("lddw %r2, map(stacks)\nmov %r3, 0x800\ncall 27\nexit"), neg(EINVAL));
  Error e = rig.fault("lddw %r2, map(arr)\nmov %r3, 0\ncall 27\nexit");
  EXPECT_EQ(e.code, ErrorCode::kHelperFault);
}

// Prototypes of helpers bpfvm does not implement let the verifier check programs that call them;
// running such a call must still fail cleanly, naming the helper.
TEST(Registration, VerifyOnlyProtosFaultCleanlyWhenCalled) {
  Rig rig;
  ASSERT_FALSE(verify_only_protos().empty());
  for (const HelperProto& p : verify_only_protos()) {
    EXPECT_EQ(kernel_helper_name(p.id), p.name) << p.id;
    EXPECT_EQ(find_proto(p.id), &p) << p.name;
    EXPECT_EQ(rig.table.find(p.id), nullptr) << p.name << " is implemented: move it to all_protos()";
    for (const HelperProto& q : all_protos())
      EXPECT_NE(q.id, p.id) << p.name;
    Error e = rig.fault(fmt::format("call {}\nexit", p.id));
    EXPECT_EQ(e.code, ErrorCode::kUnknownHelper) << p.name;
    EXPECT_NE(e.msg.find(std::string(p.name)), std::string::npos) << e.msg;
  }
}

TEST(Registration, ProtosAndEmbedderHelpers) {
  HelperTable t;
  register_kernel_helpers(t);
  for (const HelperProto& p : all_protos()) {
    const HelperEntry* e = t.find(p.id);
    ASSERT_NE(e, nullptr) << p.name;
    EXPECT_EQ(e->name, p.name);
    EXPECT_EQ(e->proto, &p);
  }
  HelperFn mine = [](HelperCall&, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) -> uint64_t {
    return 77;
  };
  ASSERT_TRUE(add_kernel_helper(t, "bpf_ktime_get_ns", mine).ok());
  EXPECT_EQ(t.find(5)->fn, mine);
  EXPECT_EQ(t.find(5)->proto, find_proto(5));
  EXPECT_FALSE(add_kernel_helper(t, "no_such_helper", mine).ok());
  static const HelperProto custom{9000, "custom", RetKind::Integer, {ArgKind::Anything}, false, false, false};
  ASSERT_TRUE(t.add(9000, "custom", mine, nullptr, &custom).ok());
  EXPECT_EQ(t.find(9000)->proto, &custom);
}

}  // namespace
}  // namespace bpfvm
