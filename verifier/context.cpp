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

// struct __sk_buff. `tc` selects tc_cls_act_is_valid_access (tc writable fields, packet pointers);
// otherwise sk_filter_is_valid_access (no packet pointers, only cb[] writable). `pkt`: data and
// data_end readable (cgroup_skb, lwt, sk_skb).
std::vector<CtxField> skb_fields(bool tc, bool pkt) {
  std::vector<CtxField> f = {
      {0, 4, F::Scalar, false, "len"},       {4, 4, F::Scalar, false, "pkt_type"},
      {8, 4, F::Scalar, tc, "mark"},         {12, 4, F::Scalar, tc, "queue_mapping"},
      {16, 4, F::Scalar, false, "protocol"}, {20, 4, F::Scalar, false, "vlan_present"},
      {24, 4, F::Scalar, false, "vlan_tci"}, {28, 4, F::Scalar, false, "vlan_proto"},
      {32, 4, F::Scalar, tc, "priority"},    {36, 4, F::Scalar, false, "ingress_ifindex"},
      {40, 4, F::Scalar, false, "ifindex"},  {44, 4, F::Scalar, tc, "tc_index"},
      {48, 20, F::Scalar, true, "cb"},       {68, 4, F::Scalar, false, "hash"},
  };
  if (tc) f.push_back({72, 4, F::Scalar, true, "tc_classid"});
  if (tc || pkt) {
    f.push_back({76, 4, F::Packet, false, "data"});
    f.push_back({80, 4, F::PacketEnd, false, "data_end"});
  }
  f.push_back({84, 4, F::Scalar, false, "napi_id"});
  // family .. local_port (88..140) are for sk programs only.
  if (tc) f.push_back({140, 4, F::PacketMeta, false, "data_meta"});
  if (tc) f.push_back({152, 8, F::Scalar, true, "tstamp"});
  if (tc) f.push_back({160, 4, F::Scalar, false, "wire_len"});
  f.push_back({164, 4, F::Scalar, false, "gso_segs"});
  f.push_back({176, 4, F::Scalar, false, "gso_size"});
  if (tc) f.push_back({184, 8, F::Scalar, false, "hwtstamp"});
  return f;
}

// struct bpf_sock (cgroup/sock programs): bpf_sock_is_valid_access for reads (narrow loads of
// the address and port fields); sock_filter_is_valid_access: bound_dev_if, mark and priority are
// the writable fields.
const std::vector<CtxField> kSockFields = {
    {0, 4, F::Scalar, true, "bound_dev_if"}, {4, 4, F::Scalar, false, "family"},
    {8, 4, F::Scalar, false, "type"},        {12, 4, F::Scalar, false, "protocol"},
    {16, 4, F::Scalar, true, "mark"},        {20, 4, F::Scalar, true, "priority"},
    {24, 4, F::Scalar, false, "src_ip4"},    {28, 16, F::Scalar, false, "src_ip6"},
    {44, 4, F::Scalar, false, "src_port"},   {48, 4, F::Scalar, false, "dst_port"},
    {52, 4, F::Scalar, false, "dst_ip4"},    {56, 16, F::Scalar, false, "dst_ip6"},
    {72, 4, F::Scalar, false, "state"},      {76, 4, F::Scalar, false, "rx_queue_mapping"},
};

// struct bpf_sock_ops (sock_ops_is_valid_access): 4-byte fields read whole, the 8-byte counters
// read whole; reply/replylong and sk_txhash writable. The sk and skb_data pointers (184..207) are
// not described, so programs that use them are rejected.
std::vector<CtxField> sock_ops_fields() {
  std::vector<CtxField> f = {
      {0, 4, F::Scalar, false, "op", 4},          {4, 16, F::Scalar, true, "args/reply", 4},
      {20, 4, F::Scalar, false, "family", 4},     {24, 4, F::Scalar, false, "remote_ip4", 4},
      {28, 4, F::Scalar, false, "local_ip4", 4},  {32, 16, F::Scalar, false, "remote_ip6", 4},
      {48, 16, F::Scalar, false, "local_ip6", 4}, {64, 4, F::Scalar, false, "remote_port", 4},
      {68, 4, F::Scalar, false, "local_port", 4},
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
  f.push_back({208, 4, F::Scalar, false, "skb_len", 4});
  f.push_back({212, 4, F::Scalar, false, "skb_tcp_flags", 4});
  f.push_back({216, 8, F::Scalar, false, "skb_hwtstamp", 8});
  return f;
}

ContextDescriptor read_only_blob(const char* name, uint32_t size) {
  ContextDescriptor d;
  d.name = name;
  d.size = size;
  d.fields = {{0, size, F::Scalar, false, name}};
  return d;
}

}  // namespace

ContextDescriptor context_for(ProgType type, uint32_t raw_size) {
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
      d.name = "__sk_buff";
      d.size = 192;
      d.fields = skb_fields(true, true);
      d.packet_writable = true;
      d.ld_abs = true;
      return d;
    case ProgType::SocketFilter:
      d.name = "__sk_buff";
      d.size = 192;
      d.fields = skb_fields(false, false);
      d.ld_abs = true;
      return d;
    case ProgType::CgroupSkb:
      d.name = "__sk_buff";
      d.size = 192;
      d.fields = skb_fields(false, true);
      d.ld_abs = true;
      d.ret_checked = true;
      d.ret_min = 0, d.ret_max = 1;
      return d;
    case ProgType::LwtIn:
    case ProgType::LwtOut:
    case ProgType::LwtXmit:
    case ProgType::SkSkb:
      d.name = "__sk_buff";
      d.size = 192;
      d.fields = skb_fields(false, true);
      d.packet_writable = type == ProgType::LwtXmit || type == ProgType::SkSkb;
      return d;
    case ProgType::Kprobe:
      return read_only_blob("pt_regs", 168);
    case ProgType::PerfEvent:
      return read_only_blob("bpf_perf_event_data", 184);
    case ProgType::Tracepoint:
      return read_only_blob("tracepoint record", 2048);  // PERF_MAX_TRACE_SIZE
    case ProgType::RawTracepoint:
    case ProgType::RawTracepointWritable:
    case ProgType::Tracing:
      return read_only_blob("u64 args[12]", 96);
    case ProgType::CgroupSock:
      d.name = "bpf_sock";
      d.size = 80;
      d.fields = kSockFields;
      d.ret_checked = true;
      d.ret_min = 0, d.ret_max = 1;
      return d;
    case ProgType::SockOps:
      d.name = "bpf_sock_ops";
      d.size = 224;
      d.fields = sock_ops_fields();
      d.ret_checked = true;
      d.ret_min = 0, d.ret_max = 1;
      return d;
    case ProgType::CgroupDevice:
    case ProgType::CgroupSockAddr:
    case ProgType::CgroupSysctl:
    case ProgType::CgroupSockopt: {
      ContextDescriptor c = read_only_blob("cgroup context", 0);
      c.fields.clear();
      c.ret_checked = true;
      c.ret_min = 0, c.ret_max = 1;
      return c;
    }
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
    if (f.access != 0 && size != f.access) {
      a.why = fmt::format("field {} of {} must be accessed with {}-byte loads and stores", f.name, d.name,
                          f.access);
      return a;
    }
    if (f.kind != F::Scalar && (size != 4 || write)) {
      a.why = fmt::format("field {} (a packet pointer) must be read with a 4-byte load", f.name);
      return a;
    }
    if (write && !f.writable) {
      a.read_only = true;
      a.why = fmt::format("field {} of {} is read-only", f.name, d.name);
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
