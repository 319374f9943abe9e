// Abstract register values: a kind (uninitialized, scalar, or one of the pointer kinds) and, for
// pointers, the offset from the start of the region as a Scalar.
#pragma once

#include <cstdint>
#include <string>

#include "verifier/domains/scalar.h"

namespace bpfvm::verifier {

enum class RegKind : uint8_t {
  Uninit,          // never written, clobbered by a call, or of conflicting kinds on joined paths
  Scalar,          // a number (`v` is its value)
  Ctx,             // the program's context
  Stack,           // a frame's stack (`frame`); offset relative to that frame's r10 (negative)
  MapPtr,          // a map reference (`map`), from lddw
  MapValue,        // inside a value of map `map`
  MapValueOrNull,  // map_lookup_elem result before its null check
  Packet,          // packet data (offset from data)
  PacketEnd,       // data_end
  PacketMeta,      // data_meta (offset from data_meta)
  Mem,             // helper memory of `size` bytes (a ringbuf record)
  MemOrNull,       // ringbuf_reserve result before its null check
  Func,            // a subprogram address (lddw func), `map` = instruction index of its entry
  MapPtrOrNull,    // map_lookup_elem in a map of maps before its null check (`map`: the inner map)
  // The low 32 bits of a pointer of kind `base` (mov32, add32/sub32 of a pointer, a 4-byte fill of a
  // spilled pointer), `v` its offset modulo 2^32; base Uninit: of unknown origin. Never
  // dereferenced, never stored outside the stack nor returned (its bits are an address); the
  // difference of two of them into the packet is a scalar.
  TruncPtr,
  Sock,        // a socket (struct bpf_sock, read-only), from a context field
  SockOrNull,  // bpf_sock_ops->sk before its null check
};

const char* reg_kind_name(RegKind k);

// For packet pointers, `range` bounds what comparisons with data_end proved: for every register of
// the same `id`, data_end >= pointer - fixed + range. kNoRange: nothing proven.
constexpr int32_t kNoRange = INT32_MIN;
// The id of packet pointers whose offset from data is a constant (`fixed` is that constant).
constexpr uint32_t kPacketBaseId = 1;

// Loop ghosts (verifier.cpp, the termination proof of a loop): while the invariant of the loop at
// depth `loop` of the analysis is computed, a value may be known to equal the value that location
// `loc` (a register, or kGhostSlot0 + an 8-byte stack slot, of the loop's frame) held at the latest
// visit of the loop head, plus a delta in [dlo, dhi]: on 64 bits, or on the low 32 bits (modulo
// 2^32) when `loc & kGhost32`. loop == 0: no such knowledge.
constexpr uint8_t kGhostSlot0 = 16, kGhost32 = 0x80;
struct Ghost {
  uint8_t loop = 0;
  uint8_t loc = 0;
  int32_t dlo = 0, dhi = 0;
  bool operator==(const Ghost&) const = default;
};

// How a linked scalar (an id shared with other registers) relates to the id's base value B:
// kLinkFull: it is B + fixed; kLinkLow32: it is the zero-extended low half of B + fixed (a 32-bit
// copy, `w1 = w6`, or `r1 <<= 32; r1 >>= 32` of a copy); kLinkHigh32: it is (low half of
// B + fixed) << 32 (the first half of that idiom).
constexpr uint8_t kLinkFull = 0, kLinkLow32 = 1, kLinkHigh32 = 2;

struct RegValue {
  RegKind kind = RegKind::Uninit;
  uint8_t frame = 0;               // Stack: frame index (0 = main program)
  RegKind base = RegKind::Uninit;  // TruncPtr: the kind of the truncated pointer
  uint8_t link = 0;                // Scalar with an id: how it follows the id's base (kLink*)
  // Null-check / packet-range / scalar-bounds sharing: registers with equal non-zero ids are copies,
  // scalars up to `fixed` (value = the id's base value + fixed).
  uint32_t id = 0;
  uint32_t ref = 0;          // Mem/MemOrNull: the reference (acquired resource) it holds, 0 if none
  uint32_t map = 0;          // MapPtr/MapValue/MapValueOrNull: map index; Func: entry instruction
  uint32_t size = 0;         // Mem/MemOrNull: region size in bytes
  int32_t fixed = 0;         // Packet/PacketMeta/Scalar with an id: constant added since the id was given
  int32_t range = kNoRange;  // Packet/PacketMeta
  Scalar v;                  // Scalar: the value; pointers: the offset
  Ghost ghost;               // only while a loop's invariant is computed (above)

  static RegValue uninit() { return {}; }
  static RegValue scalar(const Scalar& s) {
    RegValue r;
    r.kind = RegKind::Scalar;
    r.v = s;
    return r;
  }
  static RegValue pointer(RegKind k, int64_t off = 0) {
    RegValue r;
    r.kind = k;
    r.v = Scalar::constant(static_cast<uint64_t>(off));
    return r;
  }
  bool is_pointer() const { return kind != RegKind::Uninit && kind != RegKind::Scalar; }
  bool is_init() const { return kind != RegKind::Uninit; }
  bool is_packet() const { return kind == RegKind::Packet || kind == RegKind::PacketMeta; }
  // Pointer kinds that may be NULL until a null check.
  bool is_nullable() const {
    return kind == RegKind::MapValueOrNull || kind == RegKind::MemOrNull || kind == RegKind::MapPtrOrNull ||
           kind == RegKind::SockOrNull;
  }
  // Pointer kinds that accept adding a scalar offset.
  bool allows_arithmetic() const {
    return kind == RegKind::Ctx || kind == RegKind::Stack || kind == RegKind::MapValue || is_packet() ||
           kind == RegKind::Mem;
  }
  bool operator==(const RegValue&) const = default;
};

// The kind of a nullable pointer after its null check (`k` itself for other kinds).
inline RegKind checked_kind(RegKind k) {
  switch (k) {
    case RegKind::MapValueOrNull:
      return RegKind::MapValue;
    case RegKind::MemOrNull:
      return RegKind::Mem;
    case RegKind::MapPtrOrNull:
      return RegKind::MapPtr;
    case RegKind::SockOrNull:
      return RegKind::Sock;
    default:
      return k;
  }
}

// The low 32 bits of pointer `p`: a TruncPtr of the same offset (`p` itself if it is one).
inline RegValue truncated(const RegValue& p) {
  if (p.kind == RegKind::TruncPtr) return p;
  RegValue t;
  t.kind = RegKind::TruncPtr;
  t.base = p.kind;
  t.v = p.v;
  return t;
}

struct Thresholds;

// Least upper bound of two register values. With `widen`, `a` is the previous value at a loop head
// and `b` the new one: bounds that grow jump to the next threshold (Scalar::widen), packet ranges
// that shrink are dropped, and loop ghosts survive only when equal, so that iterating reaches a
// fixpoint in finitely many steps.
RegValue join(const RegValue& a, const RegValue& b, const Thresholds* widen = nullptr);

}  // namespace bpfvm::verifier
