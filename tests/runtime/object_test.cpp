// The runtime Object: maps and relocations, program contexts (32-bit pointers in low memory, the
// kernel's test_run conventions), errors, embedder map access, thread safety.
#include <cstring>
#include <thread>

#include <gtest/gtest.h>

#include "maps/array_maps.h"
#include "tests/object_util.h"
#include "vm/asm.h"
#include "vm/runtime/object.h"

namespace bpfvm {
namespace {

const std::string kCounter = std::string(BPFVM_BINARY_DIR) + "/examples/xdp_counter.o";
const std::string kCorpus = std::string(BPFVM_BINARY_DIR) + "/tests/corpus/";

// An IPv4 TCP packet (54 bytes) to 10.0.0.2:dport with the given TCP flags.
std::vector<uint8_t> tcp_packet(uint16_t dport, uint8_t flags = 0x02) {
  std::vector<uint8_t> p = {2,
                            0,
                            0,
                            0,
                            0,
                            2,
                            2,
                            0,
                            0,
                            0,
                            0,
                            1,
                            0x08,
                            0x00,  // Ethernet
                            0x45,
                            0,
                            0,
                            40,
                            0x12,
                            0x34,
                            0x40,
                            0,
                            64,
                            6,
                            0,
                            0,
                            10,
                            0,
                            0,
                            1,
                            10,
                            0,
                            0,
                            2,  // IPv4
                            0x9c,
                            0x40,
                            static_cast<uint8_t>(dport >> 8),
                            static_cast<uint8_t>(dport),
                            0,
                            0,
                            0,
                            1,
                            0,
                            0,
                            0,
                            0,
                            0x50,
                            flags,
                            0xff,
                            0xff,
                            0,
                            0,
                            0,
                            0};  // TCP
  return p;
}

uint64_t u64_at(const std::vector<uint8_t>& v, size_t off) {
  uint64_t x;
  std::memcpy(&x, v.data() + off, 8);
  return x;
}

// An object with one program assembled from `text`, of type `type`.
std::unique_ptr<Object> asm_object(const std::string& text,
                                   ProgType type,
                                   std::vector<MapDef> maps = {},
                                   ObjectOptions opts = {}) {
  return one_program_object(text, type, std::move(maps), opts);
}

TEST(Object, RunsTheXdpCounterExampleAndKeepsMapsBetweenRuns) {
  auto o = Object::open(kCounter);
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  ASSERT_EQ((*o)->num_programs(), 1u);
  EXPECT_EQ((*o)->program_type(0), ProgType::Xdp);
  ContextInput in;
  in.packet = tcp_packet(80);
  auto r = (*o)->run(0, in);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->r0, 2u);  // XDP_PASS
  EXPECT_EQ(r->packet, in.packet);
  in.packet = tcp_packet(23);
  in.repeat = 2;
  r = (*o)->run(0, in);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->r0, 1u);  // XDP_DROP: SYN to the blocked port

  Map* bss = (*o)->find_map(".bss");
  ASSERT_NE(bss, nullptr);
  auto v = (*o)->lookup(*bss, std::vector<uint8_t>(4, 0));
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_EQ(u64_at(*v, 0), 3u);       // counters[TCP].packets
  EXPECT_EQ(u64_at(*v, 8), 3u * 54);  // counters[TCP].bytes
  EXPECT_EQ(u64_at(*v, 64), 2u);      // dropped

  // .rodata is read-only to programs but an embedder may change it: port 80 becomes blocked.
  Map* ro = (*o)->find_map(".rodata");
  ASSERT_NE(ro, nullptr);
  EXPECT_TRUE(ro->def().read_only);
  ASSERT_TRUE((*o)->update(*ro, std::vector<uint8_t>(4, 0), std::vector<uint8_t>{80, 0}).ok());
  in.packet = tcp_packet(80);
  in.repeat = 1;
  EXPECT_EQ((*o)->run(0, in)->r0, 1u);
  // Not a SYN: passes.
  in.packet = tcp_packet(80, 0x10);
  EXPECT_EQ((*o)->run(0, in)->r0, 2u);

  const std::string text = dump_maps_text(**o);
  EXPECT_NE(text.find("map '.bss': array"), std::string::npos) << text;
  EXPECT_NE(text.find("map '.rodata': array"), std::string::npos) << text;
  const std::string json = dump_maps_json(**o);
  EXPECT_NE(json.find("\"name\": \".bss\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"value\": \"5000\""), std::string::npos) << json;
}

TEST(Object, ConcurrentRunsShareMaps) {
  auto o = Object::open(kCounter);
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  const Object& obj = **o;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++)
    ts.emplace_back([&obj, t] {
      ContextInput in;
      in.packet = tcp_packet(443);
      in.cpu = static_cast<uint32_t>(t);
      for (int i = 0; i < 50; i++)
        EXPECT_EQ(obj.run(0, in)->r0, 2u);
    });
  for (auto& t : ts)
    t.join();
  auto v = obj.lookup(*obj.find_map(".bss"), std::vector<uint8_t>(4, 0));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(u64_at(*v, 0), 200u);
}

