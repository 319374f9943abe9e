// The interpreter: threaded code with GCC computed goto.
//
// Interpreter::create turns the typed instructions into an array of compact Slots, one per
// instruction, each holding the address of its handler label, its operands and, for jumps and
// local calls, a pointer to the target slot; the array becomes read-only before the first run
// (vm/sealed.h). The dispatch loop (exec<kChecked>) keeps the register
// file in a local array and jumps from handler to handler without a central switch. It is one
// template: the unchecked instantiation has no bounds checks and no budget counting.
//
// Choices where the ISA leaves freedom (the JIT must make the same ones):
//  - Helper calls (call imm, callx to a helper, and LD_ABS/LD_IND, which the kernel treats as calls)
//    clobber r1-r5: the interpreter sets them to 0 after the call. Local calls leave r1-r5 as the
//    callee left them (the register file is shared), and restore r6-r9 and r10.
//  - lddw with the func pseudo source (src 4) yields an opaque token (a host address inside the
//    interpreter) that callx recognises as that subprogram; every other lddw yields imm64 as is (a
//    loader has rewritten map references into host addresses before the program runs).
//  - callx: first a function token, then a helper number present in the helper table; anything
//    else faults with kBadCallTarget.
//  - LD_ABS/LD_IND read big-endian through vm/legacy_packet.h (the kernel's sk_buff view: offsets
//    from the data, SKF_NET_OFF and SKF_LL_OFF; without a RunInput::legacy_packet, the packet
//    region from its start). Out of bounds, the kernel ends the program with r0 = 0; so does bpfvm
//    (in both modes: it is not a fault).
//  - The call depth (8 frames, the kernel's MAX_CALL_FRAMES) is enforced in both modes: the frame
//    array is host memory, and a call costs more than the compare.
//  - The stack (8 frames of 512 bytes) is zeroed at the start of every run, so that nothing leaks
//    from earlier runs or from the host and results are deterministic.
#include "vm/interp.h"

#include "vm/sealed.h"

#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "vm/alu.h"

namespace bpfvm {
namespace {

constexpr uint64_t kStackBytes = static_cast<uint64_t>(kMaxCallDepth) * kStackSize;

// Handlers past the opcode table's: instruction pairs fused at pre-decode.
constexpr size_t kFusedMovAdd64Imm = kNumOps, kFusedMovAdd64Reg = kNumOps + 1,
                 kFusedMovAdd32Imm = kNumOps + 2, kFusedMovAdd32Reg = kNumOps + 3, kNumFused = 4;

// The fused handler of instructions k, k + 1 (`mov dst, src` and an add of dst of the same width
// that no jump reaches), or 0.
size_t fused_handler(const std::vector<Insn>& insns, const std::vector<uint8_t>& is_target, size_t k) {
  if (k + 1 >= insns.size() || is_target[k + 1]) return 0;
  const Insn& mov = insns[k];
  const Insn& add = insns[k + 1];
  if (add.dst != mov.dst) return 0;
  if (mov.op == Op::Mov64Reg && add.op == Op::Add64Imm) return kFusedMovAdd64Imm;
  if (mov.op == Op::Mov64Reg && add.op == Op::Add64Reg) return kFusedMovAdd64Reg;
  if (mov.op == Op::Mov32Reg && add.op == Op::Add32Imm) return kFusedMovAdd32Imm;
  if (mov.op == Op::Mov32Reg && add.op == Op::Add32Reg) return kFusedMovAdd32Reg;
  return 0;
}

// One pre-decoded instruction (24 bytes).
struct Slot {
  const void* handler;
  uint8_t dst;
  uint8_t src;
  int16_t off;
  int32_t imm;
  union {
    uint64_t imm64;      // lddw
    const Slot* target;  // jumps, local calls
  };
};
static_assert(sizeof(Slot) == 24);

// [a, a + n) lies inside [base, base + size).
inline bool inside(uint64_t a, uint64_t n, uint64_t base, uint64_t size) {
  return a >= base && n <= size && a - base <= size - n;
}

}  // namespace

struct Interpreter::Impl {
  // In `mem`, read-only after create() (vm/sealed.h):
  std::span<const Slot> code[2];     // [0]: unchecked handlers, [1]: checked handlers
  std::span<const uint32_t> pcs;     // slot index of each instruction, for error messages
  std::span<const uint8_t> is_func;  // per instruction: a subprogram entry; &is_func[k] is its token
  SealedBlock mem;
  const HelperTable* helpers = nullptr;

  uint64_t func_base() const { return reinterpret_cast<uint64_t>(is_func.data()); }
};

namespace {

struct Frame {
  const Slot* ret;
  uint64_t r6, r7, r8, r9;
};

// Where an activation of the dispatch loop starts: the main program (depth 0), or a callback run
// by HelperCall::call_function on a new frame (depth > 0; its exit at that depth ends the
// activation).
struct Entry {
  const Slot* ip;
  uint64_t args[5];
  uint64_t r10;
  int depth;
};

}  // namespace

namespace detail {

// Everything one run needs besides the registers. Shared by the nested activations of callbacks.
struct ExecState final : EngineHooks {
  bool is_function(uint64_t fn) const override {
    uint64_t k = fn - impl->func_base();
    return k < impl->is_func.size() && impl->is_func[k];
  }
  Result<uint64_t> call_function(uint32_t pc,
                                 uint64_t fn,
                                 const uint64_t (&args)[5],
                                 std::span<const MemRegion> extra) override;
  bool request_tail_call(uint32_t pc, std::optional<uint32_t> prog_id) override;

