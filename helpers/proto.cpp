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

const HelperProto* find_proto(uint32_t id) {
  for (const HelperProto& p : kProtos)
    if (p.id == id) return &p;
  return nullptr;
}

const HelperProto* find_proto(std::string_view name) {
  if (name.substr(0, 4) == "bpf_") name.remove_prefix(4);
  for (const HelperProto& p : kProtos)
    if (p.name == name) return &p;
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
