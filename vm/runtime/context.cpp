#include "vm/runtime/context.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace bpfvm {

namespace {

Error bad(std::string msg) {
  return Error{ErrorCode::kBadInput, kNoPc, std::move(msg)};
}

uint32_t addr32(const uint8_t* p) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p));
}

bool is_skb_type(ProgType t) {
  switch (t) {
    case ProgType::SocketFilter:
    case ProgType::SchedCls:
    case ProgType::SchedAct:
    case ProgType::CgroupSkb:
    case ProgType::LwtIn:
    case ProgType::LwtOut:
    case ProgType::LwtXmit:
    case ProgType::LwtSeg6local:
    case ProgType::SkSkb:
      return true;
    default:
      return false;
  }
}

// Program types whose test_run sees the packet from the Ethernet header (is_l2 in test_run.c).
bool skb_is_l2(ProgType t) {
  return t == ProgType::SchedCls || t == ProgType::SchedAct || t == ProgType::LwtXmit;
}

// Byte ranges of struct __sk_buff that a given ctx may set and that test_run copies back
// (convert___skb_to_skb / convert_skb_to___skb).
struct Range {
  uint32_t off, len;
};
constexpr Range kSkbInOut[] = {
    {offsetof(SkBuff, mark), 4},     {offsetof(SkBuff, priority), 4}, {offsetof(SkBuff, ingress_ifindex), 4},
    {offsetof(SkBuff, ifindex), 4},  {offsetof(SkBuff, cb), 20},      {offsetof(SkBuff, tstamp), 8},
    {offsetof(SkBuff, wire_len), 4}, {offsetof(SkBuff, gso_segs), 4}, {offsetof(SkBuff, gso_size), 4},
    {offsetof(SkBuff, hwtstamp), 8},
};

bool in_ranges(uint32_t off) {
  for (const Range& r : kSkbInOut)
    if (off >= r.off && off < r.off + r.len) return true;
  return false;
}

// The given ctx as a struct of `size` bytes: zero-padded; bytes beyond the struct must be zero
// (bpf_ctx_init).
Result<std::vector<uint8_t>> struct_ctx(const std::vector<uint8_t>& given, size_t size, const char* what) {
  for (size_t i = size; i < given.size(); i++)
    if (given[i] != 0)
      return bad(fmt::format("ctx: byte {} is beyond struct {} ({} bytes) and not zero", i, what, size));
  std::vector<uint8_t> out(size, 0);
  std::copy_n(given.begin(), std::min(size, given.size()), out.begin());
  return out;
}

Status build_xdp(const ContextInput& in, RunScratch& s, BuiltContext& c) {
  const size_t size = in.packet.size();
  if (size < kEthHeaderSize || size > kXdpMaxPacket)
    return bad(fmt::format("xdp: the packet has {} bytes; test_run takes {} to {}", size, kEthHeaderSize,
                           kXdpMaxPacket));
  auto given = struct_ctx(in.ctx, sizeof(XdpMd), "xdp_md");
  if (!given) return given.error();
  XdpMd md;
  std::memcpy(&md, given->data(), sizeof md);
  uint32_t meta_len = 0;
  if (!in.ctx.empty()) {
    // test_run: data_meta must be 0, data_end the packet size, data (the metadata length) at most
    // data_end, a multiple of 4 and at most 32 (xdp_metalen_invalid); no egress device.
    if (md.data_meta != 0 || md.data_end != size || md.data > md.data_end || md.data % 4 != 0 || md.data > 32)
      return bad(
          fmt::format("xdp_md: data_meta must be 0, data_end the packet size ({}) and data a metadata "
                      "length (multiple of 4, at most 32); got data {} data_end {} data_meta {}",
                      size, md.data, md.data_end, md.data_meta));
    if (md.egress_ifindex != 0) return bad("xdp_md: egress_ifindex must be 0");
    meta_len = md.data;
  }
  c.ctx_in = std::move(*given);
  uint8_t* buf = s.packet_area();
  std::memset(buf, 0, kFrameSize);
  const uint32_t meta = kXdpHeadroom - meta_len;
  std::memcpy(buf + meta, in.packet.data(), size);
  c.packet.buf = buf;
  c.packet.capacity = kFrameSize - kSharedInfoSize;
  c.packet.data_meta = meta;
  c.packet.data = meta + meta_len;
  c.packet.data_end = meta + static_cast<uint32_t>(size);
  c.packet.min_headroom = kXdpFrameSize;
  auto* ctx = reinterpret_cast<XdpMd*>(s.ctx_area());
  std::memset(ctx, 0, sizeof(XdpMd));
  ctx->data = addr32(buf + c.packet.data);
  ctx->data_end = addr32(buf + c.packet.data_end);
  ctx->data_meta = addr32(buf + c.packet.data_meta);
  ctx->ingress_ifindex = md.ingress_ifindex ? md.ingress_ifindex : 1;  // loopback
  ctx->rx_queue_index = md.rx_queue_index;
  ctx->egress_ifindex = 0;
  c.packet.ctx_data = &ctx->data;
  c.packet.ctx_data_end = &ctx->data_end;
  c.packet.ctx_data_meta = &ctx->data_meta;
  c.ctx = s.ctx_area();
  c.ctx_size = sizeof(XdpMd);
  c.has_packet = true;
  return Ok{};
}