  using ExecFn = uint64_t (*)(ExecState& st, const Entry* entry, const void* const** labels_out);

  const Interpreter::Impl* impl = nullptr;  // changes on tail calls
  const Slot* code = nullptr;
  std::span<const MemRegion> regions;
  const RegionResolver* resolver = nullptr;
  const TailCallTargets* tail_calls = nullptr;
  void* context = nullptr;
  Environment* env = nullptr;
  ExecFn exec = nullptr;  // exec<kChecked> of this run
  bool checked = false;
  uint64_t stack_top = 0;   // r10 of the main frame
  LegacyPacketView legacy;  // what LD_ABS/LD_IND read
  uint64_t budget = 0;
  uint64_t remaining = 0;  // budget left; synchronised around helper calls (checked mode)
  uint32_t tail_call_count = 0;
  const Interpreter::Impl* pending_tail = nullptr;  // set by request_tail_call
  // The helper call in progress: depth and r10 of the calling frame.
  int cur_depth = 0;
  uint64_t cur_r10 = 0;
  // The last span the resolver vouched for, [lo, hi), for reads [0] and writes [1].
  mutable uint64_t resolved_lo[2] = {0, 0}, resolved_hi[2] = {0, 0};
  std::optional<Error> error;

  uint32_t pc_of(const Slot* ip) const { return impl->pcs[static_cast<size_t>(ip - code)]; }
};

}  // namespace detail

namespace {

using RunState = detail::ExecState;

// Asks the resolver, remembering the span it vouched for (valid for the run: see RegionResolver).
[[gnu::cold, gnu::noinline]] bool resolver_ok(const RunState& st, uint64_t a, uint64_t n, bool write) {
  if (st.resolver == nullptr) return false;
  const int w = write ? 1 : 0;
  if (inside(a, n, st.resolved_lo[w], st.resolved_hi[w] - st.resolved_lo[w])) return true;
  if (!write && inside(a, n, st.resolved_lo[1], st.resolved_hi[1] - st.resolved_lo[1])) return true;
  if (!st.resolver->contains(a, n, write, nullptr)) return false;
  uint64_t span = st.resolver->span_from(a, write);
  if (span >= n && a + span >= a) {
    st.resolved_lo[w] = a;
    st.resolved_hi[w] = a + span;
  }
  return true;
}

inline bool mem_ok(const RunState& st, uint64_t r10, uint64_t a, uint64_t n, bool write) {
  if (inside(a, n, r10 - kStackSize, st.stack_top - (r10 - kStackSize))) return true;
  for (const MemRegion& m : st.regions)
    if (inside(a, n, m.base, m.size) && (!write || m.writable)) return true;
  return resolver_ok(st, a, n, write);
}

[[gnu::cold, gnu::noinline]] void fault(RunState& st, ErrorCode code, uint32_t pc, std::string msg) {
  st.error = make_error(code, pc, std::move(msg));
}

[[gnu::cold, gnu::noinline]] void fault_oob(RunState& st,
                                            const Slot* ip,
                                            uint64_t r10,
                                            uint64_t addr,
                                            uint64_t size,
                                            bool write,
                                            uint8_t base_reg) {
  fault(st, ErrorCode::kOutOfBounds, st.pc_of(ip),
        detail::oob_message(st.regions, st.resolver, addr, size, write, base_reg, ip->off, r10 - kStackSize,
                            st.stack_top));
}

// noinline/noclone: label addresses (&&label) are only meaningful in the one copy of the function
// that took them; an inlined or cloned copy would have its own labels (GCC manual, "Labels as Values").
[[gnu::cold, gnu::noinline]] void unknown_helper(RunState& st, const Slot* ip, uint64_t id) {
  fault(st, ErrorCode::kUnknownHelper, st.pc_of(ip), detail::unknown_helper_message(st.impl->helpers, id));
}

template <bool kChecked>
[[gnu::noinline, gnu::noclone]] uint64_t exec(RunState& st,
                                              const Entry* entry,
                                              const void* const** labels_out) {
  // One label per row of the opcode table: a row without a handler does not compile.
  static const void* const kLabels[] = {
#define BPF_OP(name, opcode, sel, selval, form, mnemonic, isa) &&op_##name,
#include "vm/opcodes.def"
#undef BPF_OP
      // Pairs fused at pre-decode (unchecked code only, kFused* below).
      &&fused_MovAdd64Imm,
      &&fused_MovAdd64Reg,
      &&fused_MovAdd32Imm,
      &&fused_MovAdd32Reg,
  };
  static_assert(std::size(kLabels) == kNumOps + kNumFused);
  if (labels_out != nullptr) {
    *labels_out = kLabels;
    return 0;
  }

  uint64_t r[kNumRegs] = {
      0, entry->args[0], entry->args[1], entry->args[2], entry->args[3], entry->args[4], 0, 0, 0,
      0, entry->r10};
  Frame frames[kMaxCallDepth];
  const int base_depth = entry->depth;  // 0 for the main program, > 0 for a callback
  int depth = base_depth;               // frames in use (this activation's and its callers')
  uint64_t remaining = st.remaining;
  const Slot* ip = entry->ip;
  const Slot* call_target = nullptr;
  uint64_t helper_id = 0;
  const HelperTable* helpers = st.impl->helpers;

#define DST r[ip->dst]
#define SRC r[ip->src]
#define IMM static_cast<uint64_t>(static_cast<int64_t>(ip->imm))
#define DISPATCH()                                          \
  do {                                                      \
    if constexpr (kChecked) {                               \
      if (__builtin_expect(remaining == 0, 0)) goto budget; \
      --remaining;                                          \
    }                                                       \
    goto * ip->handler;                                     \
  } while (0)
#define NEXT()  \
  do {          \
    ++ip;       \
    DISPATCH(); \
  } while (0)
#define JUMP_IF(c)     \
  do {                 \
    if (c) {           \
      ip = ip->target; \
      DISPATCH();      \
    }                  \
    NEXT();            \
  } while (0)
#define CHECK_MEM(addr, size, write, base_reg)                                 \
  do {                                                                         \
    if constexpr (kChecked) {                                                  \
      if (__builtin_expect(!mem_ok(st, r[kFrameReg], addr, size, write), 0)) { \
        fault_oob(st, ip, r[kFrameReg], addr, size, write, base_reg);          \
        goto out;                                                              \
      }                                                                        \
    }                                                                          \
  } while (0)
#define PTR(T, addr) reinterpret_cast<T*>(static_cast<uintptr_t>(addr))

  DISPATCH();

  // ALU (RFC 9669 section 4.1; the semantics live in vm/alu.h).
#define ALU(Name, f64, f32)                    \
  op_##Name##64Imm : DST = alu::f64(DST, IMM); \
  NEXT();                                      \
  op_##Name##64Reg : DST = alu::f64(DST, SRC); \
  NEXT();                                      \
  op_##Name##32Imm : DST = alu::f32(DST, IMM); \
  NEXT();                                      \
  op_##Name##32Reg : DST = alu::f32(DST, SRC); \
  NEXT();
  ALU(Add, add64, add32)
  ALU(Sub, sub64, sub32)
  ALU(Mul, mul64, mul32)
  ALU(Div, div64, div32)
  ALU(Sdiv, sdiv64, sdiv32)
  ALU(Or, or64, or32)
  ALU(And, and64, and32)
  ALU(Lsh, lsh64, lsh32)
  ALU(Rsh, rsh64, rsh32)
  ALU(Mod, mod64, mod32)
  ALU(Smod, smod64, smod32)
  ALU(Xor, xor64, xor32)
  ALU(Mov, mov64, mov32)
  ALU(Arsh, arsh64, arsh32)
#undef ALU
  // `mov dst, src` + `add dst, imm|reg` (clang's three-operand add), one dispatch: the add's
  // immediate in imm, its register (src when it named dst) in off.
fused_MovAdd64Imm:
  DST = alu::add64(SRC, IMM);
  ip += 2;
  DISPATCH();
fused_MovAdd64Reg:
  DST = alu::add64(SRC, r[ip->off]);
  ip += 2;
  DISPATCH();
fused_MovAdd32Imm:
  DST = alu::add32(SRC, IMM);
  ip += 2;
  DISPATCH();
fused_MovAdd32Reg:
  DST = alu::add32(SRC, r[ip->off]);
  ip += 2;
  DISPATCH();
op_Neg64:
  DST = alu::neg64(DST);
  NEXT();
op_Neg32:
  DST = alu::neg32(DST);
  NEXT();
op_Movsx64_8:
  DST = alu::movsx64(SRC, 8);
  NEXT();
op_Movsx64_16:
  DST = alu::movsx64(SRC, 16);
  NEXT();
op_Movsx64_32:
  DST = alu::movsx64(SRC, 32);
  NEXT();
op_Movsx32_8:
  DST = alu::movsx32(SRC, 8);
  NEXT();
op_Movsx32_16:
  DST = alu::movsx32(SRC, 16);
  NEXT();
  // Byte swaps (RFC 9669 section 4.2).
op_Le16:
  DST = alu::le(DST, 16);
  NEXT();
op_Le32:
  DST = alu::le(DST, 32);
  NEXT();
op_Le64:
  NEXT();
op_Be16:
op_Bswap16:
  DST = alu::bswap(DST, 16);
  NEXT();
op_Be32:
op_Bswap32:
  DST = alu::bswap(DST, 32);
  NEXT();
op_Be64:
op_Bswap64:
  DST = alu::bswap(DST, 64);
  NEXT();

  // Jumps (RFC 9669 section 4.3). Targets were resolved to slot pointers at create time.
op_Ja:
op_Ja32:
  ip = ip->target;
  DISPATCH();
#define JMP(Name, cond)                                     \
  op_J##Name##64Imm : JUMP_IF(alu::cond64(cond, DST, IMM)); \
  op_J##Name##64Reg : JUMP_IF(alu::cond64(cond, DST, SRC)); \
  op_J##Name##32Imm : JUMP_IF(alu::cond32(cond, DST, IMM)); \
  op_J##Name##32Reg : JUMP_IF(alu::cond32(cond, DST, SRC));
  JMP(eq, Cond::Eq)
  JMP(gt, Cond::Gt)
  JMP(ge, Cond::Ge)
  JMP(set, Cond::Set)
  JMP(ne, Cond::Ne)
  JMP(sgt, Cond::Sgt)
  JMP(sge, Cond::Sge)
  JMP(lt, Cond::Lt)
  JMP(le, Cond::Le)
  JMP(slt, Cond::Slt)
  JMP(sle, Cond::Sle)
#undef JMP

  // Calls and exit.
op_Call:
  helper_id = static_cast<uint32_t>(ip->imm);
  goto call_helper;
op_Callx : {
  uint64_t v = DST;
  uint64_t k = v - st.impl->func_base();
  if (k < st.impl->is_func.size() && st.impl->is_func[k]) {
    call_target = st.code + k;
    goto call_local;
  }
  if (v <= UINT32_MAX && helpers != nullptr && helpers->find(static_cast<uint32_t>(v)) != nullptr) {
    helper_id = v;
    goto call_helper;
  }
  fault(st, ErrorCode::kBadCallTarget, st.pc_of(ip),
        fmt::format("callx r{}: {:#x} is neither a helper number nor a function address", ip->dst, v));
  goto out;
}
op_CallLocal:
  call_target = ip->target;
  goto call_local;
op_CallKfunc:
  fault(st, ErrorCode::kUnsupported, st.pc_of(ip),
        fmt::format("call kfunc (BTF id {}) is not supported by bpfvm", ip->imm));
  goto out;
op_Exit:
  if (depth == base_depth) goto out;
  --depth;
  r[6] = frames[depth].r6;
  r[7] = frames[depth].r7;
  r[8] = frames[depth].r8;
  r[9] = frames[depth].r9;
  r[kFrameReg] += kStackSize;
  ip = frames[depth].ret;
  DISPATCH();

call_local:
  // bpf-to-bpf call (RFC 9669 section 4.3.2): a fresh 512-byte frame below the caller's, r6-r9
  // callee-saved, at most kMaxCallDepth frames in all, as in the kernel.
  if (depth + 1 >= kMaxCallDepth) {
    fault(st, ErrorCode::kCallDepth, st.pc_of(ip),
          fmt::format("call depth exceeds {} frames", kMaxCallDepth));
    goto out;
  }
  frames[depth] = Frame{ip + 1, r[6], r[7], r[8], r[9]};
  ++depth;
  r[kFrameReg] -= kStackSize;
  ip = call_target;
  DISPATCH();

call_helper : {
  const HelperEntry* e = helpers != nullptr ? helpers->find(static_cast<uint32_t>(helper_id)) : nullptr;
  if (e == nullptr) {
    unknown_helper(st, ip, helper_id);
    goto out;
  }
  if constexpr (kChecked) st.remaining = remaining;
  st.cur_depth = depth;
  st.cur_r10 = r[kFrameReg];
  bool tail = false;
  {
    // Scoped: no computed goto may leave the scope of `call` (its destructor; clang enforces it).
    HelperCall call(st.env, e->user, st.pc_of(ip), st.regions, r[kFrameReg] - kStackSize, st.stack_top,
                    st.resolver, st.context, &st);
    r[0] = e->fn(call, r[1], r[2], r[3], r[4], r[5]);
    if constexpr (kChecked) remaining = st.remaining;
    if (__builtin_expect(call.failed() || st.error.has_value() || st.pending_tail != nullptr, 0)) {
      // A fault inside a callback (or an unsupported tail call) already set the error.
      if (st.error) goto out;
      if (call.failed()) {
        fault(st, ErrorCode::kHelperFault, st.pc_of(ip),
              fmt::format("helper {} ({}): {}", e->id, e->name, call.failure()));
        goto out;
      }
      tail = true;
    }
  }
  if (__builtin_expect(tail, 0)) {
    // Tail call (depth 0 only, see request_tail_call): the target starts at its first instruction
    // on the same frame, with r1 unchanged (the context) and the other registers cleared.
    st.impl = st.pending_tail;
    st.pending_tail = nullptr;
    st.code = st.impl->code[kChecked ? 1 : 0].data();
    helpers = st.impl->helpers;
    r[0] = r[2] = r[3] = r[4] = r[5] = r[6] = r[7] = r[8] = r[9] = 0;
    ip = st.code;
    DISPATCH();
  }
  // r1-r5 are caller-saved scratch registers: zero them (see the top of the file).
  r[1] = r[2] = r[3] = r[4] = r[5] = 0;
  NEXT();
}

  // lddw (RFC 9669 section 5.4). The func token was computed at create time.
op_Lddw:
op_LddwMapFd:
op_LddwMapValue:
op_LddwBtfId:
op_LddwFunc:
op_LddwMapIdx:
op_LddwMapIdxValue:
  DST = ip->imm64;
  NEXT();

  // Loads and stores (RFC 9669 section 5.1, 5.2).
#define LDX(Name, T)                                      \
  op_##Name : {                                           \
    uint64_t a = SRC + static_cast<int64_t>(ip->off);     \
    CHECK_MEM(a, sizeof(T), false, ip->src);              \
    T v;                                                  \
    std::memcpy(&v, PTR(const void, a), sizeof v);        \
    DST = static_cast<uint64_t>(static_cast<int64_t>(v)); \
    NEXT();                                               \
  }
  LDX(LdxB, uint8_t)
  LDX(LdxH, uint16_t)
  LDX(LdxW, uint32_t)
  LDX(LdxDw, uint64_t)
  // Sign-extending loads (ISA v4).
  LDX(LdxsB, int8_t)
  LDX(LdxsH, int16_t)
  LDX(LdxsW, int32_t)
#undef LDX
#define STORE(Name, T, value)                         \
  op_##Name : {                                       \
    uint64_t a = DST + static_cast<int64_t>(ip->off); \
    CHECK_MEM(a, sizeof(T), true, ip->dst);           \
    T v = static_cast<T>(value);                      \
    std::memcpy(PTR(void, a), &v, sizeof v);          \
    NEXT();                                           \
  }
  STORE(StB, uint8_t, IMM)
  STORE(StH, uint16_t, IMM)
  STORE(StW, uint32_t, IMM)
  STORE(StDw, uint64_t, IMM)
  STORE(StxB, uint8_t, SRC)
  STORE(StxH, uint16_t, SRC)
  STORE(StxW, uint32_t, SRC)
  STORE(StxDw, uint64_t, SRC)
#undef STORE

