// What the legacy packet loads LD_ABS and LD_IND read, with the kernel's semantics
// (net/core/filter.c: bpf_gen_ld_abs, bpf_skb_load_helper_{8,16,32}_no_cache and
// bpf_internal_load_pointer_neg_helper). One implementation serves both engines: the interpreter
// calls it inline, the JIT calls it from generated code, so their results agree by construction.
//
// The offset k is the 32-bit sum imm (+ src for LD_IND) taken as a signed value (the kernel passes
// it as an `int`). Three ranges:
//  - k >= 0: k bytes from the packet's data (skb->data), within the linear data (data..tail);
//  - SKF_NET_OFF (-0x100000) <= k < 0: k - SKF_NET_OFF bytes from the network header;
//  - SKF_LL_OFF (-0x200000) <= k < SKF_NET_OFF: k - SKF_LL_OFF bytes from the link-layer (MAC)
//    header, when it is set;
//  - below SKF_LL_OFF: nothing.
// Every load must end at or before the packet's tail. The value is big-endian in the packet and
// returned in host order; a load that cannot be made ends the program with r0 = 0 (the kernel's
// rewrite returns 0 when the helper returns a negative value).
#pragma once

#include <cstdint>
#include <span>

#include "vm/region.h"

namespace bpfvm {

constexpr int32_t kSkfNetOff = -0x100000;  // SKF_NET_OFF (linux/filter.h)
constexpr int32_t kSkfLlOff = -0x200000;   // SKF_LL_OFF
constexpr uint32_t kNoHeader = UINT32_MAX;

// The sk_buff as the legacy loads see it. Offsets are from `head`, the first byte of the buffer.
// `data` and `tail` point to offsets the runtime keeps current (helpers that move the packet's
// bounds update them during the run); the header offsets are fixed for the run (kNoHeader: not
// set).
struct LegacyPacket {
  const uint8_t* head = nullptr;
  const uint32_t* data = nullptr;
  const uint32_t* tail = nullptr;
  uint32_t network = kNoHeader;
  uint32_t mac = kNoHeader;
};

// Returned by legacy_packet_load when the bytes are outside the packet (any value with bit 63 set
// means that: loads return at most 32 bits).
constexpr uint64_t kLegacyLoadFailed = ~uint64_t{0};

// LD_ABS/LD_IND of `size` (1, 2 or 4) bytes at offset `k`: the value in host order, or
// kLegacyLoadFailed. `p` may be null (no packet: every load fails).
uint64_t legacy_packet_load(const LegacyPacket* p, int32_t k, uint32_t size);

// The view of one run (RunInput::legacy_packet): the given one, or, when there is none, the packet
// region (the region named "packet", else the first one) from its start, with no headers. Both
// engines keep one in their run state; it does not move while the run uses it.
class LegacyPacketView {
 public:
  LegacyPacketView() = default;
  LegacyPacketView(const LegacyPacketView&) = delete;
  LegacyPacketView& operator=(const LegacyPacketView&) = delete;
  void init(const LegacyPacket* given, std::span<const MemRegion> regions);
  const LegacyPacket* get() const { return view_; }

 private:
  LegacyPacket own_;
  uint32_t start_ = 0, size_ = 0;
  const LegacyPacket* view_ = nullptr;
};

}  // namespace bpfvm
