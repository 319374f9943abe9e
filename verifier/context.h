// Context descriptors: what r1 points to at entry for each program type (size, readable and writable
// fields, which fields hold packet pointers), after the kernel's *_is_valid_access functions, plus
// the program type's return value rule and packet access rights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vm/elf/prog_type.h"

namespace bpfvm::verifier {

enum class FieldKind : uint8_t { Scalar, Packet, PacketEnd, PacketMeta };

struct CtxField {
  uint32_t off = 0;
  uint32_t size = 0;  // bytes; an array field (cb[]) allows aligned accesses of 1..8 bytes inside it
  FieldKind kind = FieldKind::Scalar;
  bool writable = false;
  const char* name = "";
  // Non-zero: the only access size allowed (no narrow loads: bpf_sock_ops fields are read whole).
  uint8_t access = 0;
};

struct ContextDescriptor {
  std::string name;  // "xdp_md", "__sk_buff", "raw input", ...
  uint32_t size = 0;
  // Raw memory: every in-bounds access is allowed (variable offsets too), writable when `raw_writable`.
  bool raw = false;
  bool raw_writable = false;
  std::vector<CtxField> fields;  // sorted by offset (when !raw)
  bool packet_writable = false;  // direct packet writes allowed (xdp, tc, ...)
  bool ld_abs = false;           // legacy LD_ABS/LD_IND allowed
  bool ret_checked = false;      // r0 at exit must lie in [ret_min, ret_max]
  int64_t ret_min = 0, ret_max = 0;
  bool r2_is_size = false;  // raw: r2 = size at entry
};

// The descriptor of `type`; `raw_size` is the size of the input memory of ProgType::Raw.
ContextDescriptor context_for(ProgType type, uint32_t raw_size);

struct CtxAccess {
  bool ok = false;
  FieldKind kind = FieldKind::Scalar;
  bool read_only = false;  // the field exists but may not be written
  std::string why;         // when !ok: the reason, naming the field
};
// May a load (or store) of `size` bytes at constant offset `off` touch the context?
CtxAccess check_ctx_access(const ContextDescriptor& d, int64_t off, uint32_t size, bool write);

}  // namespace bpfvm::verifier