TEST(Object, XdpContextFieldsAre32BitPointersIntoThePacket) {
  // r0 = data_end - data (from the 32-bit fields) + the first packet byte * 0x10000.
  auto o = asm_object(
      "ldxw %r2, [%r1+0]\n"
      "ldxw %r3, [%r1+4]\n"
      "mov %r0, %r3\n"
      "sub %r0, %r2\n"
      "ldxb %r4, [%r2+0]\n"
      "lsh %r4, 16\n"
      "add %r0, %r4\n"
      "stb [%r2+1], 0x77\n"  // direct packet write
      "exit\n",
      ProgType::Xdp);
  ASSERT_NE(o, nullptr);
  ContextInput in;
  in.packet = tcp_packet(80);
  auto r = o->run(0, in);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->r0, 54u + 0x20000u);
  ASSERT_EQ(r->packet.size(), 54u);
  EXPECT_EQ(r->packet[1], 0x77);
  // xdp_md out: data/data_end relative to data_meta, ingress_ifindex from the (absent) ctx.
  ASSERT_EQ(r->ctx.size(), sizeof(XdpMd));
  XdpMd md;
  std::memcpy(&md, r->ctx.data(), sizeof md);
  EXPECT_EQ(md.data, 0u);
  EXPECT_EQ(md.data_end, 54u);
}

TEST(Object, XdpMetadataFromTheGivenContext) {
  // r0 = data - data_meta
  auto o =
      asm_object("ldxw %r2, [%r1+0]\nldxw %r3, [%r1+8]\nmov %r0, %r2\nsub %r0, %r3\nexit\n", ProgType::Xdp);
  ASSERT_NE(o, nullptr);
  ContextInput in;
  in.packet = tcp_packet(80);
  XdpMd md{8, 54, 0, 0, 0, 0};
  in.ctx.resize(sizeof md);
  std::memcpy(in.ctx.data(), &md, sizeof md);
  auto r = o->run(0, in);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->r0, 8u);
  EXPECT_EQ(r->packet.size(), 54u);  // metadata included, as test_run reports it
  md.data_end = 50;                  // must be the packet size
  std::memcpy(in.ctx.data(), &md, sizeof md);
  auto bad = o->run(0, in);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadInput);
}

TEST(Object, SkbContextFollowsTestRun) {
  // r0 = len | protocol << 16 | pkt_type << 32
  const char* prog =
      "ldxw %r0, [%r1+0]\n"
      "ldxw %r2, [%r1+16]\n"
      "lsh %r2, 16\n"
      "or %r0, %r2\n"
      "ldxw %r2, [%r1+4]\n"
      "lsh %r2, 32\n"
      "or %r0, %r2\n"
      "stw [%r1+8], 0x99\n"  // mark
      "exit\n";
  ContextInput in;
  in.packet = tcp_packet(80);
  auto tc = asm_object(prog, ProgType::SchedCls);
  auto r = tc->run(0, in);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->r0, 54u | 0x0008u << 16 | 3ull << 32);  // from the MAC header; htons(ETH_P_IP); OTHERHOST
  EXPECT_EQ(r->packet, in.packet);
  ASSERT_EQ(r->ctx.size(), sizeof(SkBuff));
  EXPECT_EQ(r->ctx[8], 0x99);  // mark is copied back
  EXPECT_EQ(r->ctx[0], 0);     // len is not

  auto sf = asm_object(prog, ProgType::SocketFilter);
  r = sf->run(0, in);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->r0 & 0xffff, 40u);  // from the network header
  std::vector<uint8_t> want = in.packet;
  std::fill(want.begin(), want.begin() + 14, 0);  // test_run pushes a zeroed MAC header
  EXPECT_EQ(r->packet, want);

  // Only some __sk_buff fields may be given.
  in.ctx.assign(sizeof(SkBuff), 0);
  in.ctx[0] = 1;  // len
  auto bad = tc->run(0, in);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().msg.find("byte 0"), std::string::npos) << bad.error().msg;
  in.ctx.assign(10, 0);
  in.packet.resize(10);  // shorter than an Ethernet header
  bad = tc->run(0, in);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadInput);
}

TEST(Object, RawContextIsMemoryAndSize) {
  auto o = asm_object("mov %r0, %r2\nldxb %r3, [%r1+0]\nadd %r0, %r3\nexit\n", ProgType::Raw);
  ContextInput in;
  in.ctx = {5, 6, 7};
  auto r = o->run(0, in);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->r0, 8u);
  // A write to a read-only context faults in checked mode.
  auto w = asm_object("stb [%r1+0], 1\nmov %r0, 0\nexit\n", ProgType::Raw);
  in.ctx_writable = false;
  auto f = w->run(0, in);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kOutOfBounds);
  in.ctx_writable = true;
  auto ok = w->run(0, in);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->ctx[0], 1);
}

