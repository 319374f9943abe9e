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