  // Atomics (RFC 9669 section 5.3): real host atomics, since maps are shared between threads. The
  // fetch forms write the old value into src (zero-extended for 32-bit operations).
#define ATOMIC(Name, T, builtin, fetch)                                \
  op_##Name : {                                                        \
    uint64_t a = DST + static_cast<int64_t>(ip->off);                  \
    CHECK_MEM(a, sizeof(T), true, ip->dst);                            \
    T old = builtin(PTR(T, a), static_cast<T>(SRC), __ATOMIC_SEQ_CST); \
    if (fetch) SRC = old;                                              \
    NEXT();                                                            \
  }
  ATOMIC(AtomicAdd64, uint64_t, __atomic_fetch_add, false)
  ATOMIC(AtomicFetchAdd64, uint64_t, __atomic_fetch_add, true)
  ATOMIC(AtomicOr64, uint64_t, __atomic_fetch_or, false)
  ATOMIC(AtomicFetchOr64, uint64_t, __atomic_fetch_or, true)
  ATOMIC(AtomicAnd64, uint64_t, __atomic_fetch_and, false)
  ATOMIC(AtomicFetchAnd64, uint64_t, __atomic_fetch_and, true)
  ATOMIC(AtomicXor64, uint64_t, __atomic_fetch_xor, false)
  ATOMIC(AtomicFetchXor64, uint64_t, __atomic_fetch_xor, true)
  ATOMIC(AtomicXchg64, uint64_t, __atomic_exchange_n, true)
  ATOMIC(AtomicAdd32, uint32_t, __atomic_fetch_add, false)
  ATOMIC(AtomicFetchAdd32, uint32_t, __atomic_fetch_add, true)
  ATOMIC(AtomicOr32, uint32_t, __atomic_fetch_or, false)
  ATOMIC(AtomicFetchOr32, uint32_t, __atomic_fetch_or, true)
  ATOMIC(AtomicAnd32, uint32_t, __atomic_fetch_and, false)
  ATOMIC(AtomicFetchAnd32, uint32_t, __atomic_fetch_and, true)
  ATOMIC(AtomicXor32, uint32_t, __atomic_fetch_xor, false)
  ATOMIC(AtomicFetchXor32, uint32_t, __atomic_fetch_xor, true)
  ATOMIC(AtomicXchg32, uint32_t, __atomic_exchange_n, true)
