// Helpers about kernel objects a user-space VM has no real instance of (see kernel_helpers.h):
// redirect, redirect_map (net/core/filter.c), skb_under_cgroup, current_task_under_cgroup
// (net/core/filter.c, kernel/trace/bpf_trace.c) and get_stackid (kernel/bpf/stackmap.c). They
// return what the kernel's return in BPF_PROG_TEST_RUN, where no frame leaves the test either.
#include <cerrno>

#include <fmt/format.h>

#include "helpers/internal.h"
#include "helpers/kernel_helpers.h"
#include "maps/cgroup_stack_maps.h"
#include "maps/map.h"
#include "maps/redirect_maps.h"
#include "vm/elf/prog_type.h"

namespace bpfvm {
namespace {

using namespace helpers_internal;

constexpr uint64_t kXdpAborted = 0, kXdpRedirect = 4;
constexpr uint64_t kXdpActionMask = 3;  // XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX
constexpr uint64_t kTcActShot = 2, kTcActRedirect = 7;
constexpr uint64_t kBpfFIngress = 1;
constexpr uint64_t kBpfFBroadcast = 1 << 3, kBpfFExcludeIngress = 1 << 4;

// r1 of a helper that takes a map of one kind: a map of the run, of a type `ok` accepts.
template <class Ok>
Map* typed_map_arg(HelperCall& call, uint64_t addr, Ok ok, const char* what) {
  Map* m = map_arg(call, addr);
  if (m != nullptr && !ok(m->type())) {
    call.fail(fmt::format("map '{}' ({}) is not {}", m->name(), map_type_name(m->type()), what));
    return nullptr;
  }
  return m;
}

// bpf_redirect: XDP programs get bpf_xdp_redirect (any flag aborts), the others tc's bpf_redirect
// (flags other than BPF_F_INGRESS drop the packet). The device is not looked up at the call.
uint64_t redirect(HelperCall& call, uint64_t ifindex, uint64_t flags, uint64_t, uint64_t, uint64_t) {
  HelperContext* ctx = ctx_of(call);
  if (ctx == nullptr) {
    call.fail("no helper context: bpf_redirect needs the program type");
    return 0;
  }
  if (ctx->prog_type == static_cast<uint32_t>(ProgType::Xdp)) return flags ? kXdpAborted : kXdpRedirect;
  return flags & ~kBpfFIngress ? kTcActShot : kTcActRedirect;
}

// bpf_redirect_map (__bpf_xdp_redirect_map): unknown flags abort; XDP_REDIRECT when the entry
// exists (or, for a devmap, with BPF_F_BROADCAST), else the action in the flags' low bits.
uint64_t redirect_map(HelperCall& call, uint64_t map, uint64_t key, uint64_t flags, uint64_t, uint64_t) {
  Map* m = typed_map_arg(
      call, map,
      [](MapType t) {
        return t == MapType::Devmap || t == MapType::DevmapHash || t == MapType::Cpumap ||
               t == MapType::Xskmap;
      },
      "a devmap, devmap_hash, cpumap or xskmap");
  if (m == nullptr) return 0;
  const bool devmap = m->type() == MapType::Devmap || m->type() == MapType::DevmapHash;
  const uint64_t allowed = kXdpActionMask | (devmap ? kBpfFBroadcast | kBpfFExcludeIngress : 0);
  if (flags & ~allowed) return kXdpAborted;
  if (redirect_target_exists(*m, static_cast<uint32_t>(key)) || (flags & kBpfFBroadcast)) return kXdpRedirect;
  return flags & kXdpActionMask;
}

bool is_cgroup_array(MapType t) {
  return t == MapType::CgroupArray;
}

// bpf_current_task_under_cgroup and bpf_skb_under_cgroup: the test-run socket of an skb belongs to
// the task that runs the test, so both ask about the calling thread.
uint64_t current_task_under_cgroup(HelperCall& call,
                                   uint64_t map,
                                   uint64_t index,
                                   uint64_t,
                                   uint64_t,
                                   uint64_t) {
  Map* m = typed_map_arg(call, map, is_cgroup_array, "a cgroup_array");
  if (m == nullptr) return 0;
  return errno_ret(static_cast<CgroupArrayMap*>(m)->current_task_under(static_cast<uint32_t>(index)));
}

uint64_t skb_under_cgroup(HelperCall& call, uint64_t, uint64_t map, uint64_t index, uint64_t, uint64_t) {
  return current_task_under_cgroup(call, map, index, 0, 0, 0);
}

uint64_t get_stackid(HelperCall& call, uint64_t, uint64_t map, uint64_t flags, uint64_t, uint64_t) {
  Map* m = typed_map_arg(
      call, map, [](MapType t) { return t == MapType::StackTrace; }, "a stack_trace map");
  if (m == nullptr) return 0;
  return errno_ret(StackTraceMap::get_stackid(flags));
}

}  // namespace

namespace detail {

void register_kernel_object_helpers(HelperTable& table) {
  (void)add_kernel_helper(table, "redirect", redirect);
  (void)add_kernel_helper(table, "redirect_map", redirect_map);
  (void)add_kernel_helper(table, "skb_under_cgroup", skb_under_cgroup);
  (void)add_kernel_helper(table, "current_task_under_cgroup", current_task_under_cgroup);
  (void)add_kernel_helper(table, "get_stackid", get_stackid);
}

}  // namespace detail
}  // namespace bpfvm
