#include "vm/legacy_packet.h"

namespace bpfvm {

uint64_t legacy_packet_load(const LegacyPacket* p, int32_t k, uint32_t size) {
  if (p == nullptr || p->head == nullptr) return kLegacyLoadFailed;
  const uint64_t tail = *p->tail;
  uint64_t start;  // offset from head
  if (k >= 0) {
    start = uint64_t{*p->data} + static_cast<uint32_t>(k);  // within data..tail (skb_headlen)
  } else if (k >= kSkfNetOff) {
    if (p->network == kNoHeader) return kLegacyLoadFailed;
    start = uint64_t{p->network} + static_cast<uint32_t>(k - kSkfNetOff);
  } else if (k >= kSkfLlOff) {
    if (p->mac == kNoHeader) return kLegacyLoadFailed;  // !skb_mac_header_was_set
    start = uint64_t{p->mac} + static_cast<uint32_t>(k - kSkfLlOff);
  } else {
    return kLegacyLoadFailed;
  }
  if (start + size > tail) return kLegacyLoadFailed;
  const uint8_t* b = p->head + start;
  switch (size) {
    case 1:
      return b[0];
    case 2:
      return uint32_t{b[0]} << 8 | b[1];
    case 4:
      return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
    default:
      return kLegacyLoadFailed;
  }
}

void LegacyPacketView::init(const LegacyPacket* given, std::span<const MemRegion> regions) {
  if (given != nullptr) {
    view_ = given;
    return;
  }
  const MemRegion* r = nullptr;
  for (const MemRegion& m : regions)
    if (m.name == "packet") r = &m;
  if (r == nullptr && !regions.empty()) r = &regions.front();
  view_ = nullptr;
  if (r == nullptr) return;
  own_.head = reinterpret_cast<const uint8_t*>(r->base);
  start_ = 0;
  size_ = r->size > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(r->size);
  own_.data = &start_;
  own_.tail = &size_;
  view_ = &own_;
}

}  // namespace bpfvm