#undef ATOMIC
  // cmpxchg compares r0 with memory, stores src if equal, and r0 receives the old value (for the
  // 32-bit form, zero-extended).
#define CMPXCHG(Name, T)                                                                            \
  op_##Name : {                                                                                     \
    uint64_t a = DST + static_cast<int64_t>(ip->off);                                               \
    CHECK_MEM(a, sizeof(T), true, ip->dst);                                                         \
    T expected = static_cast<T>(r[0]);                                                              \
    __atomic_compare_exchange_n(PTR(T, a), &expected, static_cast<T>(SRC), false, __ATOMIC_SEQ_CST, \
                                __ATOMIC_SEQ_CST);                                                  \
    r[0] = expected;                                                                                \
    NEXT();                                                                                         \
  }
  CMPXCHG(AtomicCmpxchg64, uint64_t)
  CMPXCHG(AtomicCmpxchg32, uint32_t)
#undef CMPXCHG
#define LOAD_ACQ(Name, T)                               \
  op_##Name : {                                         \
    uint64_t a = SRC + static_cast<int64_t>(ip->off);   \
    CHECK_MEM(a, sizeof(T), false, ip->src);            \
    DST = __atomic_load_n(PTR(T, a), __ATOMIC_ACQUIRE); \
    NEXT();                                             \
  }
  LOAD_ACQ(LoadAcquireB, uint8_t)
  LOAD_ACQ(LoadAcquireH, uint16_t)
  LOAD_ACQ(LoadAcquireW, uint32_t)
  LOAD_ACQ(LoadAcquireDw, uint64_t)
