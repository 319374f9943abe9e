// Packet helpers: xdp_adjust_head/tail/meta, csum_diff, skb_load_bytes, skb_store_bytes,
// l3_csum_replace, l4_csum_replace (net/core/filter.c), on HelperContext::packet.
#include <cerrno>
#include <climits>
#include <cstring>

#include <fmt/format.h>

#include "helpers/internal.h"
#include "helpers/kernel_helpers.h"
#include "helpers/proto.h"
#include "maps/map.h"

namespace bpfvm {

uint32_t kernel_csum_partial(const uint8_t* data, size_t len, uint32_t seed) {
  unsigned __int128 total = seed;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w = 0;
    for (int b = 7; b >= 0; --b)
      w = (w << 8) | data[i + static_cast<size_t>(b)];
    total += w;
  }
  if (i < len) {  // trailing bytes, zero-extended (little-endian)
    uint64_t w = 0;
    for (size_t b = len; b > i; --b)
      w = (w << 8) | data[b - 1];
    total += w;
  }
  // Adding with end-around carry (addq/adcq): 0 only when everything was 0, else the value in
  // [1, 2^64 - 1] congruent to the sum modulo 2^64 - 1.
  constexpr unsigned __int128 kM = UINT64_MAX;
  uint64_t r64 = total == 0 ? 0 : static_cast<uint64_t>((total - 1) % kM + 1);
  uint64_t s = (r64 >> 32) + (r64 & 0xffffffffULL);  // add32_with_carry
  return static_cast<uint32_t>((s & 0xffffffffULL) + (s >> 32));
}