TEST(Object, MapReferencesBecomeHostAddresses) {
  MapDef arr;
  arr.name = "cfg";
  arr.type = MapType::Array;
  arr.key_size = 4;
  arr.value_size = 16;
  arr.max_entries = 1;
  arr.initial_value = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  auto o = asm_object("lddw %r0, map_idx(0)\nexit\n", ProgType::Raw, {arr});
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->run(0, {})->r0, reinterpret_cast<uint64_t>(o->map(0)));
  // A value reference reads the initial value; it is a region of the run (checked mode).
  auto v = asm_object("lddw %r1, map_idx_value(0)+4\nldxw %r0, [%r1+0]\nstw [%r1+8], 7\nexit\n",
                      ProgType::Raw, {arr});
  ASSERT_NE(v, nullptr);
  auto r = v->run(0, {});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->r0, 0x08070605u);
  EXPECT_EQ((*v->lookup(*v->map(0), std::vector<uint8_t>(4, 0)))[12], 7);
  // Past the value: faults.
  auto past = asm_object("lddw %r1, map_idx_value(0)+12\nldxdw %r0, [%r1+0]\nexit\n", ProgType::Raw, {arr});
  ASSERT_FALSE(past->run(0, {}).ok());
  // Bad index or offset: the program is listed with its error.
  auto bad = asm_object("lddw %r0, map_idx(3)\nexit\n", ProgType::Raw, {arr});
  ASSERT_NE(bad, nullptr);
  EXPECT_FALSE(bad->program_status(0).ok());
  auto br = bad->run(0, {});
  ASSERT_FALSE(br.ok());
  EXPECT_NE(br.error().msg.find("map 3"), std::string::npos) << br.error().msg;
}

TEST(Object, ProgArraysAndMapsOfMapsAreFilledFromDeclarativeValues) {
  auto o = Object::open(kCorpus + "tail_calls.o");
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  Map* jt = nullptr;
  for (size_t i = 0; i < (*o)->num_maps(); i++)
    if ((*o)->map(i)->type() == MapType::ProgArray) jt = (*o)->map(i);
  ASSERT_NE(jt, nullptr);
  auto entries = read_map_entries(*jt);
  ASSERT_TRUE(entries.ok());
  ASSERT_FALSE(entries->empty());
  for (const MapEntryData& e : *entries) {
    uint32_t id;
    std::memcpy(&id, e.values[0].data(), 4);
    ASSERT_GE(id, 1u);
    ASSERT_LE(id, (*o)->num_programs());
    EXPECT_NE((*o)->program(id - 1).name, "dispatch");
  }

  auto mm = Object::open(kCorpus + "map_in_map.o");
  ASSERT_TRUE(mm.ok()) << mm.error().to_string();
  bool found = false;
  for (size_t i = 0; i < (*mm)->num_maps(); i++) {
    Map* m = (*mm)->map(i);
    if (m->type() != MapType::ArrayOfMaps && m->type() != MapType::HashOfMaps) continue;
    auto es = read_map_entries(*m);
    ASSERT_TRUE(es.ok());
    for (const MapEntryData& e : *es) {
      uint32_t id;
      std::memcpy(&id, e.values[0].data(), 4);
      EXPECT_NE((*mm)->map_set().by_id(id), nullptr);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(Object, SelectsProgramsAndExplainsErrors) {
  auto o = Object::open(kCorpus + "tail_calls.o");
  ASSERT_TRUE(o.ok());
  auto none = (*o)->select_program("", "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().msg.find("dispatch"), std::string::npos) << none.error().msg;
  EXPECT_NE(none.error().msg.find("handle_tcp"), std::string::npos) << none.error().msg;
  auto unknown = (*o)->select_program("nope", "");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().msg.find("nope"), std::string::npos);
  auto by_name = (*o)->select_program("handle_udp", "");
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ((*o)->program(*by_name).name, "handle_udp");
  EXPECT_FALSE((*o)->run(99, {}).ok());

  auto c = Object::open(kCounter);
  ContextInput in;
  in.packet = tcp_packet(80);
  in.cpu = 99;
  EXPECT_FALSE((*c)->run(0, in).ok());  // no such simulated CPU

  ObjectOptions opts;
  opts.type_override = ProgType::CgroupSysctl;
  auto u = Object::open(kCounter, opts);
  ASSERT_TRUE(u.ok());
  in.cpu = 0;
  auto r = (*u)->run(0, in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_FALSE(Object::open("/nonexistent.o").ok());
}

}  // namespace
}  // namespace bpfvm