#undef LOAD_ACQ
#define STORE_REL(Name, T)                                              \
  op_##Name : {                                                         \
    uint64_t a = DST + static_cast<int64_t>(ip->off);                   \
    CHECK_MEM(a, sizeof(T), true, ip->dst);                             \
    __atomic_store_n(PTR(T, a), static_cast<T>(SRC), __ATOMIC_RELEASE); \
    NEXT();                                                             \
  }
  STORE_REL(StoreReleaseB, uint8_t)
  STORE_REL(StoreReleaseH, uint16_t)
  STORE_REL(StoreReleaseW, uint32_t)
  STORE_REL(StoreReleaseDw, uint64_t)
#undef STORE_REL

  // Legacy packet loads (see the top of the file). Bounds are part of the semantics: checked in
  // both modes.
#define LD_PKT(Name, T, ind)                                                                               \
  op_##Name : {                                                                                            \
    int32_t off =                                                                                          \
        ind ? static_cast<int32_t>(static_cast<uint32_t>(ip->imm) + static_cast<uint32_t>(SRC)) : ip->imm; \
    uint64_t v = legacy_packet_load(st.legacy.get(), off, sizeof(T));                                      \
    if (v == kLegacyLoadFailed) {                                                                          \
      r[0] = 0;                                                                                            \
      goto out_no_frames;                                                                                  \
    }                                                                                                      \
    r[0] = v;                                                                                              \
    r[1] = r[2] = r[3] = r[4] = r[5] = 0;                                                                  \
    NEXT();                                                                                                \
  }
  LD_PKT(LdAbsB, uint8_t, false)
  LD_PKT(LdAbsH, uint16_t, false)
  LD_PKT(LdAbsW, uint32_t, false)
  LD_PKT(LdIndB, uint8_t, true)
  LD_PKT(LdIndH, uint16_t, true)
  LD_PKT(LdIndW, uint32_t, true)
