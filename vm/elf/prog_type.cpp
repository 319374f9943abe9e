#include "vm/elf/prog_type.h"

#include <array>

namespace bpfvm {
namespace {

struct TypeName {
  ProgType type;
  const char* name;
};
constexpr TypeName kTypeNames[] = {
    {ProgType::Unspec, "unspec"},
    {ProgType::SocketFilter, "socket_filter"},
    {ProgType::Kprobe, "kprobe"},
    {ProgType::SchedCls, "sched_cls"},
    {ProgType::SchedAct, "sched_act"},
    {ProgType::Tracepoint, "tracepoint"},
    {ProgType::Xdp, "xdp"},
    {ProgType::PerfEvent, "perf_event"},
    {ProgType::CgroupSkb, "cgroup_skb"},
    {ProgType::CgroupSock, "cgroup_sock"},
    {ProgType::LwtIn, "lwt_in"},
    {ProgType::LwtOut, "lwt_out"},
    {ProgType::LwtXmit, "lwt_xmit"},
    {ProgType::SockOps, "sock_ops"},
    {ProgType::SkSkb, "sk_skb"},
    {ProgType::CgroupDevice, "cgroup_device"},
    {ProgType::SkMsg, "sk_msg"},
    {ProgType::RawTracepoint, "raw_tracepoint"},
    {ProgType::CgroupSockAddr, "cgroup_sock_addr"},
    {ProgType::LwtSeg6local, "lwt_seg6local"},
    {ProgType::LircMode2, "lirc_mode2"},
    {ProgType::SkReuseport, "sk_reuseport"},
    {ProgType::FlowDissector, "flow_dissector"},
    {ProgType::CgroupSysctl, "cgroup_sysctl"},
    {ProgType::RawTracepointWritable, "raw_tracepoint_writable"},
    {ProgType::CgroupSockopt, "cgroup_sockopt"},
    {ProgType::Tracing, "tracing"},
    {ProgType::StructOps, "struct_ops"},
    {ProgType::Ext, "ext"},
    {ProgType::Lsm, "lsm"},
    {ProgType::SkLookup, "sk_lookup"},
    {ProgType::Syscall, "syscall"},
    {ProgType::Netfilter, "netfilter"},
    {ProgType::Raw, "raw"},
};

// How a row of the section table matches a section name.
enum class Match : uint8_t {
  Attach,  // exactly the name, or the name followed by '/' and anything (libbpf SEC_ATTACHABLE)
  Prefix,  // the name is a prefix (rows ending in '/' or '+')
  Exact,
};
struct SectionRow {
  const char* prefix;
  Match match;
  ProgType type;
};
// libbpf 1.1's section_defs, in its order (first match wins). Attach types are not tracked.
constexpr SectionRow kSections[] = {
    {"socket", Match::Attach, ProgType::SocketFilter},
    {"sk_reuseport/migrate", Match::Exact, ProgType::SkReuseport},
    {"sk_reuseport", Match::Attach, ProgType::SkReuseport},
    {"kprobe/", Match::Prefix, ProgType::Kprobe},
    {"uprobe/", Match::Prefix, ProgType::Kprobe},
    {"uprobe.s/", Match::Prefix, ProgType::Kprobe},
    {"kretprobe/", Match::Prefix, ProgType::Kprobe},
    {"uretprobe/", Match::Prefix, ProgType::Kprobe},
    {"uretprobe.s/", Match::Prefix, ProgType::Kprobe},
    {"kprobe.multi/", Match::Prefix, ProgType::Kprobe},
    {"kretprobe.multi/", Match::Prefix, ProgType::Kprobe},
    {"ksyscall/", Match::Prefix, ProgType::Kprobe},
    {"kretsyscall/", Match::Prefix, ProgType::Kprobe},
    {"usdt/", Match::Prefix, ProgType::Kprobe},
    {"tc", Match::Attach, ProgType::SchedCls},
    {"classifier", Match::Attach, ProgType::SchedCls},
    {"action", Match::Attach, ProgType::SchedAct},
    {"tracepoint/", Match::Prefix, ProgType::Tracepoint},
    {"tp/", Match::Prefix, ProgType::Tracepoint},
    {"raw_tracepoint/", Match::Prefix, ProgType::RawTracepoint},
    {"raw_tp/", Match::Prefix, ProgType::RawTracepoint},
    {"raw_tracepoint.w/", Match::Prefix, ProgType::RawTracepointWritable},
    {"raw_tp.w/", Match::Prefix, ProgType::RawTracepointWritable},
    {"tp_btf/", Match::Prefix, ProgType::Tracing},
    {"fentry/", Match::Prefix, ProgType::Tracing},
    {"fmod_ret/", Match::Prefix, ProgType::Tracing},
    {"fexit/", Match::Prefix, ProgType::Tracing},
    {"fentry.s/", Match::Prefix, ProgType::Tracing},
    {"fmod_ret.s/", Match::Prefix, ProgType::Tracing},
    {"fexit.s/", Match::Prefix, ProgType::Tracing},
    {"freplace/", Match::Prefix, ProgType::Ext},
    {"lsm/", Match::Prefix, ProgType::Lsm},
    {"lsm.s/", Match::Prefix, ProgType::Lsm},
    {"lsm_cgroup/", Match::Prefix, ProgType::Lsm},
    {"iter/", Match::Prefix, ProgType::Tracing},
    {"iter.s/", Match::Prefix, ProgType::Tracing},
    {"syscall", Match::Exact, ProgType::Syscall},
    {"xdp.frags/devmap", Match::Exact, ProgType::Xdp},
    {"xdp/devmap", Match::Exact, ProgType::Xdp},
    {"xdp.frags/cpumap", Match::Exact, ProgType::Xdp},
    {"xdp/cpumap", Match::Exact, ProgType::Xdp},
    {"xdp.frags", Match::Attach, ProgType::Xdp},
    {"xdp", Match::Attach, ProgType::Xdp},
    {"perf_event", Match::Attach, ProgType::PerfEvent},
    {"lwt_in", Match::Attach, ProgType::LwtIn},
    {"lwt_out", Match::Attach, ProgType::LwtOut},
    {"lwt_xmit", Match::Attach, ProgType::LwtXmit},
    {"lwt_seg6local", Match::Attach, ProgType::LwtSeg6local},
    {"sockops", Match::Attach, ProgType::SockOps},
    {"sk_skb/stream_parser", Match::Attach, ProgType::SkSkb},
    {"sk_skb/stream_verdict", Match::Attach, ProgType::SkSkb},
    {"sk_skb", Match::Attach, ProgType::SkSkb},
    {"sk_msg", Match::Attach, ProgType::SkMsg},
    {"lirc_mode2", Match::Attach, ProgType::LircMode2},
    {"flow_dissector", Match::Attach, ProgType::FlowDissector},
    {"cgroup_skb/ingress", Match::Attach, ProgType::CgroupSkb},
    {"cgroup_skb/egress", Match::Attach, ProgType::CgroupSkb},
    {"cgroup/skb", Match::Exact, ProgType::CgroupSkb},
    {"cgroup/sock_create", Match::Attach, ProgType::CgroupSock},
    {"cgroup/sock_release", Match::Attach, ProgType::CgroupSock},
    {"cgroup/sock", Match::Attach, ProgType::CgroupSock},
    {"cgroup/post_bind4", Match::Attach, ProgType::CgroupSock},
    {"cgroup/post_bind6", Match::Attach, ProgType::CgroupSock},
    {"cgroup/bind4", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/bind6", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/connect4", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/connect6", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/sendmsg4", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/sendmsg6", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/recvmsg4", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/recvmsg6", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/getpeername4", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/getpeername6", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/getsockname4", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/getsockname6", Match::Attach, ProgType::CgroupSockAddr},
    {"cgroup/sysctl", Match::Attach, ProgType::CgroupSysctl},
    {"cgroup/getsockopt", Match::Attach, ProgType::CgroupSockopt},
    {"cgroup/setsockopt", Match::Attach, ProgType::CgroupSockopt},
    {"cgroup/dev", Match::Attach, ProgType::CgroupDevice},
    {"struct_ops+", Match::Prefix, ProgType::StructOps},
    {"sk_lookup", Match::Attach, ProgType::SkLookup},
    {"netfilter", Match::Attach, ProgType::Netfilter},
};

// Prefixes of older objects that libbpf 1.x no longer accepts ("xdp_prog", "socket1", "kprobe_x",
// "cgroup/skb1"), tried after the table; first match wins.
constexpr TypeName kLoosePrefixes[] = {
    {ProgType::Xdp, "xdp"},
    {ProgType::SocketFilter, "socket"},
    {ProgType::Kprobe, "kprobe"},
    {ProgType::Kprobe, "kretprobe"},
    {ProgType::Kprobe, "uprobe"},
    {ProgType::Kprobe, "uretprobe"},
    {ProgType::Tracepoint, "tracepoint"},
    {ProgType::RawTracepoint, "raw_tracepoint"},
    {ProgType::SchedCls, "classifier"},
    {ProgType::SchedAct, "action"},
    {ProgType::CgroupSkb, "cgroup/skb"},
    {ProgType::CgroupSock, "cgroup/sock"},
    {ProgType::SockOps, "sockops"},
    {ProgType::SkSkb, "sk_skb"},
    {ProgType::SkMsg, "sk_msg"},
    {ProgType::PerfEvent, "perf_event"},
};

bool matches(const SectionRow& row, std::string_view s) {
  std::string_view p = row.prefix;
  switch (row.match) {
    case Match::Exact: return s == p;
    case Match::Prefix:
      if (!p.empty() && p.back() == '+') p.remove_suffix(1);
      return s.starts_with(p);
    case Match::Attach: return s == p || (s.starts_with(p) && s.size() > p.size() && s[p.size()] == '/');
  }
  return false;
}

}  // namespace

const char* prog_type_name(ProgType t) {
  for (const TypeName& n : kTypeNames)
    if (n.type == t) return n.name;
  return "unknown";
}

std::optional<ProgType> prog_type_from_name(std::string_view name) {
  for (const TypeName& n : kTypeNames)
    if (name == n.name) return n.type;
  return std::nullopt;
}

SectionType prog_type_from_section(std::string_view section, ProgType fallback) {
  for (const SectionRow& row : kSections)
    if (matches(row, section)) return {row.type, true};
  for (const TypeName& n : kLoosePrefixes)
    if (section.starts_with(n.name)) return {n.type, true};
  return {fallback, false};
}

}  // namespace bpfvm
