// Program contexts: the memory r1 points to when a program of a given type runs, built the way the
// kernel's BPF_PROG_TEST_RUN builds it (net/bpf/test_run.c), so that results match the kernel's.
//
//  - XDP: `struct xdp_md` {data, data_end, data_meta, ingress_ifindex, rx_queue_index,
//    egress_ifindex}; the packet sits after kXdpHeadroom (256, XDP_PACKET_HEADROOM) bytes of
//    headroom, with tailroom up to a 4096-byte frame minus skb_shared_info, so xdp_adjust_head/tail/
//    meta work as in the kernel. A given ctx's `data` is the metadata length (the first bytes of the
//    packet are metadata), as test_run takes it.
//  - socket_filter, sched_cls, sched_act and the other skb types: `struct __sk_buff` (the subset
//    below is filled in; the rest stays as given, i.e. zero). sched_cls/act see the packet from the
//    Ethernet header; socket filters from the network header (the Ethernet header is pulled, `len`
//    excludes it) and their output packet gets 14 zero bytes in front, as test_run does.
//  - raw_tracepoint, tracepoint, kprobe, perf_event, tracing: ctx = the given bytes (the u64
//    arguments), read-only (writable for raw_tracepoint_writable).
//  - raw (bpfvm's own type): ctx = the given memory, r1 = its address, r2 = its size (the
//    conformance convention); writability as the embedder declares.
//
// 32-bit pointers: xdp_md and __sk_buff hold data/data_end/data_meta as 32-bit fields, and programs
// load them with `r2 = *(u32 *)(r1 + 0)` and dereference the result (the kernel's verifier rewrites
// those loads; bpfvm runs the bytecode as it is). So the context and the packet buffer of a run live
// in memory mapped in the low 4 GiB (mmap MAP_32BIT): a 32-bit field then holds the real address.
// The blocks (RunScratch) are allocated once and reused from run to run (a pool per Object, one block
// per concurrently running thread), never per run.
//
// Checked mode: the whole context is one writable region (the kernel lets programs write only some
// fields; bpfvm does not yet enforce that), and the packet region is the whole packet buffer
// (headroom, packet and tailroom), so that accesses after adjust_head/tail stay inside it; memory
// outside the buffer still faults.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "helpers/context.h"
#include "vm/elf/prog_type.h"
#include "vm/interp.h"
#include "vm/legacy_packet.h"
#include "vm/result.h"

