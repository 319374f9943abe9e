// Context descriptors: what r1 points to at entry for each program type (size, readable and writable
// fields, which fields hold packet pointers), after the kernel's *_is_valid_access functions, plus
// the program type's return value rule and packet access rights.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vm/elf/prog_type.h"

namespace bpfvm::verifier {

// What a load of a context field gives: a scalar, or a pointer (packet start, end and metadata; a
// socket, struct bpf_sock, maybe NULL; the flow dissector's struct bpf_flow_keys).
enum class FieldKind : uint8_t { Scalar, Packet, PacketEnd, PacketMeta, Sock, SockOrNull, FlowKeys };

struct CtxField {
  uint32_t off = 0;
  uint32_t size = 0;  // bytes; an array field (cb[]) allows aligned accesses of 1..8 bytes inside it
  FieldKind kind = FieldKind::Scalar;
  bool writable = false;
  const char* name = "";
  // Non-zero: the only access size allowed (no narrow loads: bpf_sock_ops fields are read whole);
  // pointer fields: their size (default 4, the __u32 data fields; __bpf_md_ptr fields are 8).
  uint8_t access = 0;
  // Non-zero: stores must be at least this many bytes (narrow loads, but no narrow stores).
  uint8_t min_write = 0;
};

// sizeof(struct bpf_flow_keys): what a flow dissector's flow_keys pointer gives access to.
constexpr uint32_t kFlowKeysSize = 56;

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

// The descriptor of `type`; `raw_size` is the size of the input memory of ProgType::Raw. `section`
// (the ELF section name, libbpf's convention) names the attach point where the kernel's rules
// depend on it: cgroup/connect4 and the other sock_addr hooks, cgroup/getsockopt|setsockopt,
// cgroup/sock_create|sock_release|post_bind4|post_bind6, cgroup_skb/egress. Unknown or empty: the
// context allows only what every attach point of the type allows (cgroup sock: sock_create, the
// kernel's default).
ContextDescriptor context_for(ProgType type, uint32_t raw_size, std::string_view section = {});

// struct bpf_sock behind a socket pointer (PTR_TO_SOCKET: bpf_sock_is_valid_access), read-only.
const ContextDescriptor& socket_descriptor();

struct CtxAccess {
  bool ok = false;
  FieldKind kind = FieldKind::Scalar;
  bool read_only = false;  // the field exists but may not be written
  std::string why;         // when !ok: the reason, naming the field
};
// May a load (or store) of `size` bytes at constant offset `off` touch the context?
CtxAccess check_ctx_access(const ContextDescriptor& d, int64_t off, uint32_t size, bool write);

}  // namespace bpfvm::verifier