#undef LD_PKT

  // Rejected by create(); the labels exist so that the table is complete.
op_MayGoto:
op_AddrSpaceCast:
  fault(st, ErrorCode::kUnsupported, st.pc_of(ip), "instruction not supported by bpfvm");
  goto out;

budget:
  __attribute__((unused));
  fault(st, ErrorCode::kBudgetExhausted, st.pc_of(ip),
        fmt::format("instruction budget of {} exhausted", st.budget));
  goto out;

out_no_frames:
out:
  if constexpr (kChecked) st.remaining = remaining;
  return r[0];

#undef DST
#undef SRC
#undef IMM
#undef DISPATCH
#undef NEXT
#undef JUMP_IF
#undef CHECK_MEM
#undef PTR
}

}  // namespace

// --- Shared by the engines ------------------------------------------------------------------------

namespace detail {

bool has_target(const Insn& in) {
  switch (in.info().form) {
    case Form::Ja:
    case Form::Ja32:
    case Form::JmpImm:
    case Form::JmpReg:
    case Form::CallLocal:
      return true;
    default:
      return false;
  }
}

Status check_program(const Program& program) {
  const std::vector<Insn>& insns = program.insns;
  if (insns.empty()) return make_error(ErrorCode::kEmptyProgram, kNoPc, "empty program");
  const size_t n = insns.size();
  for (uint32_t s : program.subprogs)
    if (s >= n)
      return make_error(ErrorCode::kInternal, kNoPc,
                        fmt::format("subprogram entry {} outside the program", s));
  for (const Insn& in : insns) {
    Form f = in.info().form;
    if (f == Form::MayGoto)
      return make_error(ErrorCode::kUnsupported, in.pc, "may_goto is not supported by bpfvm");
    if (f == Form::AddrSpaceCast)
      return make_error(ErrorCode::kUnsupported, in.pc,
                        "addr_space_cast (BPF arena) is not supported by bpfvm");
    bool func = f == Form::Lddw && in.op == Op::LddwFunc;
    if ((has_target(in) || func) && (in.target < 0 || static_cast<size_t>(in.target) >= n))
      return make_error(ErrorCode::kInternal, in.pc,
                        fmt::format("{}: unresolved target {} (the program was not linked)",
                                    in.info().mnemonic, in.target));
    if (in.dst >= kNumRegs || in.src >= kNumRegs)
      return make_error(ErrorCode::kBadRegister, in.pc, "register number above r10");
  }
  return Ok{};
}

std::string unknown_helper_message(const HelperTable* h, uint64_t id) {
  std::string_view name = h != nullptr && h->namer() != nullptr && id <= UINT32_MAX
                              ? h->namer()(static_cast<uint32_t>(id))
                              : std::string_view{};
  if (name.empty()) return fmt::format("unknown helper {}", id);
  return fmt::format("helper {} (bpf_{}) is not implemented by bpfvm", id, name);
}

std::string oob_message(std::span<const MemRegion> regions,
                        const RegionResolver* resolver,
                        uint64_t addr,
                        uint64_t size,
                        bool write,
                        uint8_t base_reg,
                        int16_t off,
                        uint64_t stack_lo,
                        uint64_t stack_hi) {
  std::string what =
      fmt::format("{} of {} bytes at {:#x} (r{}{:+})", write ? "store" : "load", size, addr, base_reg, off);
  std::string_view rname;
  if (write && resolver != nullptr && resolver->contains(addr, size, false, &rname))
    return fmt::format("{} hits read-only {}", what, rname);
  for (const MemRegion& m : regions)
    if (inside(addr, size, m.base, m.size) && write && !m.writable)
      return fmt::format("{} hits read-only region '{}' [{:#x}, {:#x})", what, m.name, m.base,
                         m.base + m.size);
  std::string list;
  for (const MemRegion& m : regions)
    list += fmt::format(", {} '{}' [{:#x}, {:#x})", m.writable ? "region" : "read-only region", m.name,
                        m.base, m.base + m.size);
  return fmt::format("{} hits no region: live stack [{:#x}, {:#x}){}", what, stack_lo, stack_hi, list);
}

}  // namespace detail