Status build_skb(ProgType type, const ContextInput& in, RunScratch& s, BuiltContext& c) {
  const size_t size = in.packet.size();
  if (size < kEthHeaderSize || size > kSkbMaxPacket)
    return bad(fmt::format("{}: the packet has {} bytes; test_run takes {} to {}", prog_type_name(type), size,
                           kEthHeaderSize, kSkbMaxPacket));
  auto given = struct_ctx(in.ctx, sizeof(SkBuff), "__sk_buff");
  if (!given) return given.error();
  for (uint32_t i = 0; i < sizeof(SkBuff); i++)
    if ((*given)[i] != 0 && !in_ranges(i))
      return bad(
          fmt::format("__sk_buff: byte {} must be zero (test_run accepts only mark, priority, "
                      "ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size, hwtstamp)",
                      i));
  c.ctx_in = std::move(*given);
  uint8_t* buf = s.packet_area();
  std::memset(buf, 0, kFrameSize);
  std::memcpy(buf + kSkbHeadroom, in.packet.data(), size);
  const uint8_t* eth = buf + kSkbHeadroom;
  const bool l2 = skb_is_l2(type);
  c.packet.buf = buf;
  c.packet.capacity = kFrameSize - kSharedInfoSize;
  c.packet.data = kSkbHeadroom + (l2 ? 0 : kEthHeaderSize);
  c.packet.data_meta = c.packet.data;
  c.packet.data_end = kSkbHeadroom + static_cast<uint32_t>(size);
  c.packet.min_headroom = 0;
  c.mac = kSkbHeadroom;  // eth_type_trans resets the MAC header, pulls it, resets the network header
  c.network = kSkbHeadroom + kEthHeaderSize;

  auto* skb = reinterpret_cast<SkBuff*>(s.ctx_area());
  std::memcpy(skb, c.ctx_in.data(), sizeof(SkBuff));
  skb->len = c.packet.data_end - c.packet.data;
  // eth_type_trans: the packet type from the destination MAC against the loopback device's
  // all-zero address, the protocol from the Ethernet type (802.3 frames get ETH_P_802_3/802_2).
  static const uint8_t kZeroMac[6] = {}, kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  if (std::memcmp(eth, kZeroMac, 6) == 0)
    skb->pkt_type = 0;
  else if (eth[0] & 1)
    skb->pkt_type = std::memcmp(eth, kBroadcast, 6) == 0 ? 1 : 2;
  else
    skb->pkt_type = 3;
  const uint16_t type_be = static_cast<uint16_t>(eth[12] | eth[13] << 8);  // as stored (network order)
  const uint16_t type_host = static_cast<uint16_t>(eth[12] << 8 | eth[13]);
  if (type_host >= 0x600)
    skb->protocol = type_be;
  else if (size >= 16 && eth[14] == 0xff && eth[15] == 0xff)
    skb->protocol = 0x0100;  // htons(ETH_P_802_3)
  else
    skb->protocol = 0x0400;                 // htons(ETH_P_802_2)
  if (skb->ifindex == 0) skb->ifindex = 1;  // loopback
  if (skb->wire_len == 0) skb->wire_len = skb->len;
  skb->data = addr32(buf + c.packet.data);
  skb->data_end = addr32(buf + c.packet.data_end);
  skb->data_meta = addr32(buf + c.packet.data_meta);
  c.packet.ctx_data = &skb->data;
  c.packet.ctx_data_end = &skb->data_end;
  c.packet.ctx_data_meta = &skb->data_meta;
  c.packet.ctx_len = &skb->len;
  c.ctx = s.ctx_area();
  c.ctx_size = sizeof(SkBuff);
  c.has_packet = true;
  return Ok{};
}

}  // namespace

Result<ContextKind> context_kind(ProgType type) {
  if (type == ProgType::Xdp) return ContextKind::Xdp;
  if (is_skb_type(type)) return ContextKind::Skb;
  switch (type) {
    case ProgType::RawTracepoint:
    case ProgType::RawTracepointWritable:
    case ProgType::Tracepoint:
    case ProgType::Kprobe:
    case ProgType::PerfEvent:
    case ProgType::Tracing:
      return ContextKind::Args;
    case ProgType::Raw:
      return ContextKind::Raw;
    default:
      return Error{
          ErrorCode::kUnsupported, kNoPc,
          fmt::format("bpfvm has no context model for program type '{}' (xdp, skb types, tracepoints "
                      "and raw are supported; --type raw runs any program on raw memory)",
                      prog_type_name(type))};
  }
}

