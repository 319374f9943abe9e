#include "maps/ringbuf.h"

#include <cstring>

namespace bpfvm {

namespace {
// RINGBUF_MAX_RECORD_SZ in the kernel.
constexpr uint64_t kMaxRecord = UINT32_MAX / 4;
constexpr uint32_t kPageShift = 12;

uint32_t* header_at(uint8_t* p) {
  return reinterpret_cast<uint32_t*>(p);
}
}  // namespace

RingbufMap::RingbufMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts), mask_(def.max_entries - 1ULL), data_(new uint8_t[2ULL * def.max_entries]()) {}

bool RingbufMap::owns(const void* p) const {
  auto* b = static_cast<const uint8_t*>(p);
  return b >= data_.get() && b < data_.get() + 2ULL * ring_size();
}

uint64_t RingbufMap::value_bytes_from(const void* p) const {
  if (!owns(p)) return 0;
  return 2ULL * ring_size() - uint64_t(static_cast<const uint8_t*>(p) - data_.get());
}

void* RingbufMap::reserve(uint64_t size, uint64_t flags) {
  if (flags != 0) return nullptr;
  if (size > kMaxRecord) return nullptr;
  uint64_t len = (size + kRingbufHdrSize + 7) & ~7ULL;
  if (len > ring_size()) return nullptr;
  std::lock_guard<std::mutex> g(producer_mu_);
  uint64_t cons = consumer_pos_.load(std::memory_order_acquire);
  uint64_t prod = producer_pos_.load(std::memory_order_relaxed);
  uint64_t new_prod = prod + len;
  // The kernel keeps at least one byte free: a record fits when new_prod - cons <= mask.
  if (new_prod - cons > mask_) return nullptr;
  uint8_t* hdr = data_.get() + (prod & mask_);
  uint32_t pg_off = uint32_t((prod & mask_) >> kPageShift);
  __atomic_store_n(header_at(hdr) + 1, pg_off, __ATOMIC_RELAXED);
  __atomic_store_n(header_at(hdr), uint32_t(size) | kRingbufBusyBit, __ATOMIC_RELAXED);
  producer_pos_.store(new_prod, std::memory_order_release);
  return hdr + kRingbufHdrSize;
}

void RingbufMap::commit(void* sample, bool discard) {
  uint8_t* hdr = static_cast<uint8_t*>(sample) - kRingbufHdrSize;
  uint32_t len = __atomic_load_n(header_at(hdr), __ATOMIC_RELAXED);
  uint32_t new_len = len & ~kRingbufBusyBit;
  if (discard) new_len |= kRingbufDiscardBit;
  __atomic_store_n(header_at(hdr), new_len, __ATOMIC_RELEASE);
}

void RingbufMap::submit(void* sample, uint64_t flags) {
  commit(sample, false);
}
void RingbufMap::discard(void* sample, uint64_t flags) {
  commit(sample, true);
}

int RingbufMap::output(const void* data, uint64_t size, uint64_t flags) {
  if (flags & ~(kBpfRbNoWakeup | kBpfRbForceWakeup)) return -EINVAL;
  void* rec = reserve(size, 0);
  if (!rec) return -EAGAIN;
  std::memcpy(rec, data, size);
  commit(rec, false);
  return 0;
}

uint64_t RingbufMap::query(uint64_t flags) const {
  uint64_t prod = producer_pos_.load(std::memory_order_acquire);
  uint64_t cons = consumer_pos_.load(std::memory_order_acquire);
  switch (flags) {
    case kBpfRbAvailData:
      return prod - cons;
    case kBpfRbRingSize:
      return ring_size();
    case kBpfRbConsPos:
      return cons;
    case kBpfRbProdPos:
      return prod;
    default:
      return 0;
  }
}

int RingbufMap::consume(const std::function<int(const void*, uint32_t)>& cb) {
  std::lock_guard<std::mutex> g(consumer_mu_);
  int count = 0;
  uint64_t cons = consumer_pos_.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t prod = producer_pos_.load(std::memory_order_acquire);
    if (cons >= prod) break;
    uint8_t* hdr = data_.get() + (cons & mask_);
    uint32_t len = __atomic_load_n(header_at(hdr), __ATOMIC_ACQUIRE);
    if (len & kRingbufBusyBit) break;
    uint32_t size = len & ~(kRingbufBusyBit | kRingbufDiscardBit);
    cons += (uint64_t(size) + kRingbufHdrSize + 7) & ~7ULL;
    if (!(len & kRingbufDiscardBit)) {
      int r = cb(hdr + kRingbufHdrSize, size);
      if (r < 0) {
        consumer_pos_.store(cons, std::memory_order_release);
        return r;
      }
      ++count;
    }
    consumer_pos_.store(cons, std::memory_order_release);
  }
  return count;
}

}  // namespace bpfvm