// --- HelperCall ---------------------------------------------------------------------------------

uint64_t RegionResolver::span_from(uint64_t addr, bool write) const {
  if (!contains(addr, 1, write, nullptr)) return 0;
  uint64_t lo = 1, hi = uint64_t{1} << 16;  // contains(lo) holds; find the largest such length
  if (contains(addr, hi, write, nullptr)) return hi;
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    (contains(addr, mid, write, nullptr) ? lo : hi) = mid;
  }
  return lo;
}

void* HelperCall::translate(uint64_t addr, uint64_t len, bool write) const {
  if (inside(addr, len, stack_lo_, stack_hi_ - stack_lo_)) return reinterpret_cast<void*>(addr);
  for (const MemRegion& m : regions_)
    if (inside(addr, len, m.base, m.size) && (!write || m.writable)) return reinterpret_cast<void*>(addr);
  if (resolver_ != nullptr && addr != 0 && resolver_->contains(addr, len, write, nullptr))
    return reinterpret_cast<void*>(addr);
  return nullptr;
}

uint64_t HelperCall::span_from(uint64_t addr, bool write) const {
  if (inside(addr, 1, stack_lo_, stack_hi_ - stack_lo_)) return stack_hi_ - addr;
  for (const MemRegion& m : regions_)
    if (inside(addr, 1, m.base, m.size) && (!write || m.writable)) return m.base + m.size - addr;
  if (resolver_ != nullptr && addr != 0) return resolver_->span_from(addr, write);
  return 0;
}

bool HelperCall::is_function(uint64_t fn) const {
  return engine_ != nullptr && engine_->is_function(fn);
}

Result<uint64_t> HelperCall::call_function(uint64_t fn,
                                           const uint64_t (&args)[5],
                                           std::span<const MemRegion> extra) {
  if (engine_ == nullptr) return make_error(ErrorCode::kUnsupported, pc_, "call_function outside a run");
  return engine_->call_function(pc_, fn, args, extra);
}

bool HelperCall::request_tail_call(std::optional<uint32_t> prog_id) {
  return engine_ != nullptr && engine_->request_tail_call(pc_, prog_id);
}

namespace detail {

Result<uint64_t> ExecState::call_function(uint32_t pc_,
                                          uint64_t fn,
                                          const uint64_t (&args)[5],
                                          std::span<const MemRegion> extra) {
  RunState& st = *this;
  if (st.error) return *st.error;
  if (!is_function(fn)) {
    st.error = make_error(ErrorCode::kBadCallTarget, pc_,
                          fmt::format("callback {:#x} is not a function of the program", fn));
    return *st.error;
  }
  if (st.cur_depth + 1 >= kMaxCallDepth) {
    st.error = make_error(ErrorCode::kCallDepth, pc_,
                          fmt::format("callback: call depth exceeds {} frames", kMaxCallDepth));
    return *st.error;
  }
  const int saved_depth = st.cur_depth;
  const uint64_t saved_r10 = st.cur_r10;
  const std::span<const MemRegion> saved_regions = st.regions;
  std::vector<MemRegion> merged;
  if (!extra.empty()) {
    merged.assign(saved_regions.begin(), saved_regions.end());
    merged.insert(merged.end(), extra.begin(), extra.end());
    st.regions = merged;
  }
  Entry e{st.code + (fn - st.impl->func_base()),
          {args[0], args[1], args[2], args[3], args[4]},
          saved_r10 - kStackSize,
          saved_depth + 1};
  uint64_t r0 = st.exec(st, &e, nullptr);
  st.cur_depth = saved_depth;
  st.cur_r10 = saved_r10;
  st.regions = saved_regions;
  if (st.error) return *st.error;
  return r0;
}

bool ExecState::request_tail_call(uint32_t pc_, std::optional<uint32_t> prog_id) {
  RunState& st = *this;
  if (st.cur_depth > 0) {
    st.error = make_error(ErrorCode::kUnsupported, pc_,
                          fmt::format("bpf_tail_call from a subprogram or callback (call depth {}) is not "
                                      "supported by bpfvm",
                                      st.cur_depth));
    return false;
  }
  if (st.tail_calls == nullptr || st.tail_call_count >= kMaxTailCalls || st.pending_tail != nullptr)
    return false;
  ++st.tail_call_count;  // counted before the program is looked up, as the kernel does
  const Interpreter* target = prog_id ? st.tail_calls->interpreter(*prog_id) : nullptr;
  if (target == nullptr) return false;
  st.pending_tail = target->impl_.get();
  return true;
}

}  // namespace detail

