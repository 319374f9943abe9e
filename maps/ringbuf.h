// BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c): a multi-producer, single-consumer byte ring.
//
// max_entries is the data size in bytes (a power of 2, a multiple of 4096). Each record is an 8-byte
// header {u32 len; u32 pg_off} followed by the sample, padded to 8 bytes. While reserved, len has
// kRingbufBusyBit set; submit clears it, discard sets kRingbufDiscardBit (the consumer skips the
// record). The data area is allocated twice the ring size so a record that wraps past the end stays
// contiguous (the kernel maps the data pages twice for the same reason): producer and consumer both
// address a record at data + (pos & mask) and read/write it linearly.
//
// Wakeups are not modelled (there is no poll); BPF_RB_NO_WAKEUP/FORCE_WAKEUP are accepted.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "maps/map.h"

namespace bpfvm {

class RingbufMap : public Map {
 public:
  RingbufMap(const MapDef& def, const MapOptions& opts);

  // bpf_ringbuf_reserve: a pointer to `size` writable bytes, or nullptr when flags != 0, the record
  // can never fit, or there is not enough free space now.
  void* reserve(uint64_t size, uint64_t flags);
  // bpf_ringbuf_submit / bpf_ringbuf_discard of a pointer returned by reserve() (owns() is true).
  void submit(void* sample, uint64_t flags);
  void discard(void* sample, uint64_t flags);
  // bpf_ringbuf_output: 0; -EINVAL for flags other than the wakeup flags; -EAGAIN when full (the
  // kernel's error, not -ENOSPC).
  int output(const void* data, uint64_t size, uint64_t flags);
  // bpf_ringbuf_query: BPF_RB_AVAIL_DATA, RING_SIZE, CONS_POS, PROD_POS; 0 for anything else.
  uint64_t query(uint64_t flags) const;

  // Consumer side (libbpf ring_buffer__consume). Calls cb(data, len) for each submitted record in
  // order, skipping discarded ones, and stops at the first record still reserved. A negative return
  // from cb stops after that record (which counts as consumed) and is returned. Otherwise returns
  // the number of records handed to cb. One consumer at a time (serialised internally).
  int consume(const std::function<int(const void* data, uint32_t len)>& cb);

  // True when `p` points into this ring's data area.
  bool owns(const void* p) const;
  // The whole data area (both mappings): records handed out by reserve() lie inside it.
  uint64_t value_bytes_from(const void* p) const override;
  uint32_t ring_size() const { return def().max_entries; }

 private:
  void commit(void* sample, bool discard);
  uint64_t mask_;
  std::unique_ptr<uint8_t[]> data_;  // 2 * ring size, 8-aligned
  std::mutex producer_mu_;
  std::mutex consumer_mu_;
  std::atomic<uint64_t> producer_pos_{0};
  std::atomic<uint64_t> consumer_pos_{0};
};

}  // namespace bpfvm
