// The kernel helpers bpfvm emulates, with the kernel's numbers, names, prototypes and semantics
// (return values are what the kernel returns: 0 / negative errno, pointers or 0).
//
// Per-run state comes from HelperCall::context(), a helpers/context.h HelperContext:
//  - map helpers take r1 = a Map* (the runtime writes host map addresses into the program's lddw);
//    the map must belong to HelperContext::maps, else the run ends with kHelperFault. Every map
//    operation runs under ScopedCpu(HelperContext::cpu), so per-CPU maps and BPF_F_CURRENT_CPU see
//    the run's simulated CPU without the runtime having to set it (it may, too).
//  - packet helpers (xdp_adjust_*, skb_*) work on HelperContext::packet and update its ctx fields.
//    They only move offsets inside PacketState::buf: the runtime must make the memory a program may
//    reach after an adjustment accessible (e.g. a packet region or resolver covering the buffer).
//  - without a context (or without the maps / packet a helper needs) the run ends with
//    kHelperFault, never a crash.
// Pointer arguments are checked with HelperCall::translate (the fixed regions, live stack and the
// RegionResolver, i.e. map values and ringbuf records). A pointer the kernel verifier would have
// rejected ends the run with kHelperFault; probe_read* of unreadable memory is not a fault: it
// returns -EFAULT and zero-fills the destination, as in the kernel.
//
// Notable choices (differences from the kernel):
//  - tail_call: the helper returns -ENOENT when the tail call does not happen (the kernel leaves r0
//    unspecified). Counting as the kernel: an index out of range does not count towards the 33
//    tail calls, an empty slot does. From a subprogram or a callback it ends the run with
//    kUnsupported (HelperCall::request_tail_call).
//  - jiffies64 is ktime_ns / 4'000'000 (HZ = 250, Debian's kernel configuration).
//  - spin_lock spins (with yields) on the u32 of struct bpf_spin_lock with __atomic builtins; a lock
//    still held after kSpinLockTimeoutMs (a deadlock: the kernel verifier forbids taking it twice)
//    ends the run with kHelperFault instead of hanging.
//  - get_current_pid_tgid/uid_gid/comm report the host process, or fixed values
//    (kDeterministicTgid, ...) when HelperContext::deterministic.
//  - redirect and redirect_map return the verdict the kernel's return (XDP_REDIRECT or
//    TC_ACT_REDIRECT, XDP_ABORTED / TC_ACT_SHOT for bad flags, the flags' action when a map has no
//    entry); nothing is sent, as in BPF_PROG_TEST_RUN. current_task_under_cgroup and
//    skb_under_cgroup answer for the calling thread's cgroup v2 (the test-run socket of an skb is
//    the caller's), in deterministic mode too. get_stackid: bpfvm has no stack to record, so it
//    returns -EFAULT (-EINVAL for unknown flags), as the kernel when it cannot fetch one.
//  - for_each_map_elem (array, percpu_array, hash, percpu_hash, lru_hash, lru_percpu_hash; other
//    types -EINVAL): hash keys are snapshotted first (so deleting from the callback is safe) and the
//    callback gets a read-only copy of the key; elements deleted meanwhile are skipped.
#pragma once

#include <cstdint>
#include <string_view>

#include "vm/helper_table.h"
#include "vm/interp.h"
#include "vm/result.h"

namespace bpfvm {

// Registers every helper bpfvm implements (the core ones of core_helpers.h included), each with
// its prototype (helpers/proto.h), and installs kernel_helper_name as the table's namer, so that
// calling an unimplemented kernel helper fails with "helper 9 (bpf_skb_store_bytes) is not
// implemented by bpfvm".
void register_kernel_helpers(HelperTable& table);

// Whether `e` is bpfvm's own bpf_map_lookup_elem (not an embedder's replacement): only then may
// compiled code do the lookup without the call (vm/map_lookup.h).
bool is_kernel_map_lookup(const HelperEntry* e);

// Registers an embedder's helper under a kernel helper name ("bpf_" prefix optional), with that
// helper's number and, unless `proto` is given, bpfvm's prototype for it (nullptr if bpfvm has
// none). kBadInput when the name is not a kernel helper.
Status add_kernel_helper(HelperTable& table,
                         std::string_view name,
                         HelperFn fn,
                         void* user = nullptr,
                         const HelperProto* proto = nullptr);

// Values reported in deterministic mode.
constexpr uint32_t kDeterministicTgid = 4242;
constexpr uint32_t kDeterministicPid = 4242;
constexpr uint32_t kDeterministicUid = 1000;
constexpr uint32_t kDeterministicGid = 1000;
constexpr std::string_view kDeterministicComm = "bpfvm";

constexpr uint32_t kSpinLockTimeoutMs = 2000;
// bpf_loop's limit (BPF_MAX_LOOPS).
constexpr uint64_t kBpfMaxLoops = 1ULL << 23;

// csum_partial as the kernel computes it on x86-64 for an 8-byte aligned buffer: one's complement
// sum of the little-endian 64-bit words (a trailing 4-byte word zero-extended) and `seed`, folded
// to 32 bits with end-around carry. bpf_csum_diff returns this over ~from and to.
uint32_t kernel_csum_partial(const uint8_t* data, size_t len, uint32_t seed);

namespace detail {
void register_packet_helpers(HelperTable& table);
void register_kernel_object_helpers(HelperTable& table);  // kernel_object_helpers.cpp
}  // namespace detail

}  // namespace bpfvm