namespace bpfvm {

// Kernel constants of BPF_PROG_TEST_RUN on x86-64.
constexpr uint32_t kFrameSize = 4096;      // one page per packet
constexpr uint32_t kXdpHeadroom = 256;     // XDP_PACKET_HEADROOM
constexpr uint32_t kSkbHeadroom = 64;      // NET_SKB_PAD + NET_IP_ALIGN (0 on x86)
constexpr uint32_t kSharedInfoSize = 320;  // SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
constexpr uint32_t kXdpFrameSize = 40;     // sizeof(struct xdp_frame): headroom adjust_head keeps
constexpr uint32_t kEthHeaderSize = 14;    // ETH_HLEN: the smallest packet test_run accepts
constexpr uint32_t kXdpMaxPacket = kFrameSize - kXdpHeadroom - kSharedInfoSize;  // 3520
constexpr uint32_t kSkbMaxPacket = kFrameSize - kSkbHeadroom - kSharedInfoSize;  // 3712
constexpr uint32_t kCtxAreaSize = 4096;  // low-memory bytes for the context of one run

// struct xdp_md (linux/bpf.h).
struct XdpMd {
  uint32_t data;
  uint32_t data_end;
  uint32_t data_meta;
  uint32_t ingress_ifindex;
  uint32_t rx_queue_index;
  uint32_t egress_ifindex;
};
static_assert(sizeof(XdpMd) == 24);

// struct __sk_buff (linux/bpf.h, Linux 6.x layout; 192 bytes). Pointer fields are 8 bytes.
struct SkBuff {
  uint32_t len;       // packet length (socket filters: from the network header)
  uint32_t pkt_type;  // PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3 (from the MAC)
  uint32_t mark;      // from the given ctx
  uint32_t queue_mapping;
  uint32_t protocol;  // the Ethernet type, network order (eth_type_trans)
  uint32_t vlan_present;
  uint32_t vlan_tci;
  uint32_t vlan_proto;
  uint32_t priority;         // from the given ctx
  uint32_t ingress_ifindex;  // from the given ctx
  uint32_t ifindex;          // the given ctx's, else 1 (loopback, test_run's device)
  uint32_t tc_index;
  uint32_t cb[5];  // from the given ctx
  uint32_t hash;
  uint32_t tc_classid;
  uint32_t data;  // 32-bit addresses of the packet (see the header comment)
  uint32_t data_end;
  uint32_t napi_id;
  uint32_t family;
  uint32_t remote_ip4;
  uint32_t local_ip4;
  uint32_t remote_ip6[4];
  uint32_t local_ip6[4];
  uint32_t remote_port;
  uint32_t local_port;
  uint32_t data_meta;
  uint64_t flow_keys;
  uint64_t tstamp;    // from the given ctx
  uint32_t wire_len;  // the given ctx's, else len
  uint32_t gso_segs;  // from the given ctx
  uint64_t sk;
  uint32_t gso_size;  // from the given ctx
  uint8_t tstamp_type;
  uint8_t pad_[3];
  uint64_t hwtstamp;  // from the given ctx
};
static_assert(sizeof(SkBuff) == 192);
static_assert(offsetof(SkBuff, mark) == 8 && offsetof(SkBuff, cb) == 48 && offsetof(SkBuff, data) == 76 &&
              offsetof(SkBuff, data_meta) == 140 && offsetof(SkBuff, tstamp) == 152 &&
              offsetof(SkBuff, wire_len) == 160 && offsetof(SkBuff, gso_size) == 176 &&
              offsetof(SkBuff, hwtstamp) == 184);

// Which context a program type runs with.
enum class ContextKind { Xdp, Skb, Args, Raw };
// kUnsupported naming the type for program types bpfvm has no context model for (cgroup, sock_ops,
// sk_msg, ...).
Result<ContextKind> context_kind(ProgType type);

// What an embedder hands a run.
struct ContextInput {
  std::vector<uint8_t> packet;  // XDP and skb programs: the packet (BPF_PROG_TEST_RUN data_in)
  // Initial context bytes (ctx_in): a struct xdp_md / __sk_buff prefix (empty: zeros), the tracepoint
  // arguments, or the raw memory.
  std::vector<uint8_t> ctx;
  bool ctx_writable = true;  // raw contexts only
  uint32_t cpu = 0;          // simulated CPU (per-CPU maps, get_smp_processor_id)
  uint32_t repeat = 1;       // runs against the same maps; packet and ctx are reset before each
  // Benchmarks: build the context once and run the program `repeat` times on it, timed as one batch
  // (no reset and no clock read between runs), as BPF_PROG_TEST_RUN does. Runs then see the writes
  // of the runs before them.
  bool reuse_context = false;
};

// A block of kFrameSize + kCtxAreaSize bytes in the low 4 GiB (mmap MAP_32BIT).
class RunScratch {
 public:
  // kInternal when the kernel gives no low memory.
  static Result<std::unique_ptr<RunScratch>> create();
  ~RunScratch();
  RunScratch(const RunScratch&) = delete;
  RunScratch& operator=(const RunScratch&) = delete;
  uint8_t* ctx_area() const { return base_; }
  uint8_t* packet_area() const { return base_ + kCtxAreaSize; }

 private:
  explicit RunScratch(uint8_t* base) : base_(base) {}
  uint8_t* base_;
};

// The context of one run, laid out in a RunScratch (or, for large raw/args contexts, on the heap).
struct BuiltContext {
  ContextKind kind = ContextKind::Raw;
  ProgType type = ProgType::Raw;
  uint64_t r1 = 0, r2 = 0;
  std::vector<MemRegion> regions;  // ctx, packet
  bool has_packet = false;
  PacketState packet;  // valid when has_packet
  uint8_t* ctx = nullptr;
  uint32_t ctx_size = 0;
  std::vector<uint8_t> ctx_in;  // the given ctx, zero-padded to the struct (output conversion)
  std::vector<uint8_t> heap;    // storage of a context too large for the scratch block
  // skb contexts: the network and link-layer header offsets into packet.buf, as eth_type_trans
  // leaves them (LD_ABS/LD_IND at SKF_NET_OFF and SKF_LL_OFF).
  uint32_t network = kNoHeader, mac = kNoHeader;

  // What LD_ABS/LD_IND of this run read (RunInput::legacy_packet), pointing into `packet` (so
  // taken after the context has reached its final place): the packet from its data for XDP and
  // skb contexts, nothing for args contexts. Raw contexts return false: their loads read the
  // input memory (RunInput::legacy_packet stays null).
  bool legacy_packet(LegacyPacket* out) const;
};

// Builds the context of a run of a program of `type`. Errors (kBadInput) follow test_run's checks:
// packet size, ctx fields that must be zero, xdp_md data/data_end consistency.
Result<BuiltContext> build_context(ProgType type, const ContextInput& in, RunScratch& scratch);

// The output packet and context after the run, as test_run reports them: XDP data_meta..data_end
// (metadata included) and xdp_md with data/data_end relative to data_meta; skb data..data_end
// (socket filters: 14 zero bytes + the packet from the network header) and __sk_buff with the
// fields test_run copies back (mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len,
// gso_segs, gso_size, hwtstamp; the rest as given); args/raw: the ctx bytes.
void collect_output(const BuiltContext& c, std::vector<uint8_t>* packet, std::vector<uint8_t>* ctx);

}  // namespace bpfvm