namespace {

using namespace helpers_internal;

constexpr int64_t kEthHlen = 14;
constexpr uint32_t kXdpMaxMetaLen = 32;

PacketState* packet_arg(HelperCall& call) {
  HelperContext* ctx = ctx_of(call);
  if (ctx == nullptr || ctx->packet == nullptr || ctx->packet->buf == nullptr) {
    call.fail("no packet in the helper context");
    return nullptr;
  }
  return ctx->packet;
}

void sync_ctx(PacketState& p) {
  uint64_t base = reinterpret_cast<uintptr_t>(p.buf);
  if (p.ctx_data != nullptr) *p.ctx_data = static_cast<uint32_t>(base + p.data);
  if (p.ctx_data_end != nullptr) *p.ctx_data_end = static_cast<uint32_t>(base + p.data_end);
  if (p.ctx_data_meta != nullptr) *p.ctx_data_meta = static_cast<uint32_t>(base + p.data_meta);
  if (p.ctx_len != nullptr) *p.ctx_len = p.data_end - p.data;
}

// Moves the end of the packet to `end` (an offset into buf), zero-filling the bytes it grows into.
void set_packet_end(PacketState& p, uint32_t end) {
  if (end > p.data_end) std::memset(p.buf + p.data_end, 0, end - p.data_end);
  p.data_end = end;
  sync_ctx(p);
}

// The packet bytes [data + offset, data + offset + len), or nullptr with the kernel's error in
// *err (bpf_xdp_pointer: -EFAULT for offsets or lengths above 0xffff, -EINVAL past the end).
uint8_t* packet_range(PacketState& p, uint64_t offset64, uint64_t len64, int64_t* err) {
  uint32_t offset = static_cast<uint32_t>(offset64), len = static_cast<uint32_t>(len64);
  if (offset > 0xffff || len > 0xffff) {
    *err = -EFAULT;
    return nullptr;
  }
  if (uint64_t(offset) + len > p.data_end - p.data) {
    *err = -EINVAL;
    return nullptr;
  }
  return p.buf + p.data + offset;
}

// ---- XDP -------------------------------------------------------------------------------------------

uint64_t xdp_adjust_head(HelperCall& call, uint64_t ctx, uint64_t delta, uint64_t, uint64_t, uint64_t) {
  PacketState* p = packet_arg(call);
  if (p == nullptr) return 0;
  int64_t off = static_cast<int32_t>(delta);
  int64_t metalen = int64_t(p->data) - int64_t(p->data_meta);
  int64_t data = int64_t(p->data) + off;
  int64_t data_start = int64_t(p->min_headroom) + metalen;
  if (data < data_start || data > int64_t(p->data_end) - kEthHlen) return errno_ret(-EINVAL);
  if (metalen != 0)
    std::memmove(p->buf + p->data_meta + off, p->buf + p->data_meta, static_cast<size_t>(metalen));
  p->data_meta = static_cast<uint32_t>(int64_t(p->data_meta) + off);
  p->data = static_cast<uint32_t>(data);
  sync_ctx(*p);
  return 0;
}

uint64_t xdp_adjust_tail(HelperCall& call, uint64_t ctx, uint64_t delta, uint64_t, uint64_t, uint64_t) {
  PacketState* p = packet_arg(call);
  if (p == nullptr) return 0;
  int64_t off = static_cast<int32_t>(delta);
  int64_t end = int64_t(p->data_end) + off;
  if (end > int64_t(p->capacity)) return errno_ret(-EINVAL);
  if (end < int64_t(p->data) + kEthHlen) return errno_ret(-EINVAL);
  set_packet_end(*p, static_cast<uint32_t>(end));
  return 0;
}

uint64_t xdp_adjust_meta(HelperCall& call, uint64_t ctx, uint64_t delta, uint64_t, uint64_t, uint64_t) {
  PacketState* p = packet_arg(call);
  if (p == nullptr) return 0;
  if (p->ctx_data_meta == nullptr || p->data_meta > p->data) return errno_ret(-kENOTSUPP);
  int64_t off = static_cast<int32_t>(delta);
  int64_t meta = int64_t(p->data_meta) + off;
  if (meta < int64_t(p->min_headroom) || meta > int64_t(p->data)) return errno_ret(-EINVAL);
  int64_t metalen = int64_t(p->data) - meta;
  if ((metalen & 3) != 0 || metalen > kXdpMaxMetaLen) return errno_ret(-EACCES);
  p->data_meta = static_cast<uint32_t>(meta);
  sync_ctx(*p);
  return 0;
}

uint64_t xdp_load_bytes(HelperCall& call, uint64_t ctx, uint64_t offset, uint64_t to, uint64_t len, uint64_t) {
  PacketState* p = packet_arg(call);
  if (p == nullptr) return 0;
  void* d = mem_arg(call, to, static_cast<uint32_t>(len), true, "destination");
  if (d == nullptr) return 0;
  int64_t err = 0;
  const uint8_t* src = packet_range(*p, offset, len, &err);
  if (src == nullptr) return errno_ret(err);
  std::memcpy(d, src, static_cast<uint32_t>(len));
  return 0;
}

uint64_t xdp_store_bytes(HelperCall& call, uint64_t ctx, uint64_t offset, uint64_t from, uint64_t len, uint64_t) {
  PacketState* p = packet_arg(call);
  if (p == nullptr) return 0;
  const void* s = mem_arg(call, from, static_cast<uint32_t>(len), false, "source");
  if (s == nullptr) return 0;
  int64_t err = 0;
  uint8_t* dst = packet_range(*p, offset, len, &err);
  if (dst == nullptr) return errno_ret(err);
  std::memmove(dst, s, static_cast<uint32_t>(len));
  return 0;
}

// ---- Checksums -------------------------------------------------------------------------------------

uint32_t csum_add(uint32_t a, uint32_t b) {
  uint32_t r = a + b;
  return r + (r < b);
}
uint32_t csum_sub(uint32_t a, uint32_t b) {
  return csum_add(a, ~b);
}
uint16_t csum_fold(uint32_t s) {
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}
uint16_t csum16_add(uint16_t csum, uint16_t addend) {
  uint16_t r = static_cast<uint16_t>(csum + addend);
  return static_cast<uint16_t>(r + (r < addend));
}
uint16_t csum16_sub(uint16_t csum, uint16_t addend) {
  return csum16_add(csum, static_cast<uint16_t>(~addend));
}

uint64_t csum_diff(HelperCall& call,
                   uint64_t from,
                   uint64_t from_size64,
                   uint64_t to,
                   uint64_t to_size64,
                   uint64_t seed) {
  uint32_t from_size = static_cast<uint32_t>(from_size64), to_size = static_cast<uint32_t>(to_size64);
  uint64_t diff_size = uint64_t(from_size) + to_size;
  if (((from_size | to_size) & 3) != 0 || diff_size > 512) return errno_ret(-EINVAL);
  uint8_t buf[512];
  if (from_size != 0) {
    const auto* f = static_cast<const uint8_t*>(mem_arg(call, from, from_size, false, "from"));
    if (f == nullptr) return 0;
    for (uint32_t i = 0; i < from_size; ++i)
      buf[i] = static_cast<uint8_t>(~f[i]);
  }
  if (to_size != 0) {
    const void* t = mem_arg(call, to, to_size, false, "to");
    if (t == nullptr) return 0;
    std::memcpy(buf + from_size, t, to_size);
  }
  return kernel_csum_partial(buf, diff_size, static_cast<uint32_t>(seed));
}

// ---- skb -------------------------------------------------------------------------------------------

uint64_t skb_load_bytes(HelperCall& call,
                        uint64_t ctx,
                        uint64_t offset64,
                        uint64_t to,
                        uint64_t len64,
                        uint64_t) {
  uint32_t offset = static_cast<uint32_t>(offset64), len = static_cast<uint32_t>(len64);
  PacketState* p = packet_arg(call);
  if (p == nullptr) return 0;
  void* d = mem_arg(call, to, len, true, "destination");
  if (d == nullptr) return 0;
  uint64_t pkt_len = p->data_end - p->data;
  if (offset > INT_MAX || uint64_t(offset) + len > pkt_len) {
    std::memset(d, 0, len);
    return errno_ret(-EFAULT);
  }
  std::memcpy(d, p->buf + p->data + offset, len);
  return 0;
}

constexpr uint64_t kBpfFRecomputeCsum = 1, kBpfFInvalidateHash = 2;
constexpr uint64_t kBpfFHdrFieldMask = 0xf, kBpfFPseudoHdr = 1 << 4, kBpfFMarkMangled0 = 1 << 5,
                   kBpfFMarkEnforce = 1 << 6;

uint64_t skb_store_bytes(HelperCall& call,
                         uint64_t ctx,
                         uint64_t offset64,
                         uint64_t from,
                         uint64_t len64,
                         uint64_t flags) {
  uint32_t offset = static_cast<uint32_t>(offset64), len = static_cast<uint32_t>(len64);
  PacketState* p = packet_arg(call);
  if (p == nullptr) return 0;
  const void* s = mem_arg(call, from, len, false, "source");
  if (s == nullptr) return 0;
  if ((flags & ~(kBpfFRecomputeCsum | kBpfFInvalidateHash)) != 0) return errno_ret(-EINVAL);
  uint64_t pkt_len = p->data_end - p->data;
  if (offset > INT_MAX || uint64_t(offset) + len > pkt_len) return errno_ret(-EFAULT);
  std::memmove(p->buf + p->data + offset, s, len);
  return 0;
}

// bpf_skb_change_tail: the packet becomes `new_len` bytes from data, grown with zeros. bpfvm's
// limit is the packet buffer (the kernel's is BPF_SKB_MAX_LEN); the minimum is the Ethernet header.
uint64_t skb_change_tail(HelperCall& call, uint64_t ctx, uint64_t new_len64, uint64_t flags, uint64_t, uint64_t) {
  PacketState* p = packet_arg(call);
  if (p == nullptr) return 0;
  uint32_t new_len = static_cast<uint32_t>(new_len64);
  if (flags != 0 || new_len < kEthHlen || uint64_t(p->data) + new_len > p->capacity) return errno_ret(-EINVAL);
  set_packet_end(*p, p->data + new_len);
  return 0;
}

// The 16-bit checksum field at `offset`, or nullptr with the kernel's -EFAULT cases.
uint8_t* csum_field(PacketState& p, uint32_t offset) {
  uint64_t pkt_len = p.data_end - p.data;
  if (offset > 0xffff || (offset & 1) != 0 || uint64_t(offset) + 2 > pkt_len) return nullptr;
  return p.buf + p.data + offset;
}

uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
void store16(uint8_t* p, uint16_t v) {
  std::memcpy(p, &v, 2);
}

uint64_t l3_csum_replace(HelperCall& call,
                         uint64_t ctx,
                         uint64_t offset,
                         uint64_t from,
                         uint64_t to,
                         uint64_t flags) {
  PacketState* p = packet_arg(call);
  if (p == nullptr) return 0;
  if ((flags & ~kBpfFHdrFieldMask) != 0) return errno_ret(-EINVAL);
  uint8_t* ptr = csum_field(*p, static_cast<uint32_t>(offset));
  if (ptr == nullptr) return errno_ret(-EFAULT);
  uint16_t sum = load16(ptr);
  switch (flags & kBpfFHdrFieldMask) {
    case 0:  // csum_replace_by_diff
      if (from != 0) return errno_ret(-EINVAL);
      sum = csum_fold(csum_add(static_cast<uint32_t>(to), ~uint32_t{sum}));
      break;
    case 2:  // csum_replace2
      sum = static_cast<uint16_t>(~csum16_add(
          csum16_sub(static_cast<uint16_t>(~sum), static_cast<uint16_t>(from)), static_cast<uint16_t>(to)));
      break;
    case 4:  // csum_replace4
      sum = csum_fold(
          csum_add(csum_sub(~uint32_t{sum}, static_cast<uint32_t>(from)), static_cast<uint32_t>(to)));
      break;
    default:
      return errno_ret(-EINVAL);
  }
  store16(ptr, sum);
  return 0;
}

// inet_proto_csum_replace4 for a packet that is not CHECKSUM_PARTIAL (bpfvm's packets carry full
// checksums): *sum = csum_fold(csum_partial({~from, to}, 8, ~csum_unfold(*sum))).
uint16_t proto_replace4(uint16_t sum, uint32_t from, uint32_t to) {
  uint8_t diff[8];
  uint32_t nf = ~from;
  std::memcpy(diff, &nf, 4);
  std::memcpy(diff + 4, &to, 4);
  return csum_fold(kernel_csum_partial(diff, 8, ~uint32_t{sum}));
}

uint64_t l4_csum_replace(HelperCall& call,
                         uint64_t ctx,
                         uint64_t offset,
                         uint64_t from,
                         uint64_t to,
                         uint64_t flags) {
  PacketState* p = packet_arg(call);
  if (p == nullptr) return 0;
  bool mmzero = flags & kBpfFMarkMangled0, mforce = flags & kBpfFMarkEnforce;
  if ((flags & ~(kBpfFMarkMangled0 | kBpfFMarkEnforce | kBpfFPseudoHdr | kBpfFHdrFieldMask)) != 0)
    return errno_ret(-EINVAL);
  uint8_t* ptr = csum_field(*p, static_cast<uint32_t>(offset));
  if (ptr == nullptr) return errno_ret(-EFAULT);
  uint16_t sum = load16(ptr);
  if (mmzero && !mforce && sum == 0) return 0;
  switch (flags & kBpfFHdrFieldMask) {
    case 0:  // inet_proto_csum_replace_by_diff
      if (from != 0) return errno_ret(-EINVAL);
      sum = csum_fold(csum_add(static_cast<uint32_t>(to), ~uint32_t{sum}));
      break;
    case 2:
      sum = proto_replace4(sum, static_cast<uint16_t>(from), static_cast<uint16_t>(to));
      break;
    case 4:
      sum = proto_replace4(sum, static_cast<uint32_t>(from), static_cast<uint32_t>(to));
      break;
    default:
      return errno_ret(-EINVAL);
  }
  if (mmzero && sum == 0) sum = 0xffff;  // CSUM_MANGLED_0
  store16(ptr, sum);
  return 0;
}

}  // namespace

namespace detail {

void register_packet_helpers(HelperTable& table) {
  (void)add_kernel_helper(table, "xdp_adjust_head", xdp_adjust_head);
  (void)add_kernel_helper(table, "xdp_adjust_tail", xdp_adjust_tail);
  (void)add_kernel_helper(table, "xdp_adjust_meta", xdp_adjust_meta);
  (void)add_kernel_helper(table, "csum_diff", csum_diff);
  (void)add_kernel_helper(table, "skb_load_bytes", skb_load_bytes);
  (void)add_kernel_helper(table, "skb_store_bytes", skb_store_bytes);
  (void)add_kernel_helper(table, "l3_csum_replace", l3_csum_replace);
  (void)add_kernel_helper(table, "l4_csum_replace", l4_csum_replace);
  (void)add_kernel_helper(table, "skb_change_tail", skb_change_tail);
  (void)add_kernel_helper(table, "xdp_load_bytes", xdp_load_bytes);
  (void)add_kernel_helper(table, "xdp_store_bytes", xdp_store_bytes);
}

}  // namespace detail
}  // namespace bpfvm
