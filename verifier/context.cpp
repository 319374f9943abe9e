#include "verifier/context.h"

#include <fmt/format.h>

namespace bpfvm::verifier {
namespace {

using F = FieldKind;

// struct xdp_md (include/uapi/linux/bpf.h). xdp_is_valid_access: read-only, 4-byte fields.
const std::vector<CtxField> kXdpFields = {
    {0, 4, F::Packet, false, "data"},
    {4, 4, F::PacketEnd, false, "data_end"},
    {8, 4, F::PacketMeta, false, "data_meta"},
    {12, 4, F::Scalar, false, "ingress_ifindex"},
    {16, 4, F::Scalar, false, "rx_queue_index"},
    {20, 4, F::Scalar, false, "egress_ifindex"},
};

// Who reads struct __sk_buff: each program type has its own *_is_valid_access in net/core/filter.c
// on top of bpf_skb_is_valid_access.
enum class SkbUser { Tc, SocketFilter, CgroupSkb, Lwt, SkSkb, FlowDissector };

// struct __sk_buff after bpf_skb_is_valid_access (reads of the 4-byte fields may be narrow, stores
// are 4 bytes; cb[] any aligned size; the addresses 4 bytes; tstamp and hwtstamp 8) and the
// program type's own rules: which fields it may not touch, which it may write.
std::vector<CtxField> skb_fields(SkbUser u) {
  const bool tc = u == SkbUser::Tc, cg = u == SkbUser::CgroupSkb, lwt = u == SkbUser::Lwt,
             sk = u == SkbUser::SkSkb;
  if (u == SkbUser::FlowDissector)  // flow_dissector_is_valid_access: these three, read-only
    return {{76, 4, F::Packet, false, "data"},
            {80, 4, F::PacketEnd, false, "data_end"},
            {144, 8, F::FlowKeys, false, "flow_keys", 8}};
  std::vector<CtxField> f;
  auto add = [&f](uint32_t off, uint32_t size, const char* name, bool writable, uint8_t access = 0) {
    f.push_back({off, size, F::Scalar, writable, name, access, 4});
  };
  add(0, 4, "len", false);
  add(4, 4, "pkt_type", false);
  if (!sk) add(8, 4, "mark", tc || cg || lwt);
  add(12, 4, "queue_mapping", tc);
  add(16, 4, "protocol", false);
  add(20, 4, "vlan_present", false);
  add(24, 4, "vlan_tci", false);
  add(28, 4, "vlan_proto", false);
  add(32, 4, "priority", tc || cg || lwt || sk);
  add(36, 4, "ingress_ifindex", false);
  add(40, 4, "ifindex", false);
  add(44, 4, "tc_index", tc || sk);
  f.push_back({48, 20, F::Scalar, !sk, "cb"});
  add(68, 4, "hash", false);
  if (tc) add(72, 4, "tc_classid", true);
  if (u != SkbUser::SocketFilter) {
    f.push_back({76, 4, F::Packet, false, "data"});
    f.push_back({80, 4, F::PacketEnd, false, "data_end"});
  }
  add(84, 4, "napi_id", false);
  if (cg || sk) {  // the socket's addresses: not for tc, lwt and socket filters
    add(88, 4, "family", false);
    add(92, 4, "remote_ip4", false, 4);
    add(96, 4, "local_ip4", false, 4);
    add(100, 16, "remote_ip6", false, 4);
    add(116, 16, "local_ip6", false, 4);
    add(132, 4, "remote_port", false);
    add(136, 4, "local_port", false);
  }
  if (tc) f.push_back({140, 4, F::PacketMeta, false, "data_meta"});
  if (tc || cg) add(152, 8, "tstamp", tc || cg, 8);
  if (tc) add(160, 4, "wire_len", false);
  add(164, 4, "gso_segs", false);
  // sk (168, a sock_common pointer or NULL) is not described: programs reading it are rejected.
  add(176, 4, "gso_size", false);
  if (tc) add(180, 1, "tstamp_type", false, 1);
  if (tc || cg) add(184, 8, "hwtstamp", false, 8);
  return f;
}

// struct bpf_sock: bpf_sock_is_valid_access (the addresses and most fields allow narrow reads;
// bound_dev_if, mark and priority are read whole). `cgroup_sock`: the context of a cgroup/sock
// program at `attach`, where __sock_filter_check_attach_type decides: bound_dev_if, mark and
// priority exist (writable) at sock_create and sock_release, the source address and port at
// post_bind4/post_bind6 only. Otherwise (a socket pointer) everything is readable.
enum class SockAttach { Pointer, Create, PostBind4, PostBind6 };
std::vector<CtxField> sock_fields(SockAttach a) {
  const bool create = a == SockAttach::Create, any = a == SockAttach::Pointer;
  const bool pb4 = a == SockAttach::PostBind4, pb6 = a == SockAttach::PostBind6;
  std::vector<CtxField> f;
  auto add = [&f](uint32_t off, uint32_t size, const char* name, bool writable = false, uint8_t access = 0) {
    f.push_back({off, size, F::Scalar, writable, name, access});
  };
  if (any || create) add(0, 4, "bound_dev_if", create, 4);
  add(4, 4, "family");
  add(8, 4, "type");
  add(12, 4, "protocol");
  if (any || create) add(16, 4, "mark", create, 4);
  if (any || create) add(20, 4, "priority", create, 4);
  if (any || pb4) add(24, 4, "src_ip4");
  if (any || pb6) {
    add(28, 4, "src_ip6[0]");
    add(32, 4, "src_ip6[1]");
    add(36, 4, "src_ip6[2]");
    add(40, 4, "src_ip6[3]");
  }
  if (any || pb4 || pb6) add(44, 4, "src_port");
  add(48, 4, "dst_port");  // a __be16 and its padding: 4-byte reads, or narrow ones of the port
  add(52, 4, "dst_ip4");
  add(56, 4, "dst_ip6[0]");
  add(60, 4, "dst_ip6[1]");
  add(64, 4, "dst_ip6[2]");
  add(68, 4, "dst_ip6[3]");
  add(72, 4, "state");
  add(76, 4, "rx_queue_mapping");
  return f;
}

// struct bpf_sock_ops (sock_ops_is_valid_access): 4-byte fields read whole, the 8-byte counters
// read whole; reply (args[0]) and sk_txhash writable; sk a socket or NULL, skb_data and
// skb_data_end the packet (8-byte pointers).
std::vector<CtxField> sock_ops_fields() {
  std::vector<CtxField> f = {
      {0, 4, F::Scalar, false, "op", 4},           {4, 4, F::Scalar, true, "reply", 4},
      {8, 12, F::Scalar, false, "args", 4},        {20, 4, F::Scalar, false, "family", 4},
      {24, 4, F::Scalar, false, "remote_ip4", 4},  {28, 4, F::Scalar, false, "local_ip4", 4},
      {32, 16, F::Scalar, false, "remote_ip6", 4}, {48, 16, F::Scalar, false, "local_ip6", 4},
      {64, 4, F::Scalar, false, "remote_port", 4}, {68, 4, F::Scalar, false, "local_port", 4},
  };
  static const char* const kCounters[] = {
      "is_fullsock",    "snd_cwnd",         "srtt_us",      "bpf_sock_ops_cb_flags",
      "state",          "rtt_min",          "snd_ssthresh", "rcv_nxt",
      "snd_nxt",        "snd_una",          "mss_cache",    "ecn_flags",
      "rate_delivered", "rate_interval_us", "packets_out",  "retrans_out",
      "total_retrans",  "segs_in",          "data_segs_in", "segs_out",
      "data_segs_out",  "lost_out",         "sacked_out",   "sk_txhash"};
  uint32_t off = 72;
  for (const char* name : kCounters) {
    f.push_back({off, 4, F::Scalar, off == 164, name, 4});
    off += 4;
  }
  f.push_back({168, 8, F::Scalar, false, "bytes_received", 8});
  f.push_back({176, 8, F::Scalar, false, "bytes_acked", 8});
  f.push_back({184, 8, F::SockOrNull, false, "sk", 8});
  f.push_back({192, 8, F::Packet, false, "skb_data", 8});
  f.push_back({200, 8, F::PacketEnd, false, "skb_data_end", 8});
  f.push_back({208, 4, F::Scalar, false, "skb_len", 4});
  f.push_back({212, 4, F::Scalar, false, "skb_tcp_flags"});
  f.push_back({216, 8, F::Scalar, false, "skb_hwtstamp", 8});
  return f;
}

// struct sk_msg_md (sk_msg_is_valid_access): read-only; data, data_end and sk are 8-byte pointers,
// the rest 4-byte fields read whole.
const std::vector<CtxField> kSkMsgFields = {
    {0, 8, F::Packet, false, "data", 8},        {8, 8, F::PacketEnd, false, "data_end", 8},
    {16, 4, F::Scalar, false, "family", 4},     {20, 4, F::Scalar, false, "remote_ip4", 4},
    {24, 4, F::Scalar, false, "local_ip4", 4},  {28, 16, F::Scalar, false, "remote_ip6", 4},
    {44, 16, F::Scalar, false, "local_ip6", 4}, {60, 4, F::Scalar, false, "remote_port", 4},
    {64, 4, F::Scalar, false, "local_port", 4}, {68, 4, F::Scalar, false, "size", 4},
    {72, 8, F::Sock, false, "sk", 8},
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// struct bpf_sock_addr (sock_addr_is_valid_access) at the hook the section names ("cgroup/connect4",
// "cgroup/sendmsg6", "cgroup/recvmsg_unix", ...): the user address of the hook's family (narrow
// reads, 4-byte stores; 8-byte ones in the IPv6 arrays), msg_src_* for sendmsg only, the port
// writable, family/type/protocol read whole, sk a socket. Return values: 1 for recvmsg,
// getpeername and getsockname, 0..3 for bind, else 0..1.
ContextDescriptor sock_addr_context(std::string_view section) {
  ContextDescriptor d;
  d.name = "bpf_sock_addr";
  d.size = 72;
  const size_t slash = section.rfind('/');
  const std::string_view hook =
      slash == std::string_view::npos ? std::string_view{} : section.substr(slash + 1);
  const bool v4 = ends_with(hook, "4"), v6 = ends_with(hook, "6");
  const bool sendmsg = hook.rfind("sendmsg", 0) == 0;
  d.fields.push_back({0, 4, F::Scalar, false, "user_family", 4});
  if (v4) d.fields.push_back({4, 4, F::Scalar, true, "user_ip4", 0, 4});
  if (v6) d.fields.push_back({8, 16, F::Scalar, true, "user_ip6", 0, 4});
  d.fields.push_back({24, 4, F::Scalar, true, "user_port", 0, 4});
  d.fields.push_back({28, 4, F::Scalar, false, "family", 4});
  d.fields.push_back({32, 4, F::Scalar, false, "type", 4});
  d.fields.push_back({36, 4, F::Scalar, false, "protocol", 4});
  if (sendmsg && v4) d.fields.push_back({40, 4, F::Scalar, true, "msg_src_ip4", 0, 4});
  if (sendmsg && v6) d.fields.push_back({44, 16, F::Scalar, true, "msg_src_ip6", 0, 4});
  d.fields.push_back({64, 8, F::Sock, false, "sk", 8});
  d.ret_checked = true;
  d.ret_min = 0, d.ret_max = 1;
  if (hook.rfind("recvmsg", 0) == 0 || hook.rfind("getpeername", 0) == 0 || hook.rfind("getsockname", 0) == 0)
    d.ret_min = 1;
  if (hook == "bind4" || hook == "bind6") d.ret_max = 3;
  return d;
}

// struct bpf_sockopt (cg_sockopt_is_valid_access): sk a socket, optval..optval_end the option
// buffer (a packet: readable and writable after a check against optval_end), the 4-byte fields
// read whole; optlen writable, level and optname writable at setsockopt, retval readable and
// writable at getsockopt only.
ContextDescriptor sockopt_context(std::string_view section) {
  ContextDescriptor d;
  d.name = "bpf_sockopt";
  d.size = 40;
  const bool get = ends_with(section, "getsockopt"), set = ends_with(section, "setsockopt");
  d.fields = {
      {0, 8, F::Sock, false, "sk", 8},
      {8, 8, F::Packet, false, "optval", 8},
      {16, 8, F::PacketEnd, false, "optval_end", 8},
      {24, 4, F::Scalar, set, "level", 4},
      {28, 4, F::Scalar, set, "optname", 4},
      {32, 4, F::Scalar, true, "optlen", 4},
  };
  if (get) d.fields.push_back({36, 4, F::Scalar, true, "retval", 4});
  d.packet_writable = true;
  d.ret_checked = true;
  d.ret_min = 0, d.ret_max = 1;
  return d;
}

ContextDescriptor read_only_blob(const char* name, uint32_t size) {
  ContextDescriptor d;
  d.name = name;
  d.size = size;
  d.fields = {{0, size, F::Scalar, false, name}};
  return d;
}

ContextDescriptor skb_context(SkbUser u) {
  ContextDescriptor d;
  d.name = "__sk_buff";
  d.size = 192;
  d.fields = skb_fields(u);
  return d;
}

}  // namespace

const ContextDescriptor& socket_descriptor() {
  static const ContextDescriptor d = [] {
    ContextDescriptor s;
    s.name = "bpf_sock";
    s.size = 80;
    s.fields = sock_fields(SockAttach::Pointer);
    return s;
  }();
  return d;
}

ContextDescriptor context_for(ProgType type, uint32_t raw_size, std::string_view section) {
  ContextDescriptor d;
  switch (type) {
    case ProgType::Raw:
      d.name = "raw input";
      d.size = raw_size;
      d.raw = true;
      d.raw_writable = true;
      d.r2_is_size = true;
      return d;
    case ProgType::Xdp:
      d.name = "xdp_md";
      d.size = 24;
      d.fields = kXdpFields;
      d.packet_writable = true;
      // Like Linux, any scalar: the driver treats unknown actions as XDP_ABORTED. (The kernel only
      // checks [XDP_ABORTED, XDP_PASS] for devmap and cpumap programs.)
      return d;
    case ProgType::SchedCls:
    case ProgType::SchedAct:
      d = skb_context(SkbUser::Tc);
      d.packet_writable = true;
      d.ld_abs = true;
      return d;
    case ProgType::SocketFilter:
      d = skb_context(SkbUser::SocketFilter);
      d.ld_abs = true;
      return d;
    case ProgType::CgroupSkb:
      d = skb_context(SkbUser::CgroupSkb);
      d.ld_abs = true;
      d.ret_checked = true;
      // Egress programs may also return 2 and 3 (congestion notification).
      d.ret_min = 0, d.ret_max = ends_with(section, "egress") ? 3 : 1;
      return d;
    case ProgType::LwtIn:
    case ProgType::LwtOut:
    case ProgType::LwtXmit:
      d = skb_context(SkbUser::Lwt);
      d.packet_writable = type == ProgType::LwtXmit;
      return d;
    case ProgType::SkSkb:
      d = skb_context(SkbUser::SkSkb);
      d.packet_writable = true;
      return d;
    case ProgType::FlowDissector:
      return skb_context(SkbUser::FlowDissector);
    case ProgType::SkMsg:
      d.name = "sk_msg_md";
      d.size = 80;
      d.fields = kSkMsgFields;
      d.packet_writable = true;
      return d;
    case ProgType::Kprobe:
      return read_only_blob("pt_regs", 168);
    case ProgType::PerfEvent:
      // struct bpf_perf_event_data (pe_prog_is_valid_access): the registers read as 8-byte words,
      // sample_period and addr (u64) narrow reads too.
      d.name = "bpf_perf_event_data";
      d.size = 184;
      d.fields = {{0, 168, F::Scalar, false, "regs", 8},
                  {168, 8, F::Scalar, false, "sample_period"},
                  {176, 8, F::Scalar, false, "addr"}};
      return d;
    case ProgType::Tracepoint:
      return read_only_blob("tracepoint record", 2048);  // PERF_MAX_TRACE_SIZE
    case ProgType::RawTracepoint:
    case ProgType::RawTracepointWritable:
    case ProgType::Tracing:
      return read_only_blob("u64 args[12]", 96);
    case ProgType::CgroupSock: {
      d.name = "bpf_sock";
      d.size = 80;
      const SockAttach a = ends_with(section, "post_bind4")   ? SockAttach::PostBind4
                           : ends_with(section, "post_bind6") ? SockAttach::PostBind6
                                                              : SockAttach::Create;
      d.fields = sock_fields(a);
      d.ret_checked = true;
      d.ret_min = 0, d.ret_max = 1;
      return d;
    }
    case ProgType::SockOps:
      d.name = "bpf_sock_ops";
      d.size = 224;
      d.fields = sock_ops_fields();
      d.ret_checked = true;
      d.ret_min = 0, d.ret_max = 1;
      return d;
    case ProgType::CgroupSockAddr:
      return sock_addr_context(section);
    case ProgType::CgroupSockopt:
      return sockopt_context(section);
    case ProgType::CgroupSysctl:
      // struct bpf_sysctl (sysctl_is_valid_access): write read-only, file_pos writable (4 bytes).
      d.name = "bpf_sysctl";
      d.size = 8;
      d.fields = {{0, 4, F::Scalar, false, "write"}, {4, 4, F::Scalar, true, "file_pos", 0, 4}};
      d.ret_checked = true;
      d.ret_min = 0, d.ret_max = 1;
      return d;
    case ProgType::CgroupDevice:
      // struct bpf_cgroup_dev_ctx (cgroup_dev_is_valid_access): read-only; access_type narrow.
      d.name = "bpf_cgroup_dev_ctx";
      d.size = 12;
      d.fields = {{0, 4, F::Scalar, false, "access_type"},
                  {4, 4, F::Scalar, false, "major", 4},
                  {8, 4, F::Scalar, false, "minor", 4}};
      d.ret_checked = true;
      d.ret_min = 0, d.ret_max = 1;
      return d;
    default:
      d.name = fmt::format("context of program type {} (not described)", static_cast<uint32_t>(type));
      return d;
  }
}

CtxAccess check_ctx_access(const ContextDescriptor& d, int64_t off, uint32_t size, bool write) {
  CtxAccess a;
  if (off < 0 || off + size > d.size) {
    a.why = fmt::format("offset {} size {} is outside the {} bytes of {}", off, size, d.size, d.name);
    return a;
  }
  if (d.raw) {
    if (write && !d.raw_writable) {
      a.read_only = true;
      a.why = "the input is read-only";
      return a;
    }
    a.ok = true;
    return a;
  }
  if (off % size != 0) {
    a.why = fmt::format("misaligned {}-byte access at offset {} of {}", size, off, d.name);
    return a;
  }
  for (const CtxField& f : d.fields) {
    if (off < f.off || off >= f.off + f.size) continue;
    if (off + size > f.off + f.size) {
      a.why = fmt::format("{}-byte access at offset {} crosses the end of field {}", size, off, f.name);
      return a;
    }
    if (f.kind != F::Scalar) {
      const uint32_t psize = f.access ? f.access : 4;
      if (size != psize || write) {
        a.why =
            fmt::format("field {} of {} (a pointer) must be read with a {}-byte load", f.name, d.name, psize);
        return a;
      }
    } else if (f.access != 0 && size != f.access) {
      a.why = fmt::format("field {} of {} must be accessed with {}-byte loads and stores", f.name, d.name,
                          f.access);
      return a;
    }
    if (write && !f.writable) {
      a.read_only = true;
      a.why = fmt::format("field {} of {} is read-only", f.name, d.name);
      return a;
    }
    if (write && size < f.min_write) {
      a.why = fmt::format("field {} of {} must be written with stores of at least {} bytes", f.name, d.name,
                          f.min_write);
      return a;
    }
    a.ok = true;
    a.kind = f.kind;
    return a;
  }
  a.why = fmt::format("offset {} of {} is not an accessible field", off, d.name);
  return a;
}

}  // namespace bpfvm::verifier
