#include "helpers/proto.h"

#include <algorithm>
#include <array>

namespace bpfvm {
namespace {

using A = ArgKind;
using R = RetKind;

// Prototypes of the helpers bpfvm implements, mirroring the kernel's bpf_func_proto definitions
// (kernel/bpf/helpers.c, kernel/trace/bpf_trace.c, net/core/filter.c, kernel/bpf/ringbuf.c).
constexpr HelperProto kProtos[] = {
    {1, "map_lookup_elem", R::PtrToMapValueOrNull, {A::ConstMapPtr, A::PtrToMapKey}, false, false, false},
    {2, "map_update_elem", R::Integer, {A::ConstMapPtr, A::PtrToMapKey, A::PtrToMapValue, A::Anything}, false, false, false},
    {3, "map_delete_elem", R::Integer, {A::ConstMapPtr, A::PtrToMapKey}, false, false, false},
    {4, "probe_read", R::Integer, {A::PtrToUninitMem, A::ConstSizeOrZero, A::Anything}, true, false, false},
    {5, "ktime_get_ns", R::Integer, {}, false, false, false},
    {6, "trace_printk", R::Integer, {A::PtrToMem, A::ConstSize, A::Anything, A::Anything, A::Anything}, true, false, false},
    {7, "get_prandom_u32", R::Integer, {}, false, false, false},
    {8, "get_smp_processor_id", R::Integer, {}, false, false, false},
    {9, "skb_store_bytes", R::Integer, {A::PtrToCtx, A::Anything, A::PtrToMem, A::ConstSize, A::Anything}, false, false, false, true},
    {10, "l3_csum_replace", R::Integer, {A::PtrToCtx, A::Anything, A::Anything, A::Anything, A::Anything}, false, false, false, true},
    {11, "l4_csum_replace", R::Integer, {A::PtrToCtx, A::Anything, A::Anything, A::Anything, A::Anything}, false, false, false, true},
    {12, "tail_call", R::NoReturn, {A::PtrToCtx, A::ConstMapPtr, A::Anything}, false, false, false},
    {14, "get_current_pid_tgid", R::Integer, {}, false, false, false},
    {15, "get_current_uid_gid", R::Integer, {}, false, false, false},
    {16, "get_current_comm", R::Integer, {A::PtrToUninitMem, A::ConstSize}, false, false, false},
    {25, "perf_event_output", R::Integer, {A::PtrToCtx, A::ConstMapPtr, A::Anything, A::PtrToMem, A::ConstSizeOrZero}, true, false, false},
    {26, "skb_load_bytes", R::Integer, {A::PtrToCtx, A::Anything, A::PtrToUninitMem, A::ConstSize}, false, false, false},
    {28, "csum_diff", R::Integer, {A::PtrToMemOrNull, A::ConstSizeOrZero, A::PtrToMemOrNull, A::ConstSizeOrZero, A::Anything}, false, false, false},
    {38, "skb_change_tail", R::Integer, {A::PtrToCtx, A::Anything, A::Anything}, false, false, false, true},
    {42, "get_numa_node_id", R::Integer, {}, false, false, false},
    {44, "xdp_adjust_head", R::Integer, {A::PtrToCtx, A::Anything}, false, false, false, true},
    {45, "probe_read_str", R::Integer, {A::PtrToUninitMem, A::ConstSizeOrZero, A::Anything}, true, false, false},
    {54, "xdp_adjust_meta", R::Integer, {A::PtrToCtx, A::Anything}, false, false, false, true},
    {65, "xdp_adjust_tail", R::Integer, {A::PtrToCtx, A::Anything}, false, false, false, true},
    {87, "map_push_elem", R::Integer, {A::ConstMapPtr, A::PtrToMapValue, A::Anything}, false, false, false},
    {88, "map_pop_elem", R::Integer, {A::ConstMapPtr, A::PtrToUninitMapValue}, false, false, false},
    {89, "map_peek_elem", R::Integer, {A::ConstMapPtr, A::PtrToUninitMapValue}, false, false, false},
    {93, "spin_lock", R::Void, {A::PtrToSpinLock}, false, false, false},
    {94, "spin_unlock", R::Void, {A::PtrToSpinLock}, false, false, false},
    {112, "probe_read_user", R::Integer, {A::PtrToUninitMem, A::ConstSizeOrZero, A::Anything}, true, false, false},
    {113, "probe_read_kernel", R::Integer, {A::PtrToUninitMem, A::ConstSizeOrZero, A::Anything}, true, false, false},
    {114, "probe_read_user_str", R::Integer, {A::PtrToUninitMem, A::ConstSizeOrZero, A::Anything}, true, false, false},
    {115, "probe_read_kernel_str", R::Integer, {A::PtrToUninitMem, A::ConstSizeOrZero, A::Anything}, true, false, false},
    {118, "jiffies64", R::Integer, {}, false, false, false},
    {125, "ktime_get_boot_ns", R::Integer, {}, false, false, false},
    {130, "ringbuf_output", R::Integer, {A::ConstMapPtr, A::PtrToMem, A::ConstSizeOrZero, A::Anything}, false, false, false},
    {131, "ringbuf_reserve", R::PtrToAllocMemOrNull, {A::ConstMapPtr, A::ConstAllocSizeOrZero, A::Anything}, false, false, false},
    {132, "ringbuf_submit", R::Void, {A::PtrToAllocMem, A::Anything}, false, true, false},
    {133, "ringbuf_discard", R::Void, {A::PtrToAllocMem, A::Anything}, false, true, false},
    {134, "ringbuf_query", R::Integer, {A::ConstMapPtr, A::Anything}, false, false, false},
    {160, "ktime_get_coarse_ns", R::Integer, {}, false, false, false},
    {164, "for_each_map_elem", R::Integer, {A::ConstMapPtr, A::PtrToFunc, A::PtrToStackOrNull, A::Anything}, false, false, true},
    {165, "snprintf", R::Integer, {A::PtrToUninitMemOrNull, A::ConstSizeOrZero, A::PtrToConstStr, A::PtrToMemOrNull, A::ConstSizeOrZero}, false, false, false},
    {189, "xdp_load_bytes", R::Integer, {A::PtrToCtx, A::Anything, A::PtrToUninitMem, A::ConstSize}, false, false, false},
    {190, "xdp_store_bytes", R::Integer, {A::PtrToCtx, A::Anything, A::PtrToMem, A::ConstSize}, false, false, false},
    {181, "loop", R::Integer, {A::Anything, A::PtrToFunc, A::PtrToStackOrNull, A::Anything}, false, false, true},
    {182, "strncmp", R::Integer, {A::PtrToMem, A::ConstSize, A::PtrToConstStr}, false, false, false},
    {23, "redirect", R::Integer, {A::Anything, A::Anything}, false, false, false},
    {27, "get_stackid", R::Integer, {A::PtrToCtx, A::ConstMapPtr, A::Anything}, true, false, false},
    {33, "skb_under_cgroup", R::Integer, {A::PtrToCtx, A::ConstMapPtr, A::Anything}, false, false, false},
    {37, "current_task_under_cgroup", R::Integer, {A::ConstMapPtr, A::Anything}, false, false, false},
    {51, "redirect_map", R::Integer, {A::ConstMapPtr, A::Anything, A::Anything}, false, false, false},
};

// Prototypes of kernel helpers bpfvm does not implement (yet): the verifier checks calls against them
// so that programs using them can be verified offline; running such a program faults cleanly with
// kUnknownHelper at the call (the helper table has no entry for the number). Same sources as above.
constexpr HelperProto kVerifyOnlyProtos[] = {
    {13, "clone_redirect", R::Integer, {A::PtrToCtx, A::Anything, A::Anything}, false, false, false, true},
    {17, "get_cgroup_classid", R::Integer, {A::PtrToCtx}, false, false, false},
    {18, "skb_vlan_push", R::Integer, {A::PtrToCtx, A::Anything, A::Anything}, false, false, false, true},
    {19, "skb_vlan_pop", R::Integer, {A::PtrToCtx}, false, false, false, true},
    {20, "skb_get_tunnel_key", R::Integer, {A::PtrToCtx, A::PtrToUninitMem, A::ConstSize, A::Anything}, false, false, false},
    {21, "skb_set_tunnel_key", R::Integer, {A::PtrToCtx, A::PtrToMem, A::ConstSize, A::Anything}, false, false, false},
    {22, "perf_event_read", R::Integer, {A::ConstMapPtr, A::Anything}, true, false, false},
    {24, "get_route_realm", R::Integer, {A::PtrToCtx}, false, false, false},
    {29, "skb_get_tunnel_opt", R::Integer, {A::PtrToCtx, A::PtrToUninitMem, A::ConstSize}, false, false, false},
    {30, "skb_set_tunnel_opt", R::Integer, {A::PtrToCtx, A::PtrToMem, A::ConstSize}, false, false, false},
    {31, "skb_change_proto", R::Integer, {A::PtrToCtx, A::Anything, A::Anything}, false, false, false, true},
    {32, "skb_change_type", R::Integer, {A::PtrToCtx, A::Anything}, false, false, false},
    {34, "get_hash_recalc", R::Integer, {A::PtrToCtx}, false, false, false},
    {35, "get_current_task", R::Integer, {}, true, false, false},
    {36, "probe_write_user", R::Integer, {A::Anything, A::PtrToMem, A::ConstSize}, true, false, false},
    {39, "skb_pull_data", R::Integer, {A::PtrToCtx, A::Anything}, false, false, false, true},
    {40, "csum_update", R::Integer, {A::PtrToCtx, A::Anything}, false, false, false},
    {41, "set_hash_invalid", R::Integer, {A::PtrToCtx}, false, false, false},
    {43, "skb_change_head", R::Integer, {A::PtrToCtx, A::Anything, A::Anything}, false, false, false, true},
    {46, "get_socket_cookie", R::Integer, {A::PtrToCtx}, false, false, false},
    {47, "get_socket_uid", R::Integer, {A::PtrToCtx}, false, false, false},
    {48, "set_hash", R::Integer, {A::PtrToCtx, A::Anything}, false, false, false},
    {49, "setsockopt", R::Integer, {A::PtrToCtx, A::Anything, A::Anything, A::PtrToMem, A::ConstSize}, false, false, false},
    {50, "skb_adjust_room", R::Integer, {A::PtrToCtx, A::Anything, A::Anything, A::Anything}, false, false, false, true},
    {52, "sk_redirect_map", R::Integer, {A::PtrToCtx, A::ConstMapPtr, A::Anything, A::Anything}, false, false, false},
    {53, "sock_map_update", R::Integer, {A::PtrToCtx, A::ConstMapPtr, A::PtrToMapKey, A::Anything}, false, false, false},
    {55, "perf_event_read_value", R::Integer, {A::ConstMapPtr, A::Anything, A::PtrToUninitMem, A::ConstSize}, true, false, false},
    {56, "perf_prog_read_value", R::Integer, {A::PtrToCtx, A::PtrToUninitMem, A::ConstSize}, true, false, false},
    {57, "getsockopt", R::Integer, {A::PtrToCtx, A::Anything, A::Anything, A::PtrToUninitMem, A::ConstSize}, false, false, false},
    {58, "override_return", R::Integer, {A::PtrToCtx, A::Anything}, true, false, false},
    {59, "sock_ops_cb_flags_set", R::Integer, {A::PtrToCtx, A::Anything}, false, false, false},
    {60, "msg_redirect_map", R::Integer, {A::PtrToCtx, A::ConstMapPtr, A::Anything, A::Anything}, false, false, false},
    {61, "msg_apply_bytes", R::Integer, {A::PtrToCtx, A::Anything}, false, false, false},
    {62, "msg_cork_bytes", R::Integer, {A::PtrToCtx, A::Anything}, false, false, false},
    {63, "msg_pull_data", R::Integer, {A::PtrToCtx, A::Anything, A::Anything, A::Anything}, false, false, false, true},
    {64, "bind", R::Integer, {A::PtrToCtx, A::PtrToMem, A::ConstSize}, false, false, false},
    {67, "get_stack", R::Integer, {A::PtrToCtx, A::PtrToUninitMem, A::ConstSizeOrZero, A::Anything}, true, false, false},
    // The kernel's ARG_PTR_TO_MEM (read and written): initialized and writable is what we ask.
    {69, "fib_lookup", R::Integer, {A::PtrToCtx, A::PtrToMem, A::ConstSize, A::Anything}, false, false, false},
    {80, "get_current_cgroup_id", R::Integer, {}, false, false, false},
    {109, "send_signal", R::Integer, {A::Anything}, false, false, false},
};

// Bit sets of program types (kernel numbering) a helper is restricted to, as the kernel's
// *_func_proto functions per program type offer them.
constexpr uint64_t bit(ProgType t) { return uint64_t{1} << static_cast<uint32_t>(t); }
constexpr uint64_t kTc = bit(ProgType::SchedCls) | bit(ProgType::SchedAct);
constexpr uint64_t kXdp = bit(ProgType::Xdp);
constexpr uint64_t kSkb = kTc | bit(ProgType::SocketFilter) | bit(ProgType::CgroupSkb) | bit(ProgType::LwtIn) |
                          bit(ProgType::LwtOut) | bit(ProgType::LwtXmit) | bit(ProgType::LwtSeg6local) |
                          bit(ProgType::SkSkb);
constexpr uint64_t kTracing = bit(ProgType::Kprobe) | bit(ProgType::Tracepoint) | bit(ProgType::PerfEvent) |
                              bit(ProgType::RawTracepoint) | bit(ProgType::RawTracepointWritable) |
                              bit(ProgType::Tracing);
constexpr uint64_t kSockOps = bit(ProgType::SockOps);

struct Restriction {
  uint32_t id;
  uint64_t types;
  const char* which;  // for messages
};
constexpr Restriction kRestrictions[] = {
    {9, kTc | bit(ProgType::LwtXmit) | bit(ProgType::SkSkb), "tc, lwt_xmit and sk_skb"},  // skb_store_bytes
    {10, kTc | bit(ProgType::LwtXmit), "tc and lwt_xmit"},                                 // l3_csum_replace
    {11, kTc | bit(ProgType::LwtXmit), "tc and lwt_xmit"},                                 // l4_csum_replace
    {13, kTc, "tc"},
    {17, kTc | bit(ProgType::LwtIn) | bit(ProgType::LwtOut) | bit(ProgType::LwtXmit), "tc and lwt"},
    {18, kTc, "tc"},
    {19, kTc, "tc"},
    {20, kTc | bit(ProgType::LwtXmit), "tc and lwt_xmit"},
    {21, kTc | bit(ProgType::LwtXmit), "tc and lwt_xmit"},
    {22, kTracing, "tracing"},
    {23, kTc | kXdp | bit(ProgType::LwtXmit), "tc, xdp and lwt_xmit"},
    {24, kTc | bit(ProgType::LwtIn) | bit(ProgType::LwtOut) | bit(ProgType::LwtXmit), "tc and lwt"},
    {26, kSkb, "socket buffer"},  // skb_load_bytes
    {27, kTracing, "tracing"},
    {29, kTc | bit(ProgType::LwtXmit), "tc and lwt_xmit"},
    {30, kTc | bit(ProgType::LwtXmit), "tc and lwt_xmit"},
    {31, kTc, "tc"},
    {32, kTc, "tc"},
    {33, kTc, "tc"},
    {34, kTc | bit(ProgType::LwtIn) | bit(ProgType::LwtOut) | bit(ProgType::LwtXmit), "tc and lwt"},
    {35, kTracing, "tracing"},
    {36, kTracing, "tracing"},
    {37, kTracing, "tracing"},
    {38, kTc | bit(ProgType::SkSkb), "tc and sk_skb"},  // skb_change_tail
    {39, kTc | bit(ProgType::LwtXmit) | bit(ProgType::SkSkb), "tc, lwt_xmit and sk_skb"},
    {40, kTc, "tc"},
    {41, kTc | bit(ProgType::LwtXmit), "tc and lwt_xmit"},
    {43, kTc | bit(ProgType::SkSkb), "tc and sk_skb"},
    {44, kXdp, "xdp"},  // xdp_adjust_head
    {46, kSkb | kSockOps | bit(ProgType::CgroupSock) | bit(ProgType::CgroupSockAddr),
     "socket buffer, sock_ops and cgroup socket"},
    {47, kSkb, "socket buffer"},
    {48, kTc, "tc"},
    {49, kSockOps | bit(ProgType::CgroupSockAddr) | bit(ProgType::CgroupSockopt),
     "sock_ops, cgroup sock_addr and sockopt"},
    {50, kTc | bit(ProgType::SkSkb), "tc and sk_skb"},
    {51, kXdp, "xdp"},  // redirect_map
    {52, bit(ProgType::SkSkb), "sk_skb"},
    {53, kSockOps, "sock_ops"},
    {54, kXdp, "xdp"},  // xdp_adjust_meta
    {55, kTracing, "tracing"},
    {56, bit(ProgType::PerfEvent), "perf_event"},
    {57, kSockOps | bit(ProgType::CgroupSockAddr) | bit(ProgType::CgroupSockopt),
     "sock_ops, cgroup sock_addr and sockopt"},
    {58, bit(ProgType::Kprobe), "kprobe"},
    {59, kSockOps, "sock_ops"},
    {60, bit(ProgType::SkMsg), "sk_msg"},
    {61, bit(ProgType::SkMsg), "sk_msg"},
    {62, bit(ProgType::SkMsg), "sk_msg"},
    {63, bit(ProgType::SkMsg), "sk_msg"},
    {64, bit(ProgType::CgroupSockAddr), "cgroup sock_addr"},
    {65, kXdp, "xdp"},  // xdp_adjust_tail
    {67, kTracing, "tracing"},
    {69, kTc | kXdp, "tc and xdp"},
    {109, kTracing, "tracing"},
    {189, kXdp, "xdp"},  // xdp_load_bytes
    {190, kXdp, "xdp"},  // xdp_store_bytes
};

struct Name {
  uint32_t id;
  std::string_view name;
};
constexpr Name kNames[] = {
#define BPF_HELPER_NAME(id, name) {id, #name},
#include "helpers/helper_names.def"
#undef BPF_HELPER_NAME
};

}  // namespace

std::span<const HelperProto> all_protos() { return kProtos; }

std::span<const HelperProto> verify_only_protos() { return kVerifyOnlyProtos; }

const HelperProto* find_proto(uint32_t id) {
  for (std::span<const HelperProto> t : {all_protos(), verify_only_protos()})
    for (const HelperProto& p : t)
      if (p.id == id) return &p;
  return nullptr;
}

const HelperProto* find_proto(std::string_view name) {
  if (name.substr(0, 4) == "bpf_") name.remove_prefix(4);
  for (std::span<const HelperProto> t : {all_protos(), verify_only_protos()})
    for (const HelperProto& p : t)
      if (p.name == name) return &p;
  return nullptr;
}

const char* helper_restricted_for(uint32_t id, ProgType type) {
  if (type == ProgType::Raw) return nullptr;  // bpfvm's own type: the embedder's helper table decides
  for (const Restriction& r : kRestrictions) {
    if (r.id != id) continue;
    uint32_t t = static_cast<uint32_t>(type);
    return t < 64 && (r.types >> t & 1) ? nullptr : r.which;
  }
  return nullptr;
}

std::string_view kernel_helper_name(uint32_t id) {
  for (const Name& n : kNames)
    if (n.id == id) return n.name;
  return {};
}

uint32_t kernel_helper_id(std::string_view name) {
  if (name.substr(0, 4) == "bpf_") name.remove_prefix(4);
  for (const Name& n : kNames)
    if (n.name == name) return n.id;
  return 0;
}

}  // namespace bpfvm