Result<std::unique_ptr<RunScratch>> RunScratch::create() {
  // MAP_32BIT: the block lies in the low 2 GiB, so 32-bit context fields can hold its addresses.
  void* p = mmap(nullptr, kCtxAreaSize + kFrameSize, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (p == MAP_FAILED || reinterpret_cast<uintptr_t>(p) + kCtxAreaSize + kFrameSize > (uint64_t{1} << 32)) {
    if (p != MAP_FAILED) munmap(p, kCtxAreaSize + kFrameSize);
    return Error{ErrorCode::kInternal, kNoPc,
                 "cannot map packet and context memory below 4 GiB (mmap MAP_32BIT failed)"};
  }
  return std::unique_ptr<RunScratch>(new RunScratch(static_cast<uint8_t*>(p)));
}

RunScratch::~RunScratch() {
  munmap(base_, kCtxAreaSize + kFrameSize);
}

Result<BuiltContext> build_context(ProgType type, const ContextInput& in, RunScratch& scratch) {
  auto kind = context_kind(type);
  if (!kind) return kind.error();
  BuiltContext c;
  c.kind = *kind;
  c.type = type;
  switch (*kind) {
    case ContextKind::Xdp:
      BPFVM_TRY(build_xdp(in, scratch, c));
      break;
    case ContextKind::Skb:
      BPFVM_TRY(build_skb(type, in, scratch, c));
      break;
    case ContextKind::Args:
    case ContextKind::Raw: {
      if (*kind == ContextKind::Args && !in.packet.empty())
        return bad(
            fmt::format("{} programs take no packet (give the arguments as the ctx)", prog_type_name(type)));
      c.ctx_in = in.ctx;
      c.ctx_size = static_cast<uint32_t>(in.ctx.size());
      if (in.ctx.size() <= kCtxAreaSize) {
        c.ctx = scratch.ctx_area();
      } else {
        c.heap = in.ctx;
        c.ctx = c.heap.data();
      }
      if (!in.ctx.empty()) std::memcpy(c.ctx, in.ctx.data(), in.ctx.size());
      break;
    }
  }
  const bool writable = *kind == ContextKind::Raw    ? in.ctx_writable
                        : *kind == ContextKind::Args ? type == ProgType::RawTracepointWritable
                                                     : true;
  if (c.ctx_size > 0) {
    c.r1 = reinterpret_cast<uint64_t>(c.ctx);
    c.regions.push_back(MemRegion{c.r1, c.ctx_size, writable, "ctx"});
  }
  if (*kind == ContextKind::Raw) c.r2 = c.ctx_size;
  if (c.has_packet)
    c.regions.push_back(
        MemRegion{reinterpret_cast<uint64_t>(c.packet.buf), c.packet.capacity, true, "packet"});
  return c;
}

bool BuiltContext::legacy_packet(LegacyPacket* out) const {
  if (kind == ContextKind::Raw) return false;
  *out = LegacyPacket{};
  if (!has_packet) return true;
  out->head = packet.buf;
  out->data = &packet.data;
  out->tail = &packet.data_end;
  out->network = network;
  out->mac = mac;
  return true;
}

void collect_output(const BuiltContext& c, std::vector<uint8_t>* packet, std::vector<uint8_t>* ctx) {
  packet->clear();
  ctx->clear();
  const PacketState& p = c.packet;
  switch (c.kind) {
    case ContextKind::Xdp: {
      // Bounds as the helpers left them; clamp defensively to the buffer.
      uint32_t meta = std::min(p.data_meta, p.capacity), end = std::min(p.data_end, p.capacity);
      if (end > meta) packet->assign(p.buf + meta, p.buf + end);
      XdpMd md;
      std::memcpy(&md, c.ctx_in.data(), sizeof md);
      md.data = p.data - p.data_meta;
      md.data_end = p.data_end - p.data_meta;
      ctx->resize(sizeof md);
      std::memcpy(ctx->data(), &md, sizeof md);
      break;
    }
    case ContextKind::Skb: {
      uint32_t data = std::min(p.data, p.capacity), end = std::min(p.data_end, p.capacity);
      if (!skb_is_l2(c.type)) packet->assign(kEthHeaderSize, 0);  // test_run pushes a zeroed MAC header
      if (end > data) packet->insert(packet->end(), p.buf + data, p.buf + end);
      *ctx = c.ctx_in;
      for (const Range& r : kSkbInOut)
        std::memcpy(ctx->data() + r.off, c.ctx + r.off, r.len);
      break;
    }
    case ContextKind::Args:
    case ContextKind::Raw:
      ctx->assign(c.ctx, c.ctx + c.ctx_size);
      break;
  }
}

}  // namespace bpfvm