void HelperCall::fail(std::string msg) {
  failed_ = true;
  failure_ = std::move(msg);
}

// --- Interpreter --------------------------------------------------------------------------------

Interpreter::Interpreter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Interpreter::~Interpreter() = default;

Result<std::unique_ptr<Interpreter>> Interpreter::create(const Program& program, const HelperTable* helpers) {
  const std::vector<Insn>& insns = program.insns;
  if (insns.empty()) return make_error(ErrorCode::kEmptyProgram, kNoPc, "empty program");
  const void* const* labels[2];
  {
    RunState dummy;
    exec<false>(dummy, nullptr, &labels[0]);
    exec<true>(dummy, nullptr, &labels[1]);
  }
  BPFVM_TRY(detail::check_program(program));
  auto impl = std::make_unique<Impl>();
  impl->helpers = helpers;
  const size_t n = insns.size();
  size_t bytes = SealedBlock::grow<Slot>(0, 2 * n);
  bytes = SealedBlock::grow<uint32_t>(bytes, n);
  bytes = SealedBlock::grow<uint8_t>(bytes, n);
  auto mem = SealedBlock::create(bytes);
  if (!mem) return mem.error();
  impl->mem = std::move(*mem);
  std::span<Slot> code2 = impl->mem.take<Slot>(2 * n);
  std::span<uint32_t> pcs = impl->mem.take<uint32_t>(n);
  std::span<uint8_t> is_func = impl->mem.take<uint8_t>(n);
  impl->pcs = pcs;
  impl->is_func = is_func;
  for (uint32_t s : program.subprogs)
    is_func[s] = 1;
  for (size_t k = 0; k < n; ++k)
    pcs[k] = insns[k].pc;
  std::vector<uint8_t> is_target(n, 0);
  for (const Insn& in : insns)
    if (detail::has_target(in)) is_target[static_cast<size_t>(in.target)] = 1;
  for (int m = 0; m < 2; ++m) {
    std::span<Slot> code = code2.subspan(m * n, n);
    impl->code[m] = code;
    for (size_t k = 0; k < n; ++k) {
      const Insn& in = insns[k];
      Slot& s = code[k];
      s.handler = labels[m][static_cast<size_t>(in.op)];
      s.dst = in.dst;
      s.src = in.src;
      s.off = in.off;
      s.imm = in.imm;
      s.imm64 = 0;
      if (detail::has_target(in))
        s.target = &code[static_cast<size_t>(in.target)];
      else if (in.op == Op::LddwFunc)
        s.imm64 = impl->func_base() + static_cast<uint64_t>(in.target);
      else if (in.info().form == Form::Lddw)
        s.imm64 = in.imm64;
      // Unchecked code only: checked code counts every instruction against the budget.
      if (const size_t f = m == 0 ? fused_handler(insns, is_target, k) : 0) {
        const Insn& add = insns[k + 1];
        s.handler = labels[m][f];
        s.imm = add.imm;
        s.off = static_cast<int16_t>(add.src == in.dst ? in.src : add.src);
      }
    }
  }
  BPFVM_TRY(impl->mem.seal());
  return std::unique_ptr<Interpreter>(new Interpreter(std::move(impl)));
}

const void* Interpreter::predecoded() const {
  return impl_->mem.data();
}

Result<uint64_t> Interpreter::run(const RunInput& input,
                                  const RunOptions& opts,
                                  Environment& env,
                                  RunStats* stats) const {
  alignas(16) uint8_t stack[kStackBytes];
  std::memset(stack, 0, sizeof stack);
  RunState st;
  st.impl = impl_.get();
  st.regions = input.regions;
  st.resolver = input.resolver;
  st.tail_calls = input.tail_calls;
  st.context = input.context;
  st.env = &env;
  st.checked = opts.checked;
  st.exec = opts.checked ? &exec<true> : &exec<false>;
  st.stack_top = reinterpret_cast<uint64_t>(stack) + kStackBytes;
  st.budget = opts.budget;
  st.remaining = opts.budget;
  st.legacy.init(input.legacy_packet, st.regions);
  st.code = impl_->code[opts.checked ? 1 : 0].data();
  Entry entry{
      st.code, {input.args[0], input.args[1], input.args[2], input.args[3], input.args[4]}, st.stack_top, 0};
  uint64_t r0 = st.exec(st, &entry, nullptr);
  if (stats != nullptr) {
    stats->insns_executed = opts.checked ? st.budget - st.remaining : 0;
    stats->tail_calls = st.tail_call_count;
  }
  if (st.error) return std::move(*st.error);
  return r0;
}

Result<uint64_t> Interpreter::run(std::span<uint8_t> mem, const RunOptions& opts, Environment& env) const {
  RunInput input;
  input.args[0] = reinterpret_cast<uint64_t>(mem.data());
  input.args[1] = mem.size();
  if (!mem.empty())
    input.regions.push_back(MemRegion{reinterpret_cast<uint64_t>(mem.data()), mem.size(), true, "input"});
  return run(input, opts, env);
}

}  // namespace bpfvm
