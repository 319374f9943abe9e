// Per-run state that helpers reach through HelperCall::context(). The runtime (vm/runtime) fills it
// for every run; helpers that need it fail cleanly (negative errno, or HelperCall::fail) when it
// is missing, never crash.
#pragma once

#include <cstdint>

namespace bpfvm {

class MapSet;  // maps/map_set.h

// Packet of an XDP or skb program. `buf` holds headroom, the packet and tailroom. Addresses handed
// to the program (ctx->data etc.) are 32-bit fields in the kernel's UAPI structs, so the runtime
// allocates packet buffers and contexts in the low 4 GiB of the address space: a 32-bit context
// field then holds a real pointer, as the program expects, without rewriting its loads.
struct PacketState {
  uint8_t* buf = nullptr;
  uint32_t capacity = 0;  // bytes in buf
  uint32_t data = 0;      // offsets into buf: data_meta <= data <= data_end <= capacity
  uint32_t data_end = 0;
  uint32_t data_meta = 0;  // == data when there is no metadata
  // Context fields mirroring the bounds as 32-bit addresses; adjust_head/tail/meta update them.
  // nullptr where the context has no such field.
  uint32_t* ctx_data = nullptr;
  uint32_t* ctx_data_end = nullptr;
  uint32_t* ctx_data_meta = nullptr;
  // __sk_buff.len (data_end - data): skb_change_tail updates it. nullptr for XDP.
  uint32_t* ctx_len = nullptr;
  // Smallest headroom adjust_head must leave (the kernel keeps room for struct xdp_frame).
  uint32_t min_headroom = 0;
};

struct HelperContext {
  MapSet* maps = nullptr;          // maps of the running object: r1 of map helpers is checked against it
  PacketState* packet = nullptr;   // packet programs only
  uint32_t prog_type = 0;          // kernel numbering (vm/elf/prog_type.h)
  uint32_t cpu = 0;                // simulated CPU of this run: get_smp_processor_id, per-CPU maps
  bool deterministic = false;      // --seed: also fixed pid/tgid, uid/gid and comm
  bool gpl = false;                // the object's license is GPL-compatible (GPL-only helpers)
};

}  // namespace bpfvm
