// Internal to jit/: what the code generator (jit/x86/) and the run-time side (jit/run.cpp) share.
// The run control block that generated code addresses through r12, the cold fault sites, the
// compiled program's state, and the run-time entry points that generated code calls.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "jit/code_memory.h"
#include "jit/jit.h"
#include "vm/legacy_packet.h"
#include "vm/sealed.h"

namespace bpfvm::jit::internal {

constexpr uint64_t kStackBytes = static_cast<uint64_t>(kMaxCallDepth) * kStackSize;

// Flags in RunCtl::flags, tested after every helper call.
constexpr uint8_t kFlagError = 1;
constexpr uint8_t kFlagTail = 2;
constexpr uint32_t kCallImm = 0xff;  // RunCtl::call_reg of `call imm`
constexpr size_t kRunSlots = 32;     // RunCtl::consts

struct JitRun;

// The part of a run's state that generated code reads and writes (through r12).
struct RunCtl {
  uint64_t remaining;    // instruction budget left
  uint64_t saved_rsp;    // native rsp of the innermost activation (see the entry thunk)
  uint64_t depth_limit;  // a local call faults when r10 <= this
  uint64_t stack_top;
  uint64_t lim[9];             // lim[n] = stack_top + 512 - n: live-stack check of an n-byte access
  const LegacyPacket* legacy;  // what LD_ABS/LD_IND read (legacy_packet_load's first argument)
  // Checked mode, inline check of the run's first two regions: an n-byte access at a is allowed
  // when a - reg_base[i] < reg_lim[i][write][n] (0 when the region is absent, too small or, for
  // writes, read-only: nothing passes).
  uint64_t reg_base[2];
  uint64_t reg_lim[2][2][9];
  uint64_t fault_addr;  // address of the access at a fault site
  uint64_t cur_r10;     // r10 at the helper call or fault site
  uint64_t call_id;     // helper number or callx value
  uint64_t saved_r1;    // r1 at the helper call (the context of a tail-called program)
  const void* tail_entry;
  uint32_t call_pc;
  uint32_t call_reg;
  uint8_t flags;
  JitRun* run;
  uint64_t consts[kRunSlots];  // blinded immediates restored once per run (jit/x86/hoist.cpp)
};
static_assert(std::is_standard_layout_v<RunCtl>);

enum class SiteKind : uint8_t { Oob, Budget, CallDepth, Kfunc };

// A cold fault path: what the fault handler needs to build the interpreter's error.
struct Site {
  SiteKind kind;
  uint8_t size = 0;
  bool write = false;
  uint8_t base_reg = 0;
  int16_t off = 0;
  uint32_t insn = 0;  // instruction index (Budget: the block's first instruction)
  uint32_t len = 0;   // Budget: the block length
  int32_t imm = 0;    // Kfunc: the BTF id
};

// The entry thunk: uint64_t entry(RunCtl*, const uint64_t* args, uint64_t r10, const void* target).
using EntryFn = uint64_t (*)(RunCtl* ctl, const uint64_t* args, uint64_t r10, const void* target);

// Tests only: while set, compile() generates code as for a host without BMI2 (mul instead of mulx,
// shifts by cl instead of shlx/shrx/sarx), so that those forms run on hosts that have it.
extern std::atomic<bool> g_assume_no_bmi2;

}  // namespace bpfvm::jit::internal

namespace bpfvm::jit {

struct JitProgram::Impl {
  JitOptions opts;
  const HelperTable* helpers = nullptr;
  internal::CodeMemory code;
  internal::EntryFn entry = nullptr;
  internal::EntryFn callback_entry = nullptr;  // the thunk's entry for callbacks (programs with helper calls)
  const void* main_body = nullptr;
  bool needs_ctl = true;     // the code reads RunCtl (calls, faults, packet loads, checked or metered code)
  bool uses_packet = false;  // LD_ABS / LD_IND
  uint32_t planned_lookups = 0;  // map lookups done without the helper call (vm/map_lookup.h)
  uint32_t run_slots = 0;        // blinded immediates restored once per run (jit/x86/hoist.cpp), for tests
  // What the fusions did (jit/x86/fuse.cpp), for tests.
  struct Fusions {
    uint32_t indexed_loads = 0, commuted = 0, sunk = 0, dropped = 0, masks = 0, shifts = 0, byte_pairs = 0;
  } fusions;
  // Run-time tables, read-only once compile() returns (vm/sealed.h): a stray write cannot redirect
  // a callx (sub_addr) or forge a function token (is_func).
  SealedBlock tables;
  std::span<const uint32_t> pcs;       // slot index of every instruction
  std::span<const uint8_t> is_func;    // func tokens: &is_func[k] is the token of instruction k
  std::span<const uint32_t> subprogs;  // subprogram entries and their native addresses, sorted
  std::span<const void* const> sub_addr;
  std::vector<internal::Site> sites;
  std::string disasm;

  uint64_t func_base() const { return reinterpret_cast<uint64_t>(is_func.data()); }
  bool is_function(uint64_t fn) const {
    uint64_t k = fn - func_base();
    return k < is_func.size() && is_func[k];
  }
  const void* native(uint64_t fn) const {
    uint32_t k = static_cast<uint32_t>(fn - func_base());
    auto it = std::lower_bound(subprogs.begin(), subprogs.end(), k);
    return sub_addr[static_cast<size_t>(it - subprogs.begin())];
  }
};

}  // namespace bpfvm::jit

namespace bpfvm::jit::internal {

// Run-time entry points called from generated code (jit/run.cpp).

// Every helper call (call imm, callx of a helper number): r1-r5 in the argument registers.
uint64_t rt_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, RunCtl* ctl);
// callx: the native entry of a function token; 0 for a helper number (the code then calls
// rt_helper with call_id) or for a bad target (the error is set).
const void* rt_callx(RunCtl* ctl);
// Checked mode, slow path of a load or store outside the live stack. `code` = size | write << 8.
bool rt_mem_check(RunCtl* ctl, uint64_t addr, uint32_t code);
// A fault site was reached: record the interpreter's error.
void rt_fault(RunCtl* ctl, uint32_t site_index);

}  // namespace bpfvm::jit::internal
