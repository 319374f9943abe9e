// BPF program types (kernel numbering of enum bpf_prog_type) and the section-name conventions that
// select them, as libbpf spells them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace bpfvm {

enum class ProgType : uint32_t {
  Unspec = 0,
  SocketFilter = 1,
  Kprobe = 2,
  SchedCls = 3,
  SchedAct = 4,
  Tracepoint = 5,
  Xdp = 6,
  PerfEvent = 7,
  CgroupSkb = 8,
  CgroupSock = 9,
  LwtIn = 10,
  LwtOut = 11,
  LwtXmit = 12,
  SockOps = 13,
  SkSkb = 14,
  CgroupDevice = 15,
  SkMsg = 16,
  RawTracepoint = 17,
  CgroupSockAddr = 18,
  LwtSeg6local = 19,
  LircMode2 = 20,
  SkReuseport = 21,
  FlowDissector = 22,
  CgroupSysctl = 23,
  RawTracepointWritable = 24,
  CgroupSockopt = 25,
  Tracing = 26,
  StructOps = 27,
  Ext = 28,
  Lsm = 29,
  SkLookup = 30,
  Syscall = 31,
  Netfilter = 32,
  // Not a kernel type: a bpfvm raw program (r1 = input memory, r2 = its length).
  Raw = 0x10000,
};

// libbpf's name of a program type ("xdp", "socket_filter", "sched_cls", ...; "raw" for Raw), or
// "unknown" for a value outside the enum.
const char* prog_type_name(ProgType t);
// Inverse of prog_type_name. nullopt for an unknown name.
std::optional<ProgType> prog_type_from_name(std::string_view name);

struct SectionType {
  ProgType type = ProgType::SchedCls;
  // True when the section name matched a convention (docs/ELF.md); false when the type is the default.
  bool known = false;
};
// The program type that the name of an executable section implies: libbpf's table first (exact
// name, or the name followed by '/'), then a looser prefix match used by older objects ("xdp_prog",
// "socket1", "kprobe_..."), else `fallback` with known = false.
SectionType prog_type_from_section(std::string_view section, ProgType fallback = ProgType::SchedCls);

}  // namespace bpfvm
