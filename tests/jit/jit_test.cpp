// The JIT against the interpreter, instruction by instruction (every row of vm/opcodes.def), and
// its safety properties: constant blinding, W^X code memory, release of code, checked-mode faults.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "jit/jit.h"
#include "jit/jit_internal.h"
#include "tests/test_util.h"
#include "vm/alu.h"
#include "vm/asm.h"
#include "vm/decode.h"
#include "vm/interp.h"

#if defined(__SANITIZE_ADDRESS__)
#define BPFVM_JIT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BPFVM_JIT_TEST_ASAN 1
#endif
#endif

namespace bpfvm {
namespace {

// Helper 1: r1 * 3 + r2 - r5.  Helper 1001: calls function r1 with (r2, r3), returns its r0 + 1.
// Helper 1003: tail call to program r2 (-1 when refused).
uint64_t mix(HelperCall&, uint64_t a, uint64_t b, uint64_t, uint64_t, uint64_t e) {
  return a * 3 + b - e;
}
uint64_t invoke(HelperCall& call, uint64_t fn, uint64_t a, uint64_t b, uint64_t, uint64_t) {
  if (!call.is_function(fn)) return static_cast<uint64_t>(-2);
  const uint64_t args[5] = {a, b, 0, 0, 0};
  auto r = call.call_function(fn, args);
  return r.ok() ? *r + 1 : 0;
}
uint64_t tail(HelperCall& call, uint64_t, uint64_t id, uint64_t, uint64_t, uint64_t) {
  return call.request_tail_call(static_cast<uint32_t>(id)) ? 0 : static_cast<uint64_t>(-1);
}
uint64_t refuse(HelperCall& call, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  call.fail("refused");
  return 0;
}

const HelperTable& helpers() {
  static const HelperTable t = [] {
    HelperTable h;
    EXPECT_TRUE(h.add(1, "mix", mix).ok());
    EXPECT_TRUE(h.add(1001, "invoke", invoke).ok());
    EXPECT_TRUE(h.add(1003, "tail", tail).ok());
    EXPECT_TRUE(h.add(1004, "refuse", refuse).ok());
    return h;
  }();
  return t;
}

// One instruction; the row's selector field is set from the table.
Insn I(Op op, uint8_t dst = 0, uint8_t src = 0, int16_t off = 0, int32_t imm = 0, uint64_t imm64 = 0) {
  Insn in;
  in.op = op;
  in.dst = dst;
  in.src = src;
  in.off = off;
  in.imm = imm;
  in.imm64 = imm64;
  const OpInfo& info = op_info(op);
  switch (info.sel) {
    case Sel::Off:
      in.off = static_cast<int16_t>(info.selval);
      break;
    case Sel::Imm:
      in.imm = info.selval;
      break;
    case Sel::Src:
      in.src = static_cast<uint8_t>(info.selval);
      break;
    case Sel::None:
      break;
  }
  if (info.form == Form::Lddw) in.imm = static_cast<int32_t>(static_cast<uint32_t>(imm64));
  return in;
}
jit::JitOptions checked_opts() {
  jit::JitOptions o;
  o.checked = true;
  return o;
}

Insn lddw(uint8_t dst, uint64_t v) {
  return I(Op::Lddw, dst, 0, 0, 0, v);
}

struct Outcome {
  bool ok;
  uint64_t r0;
  ErrorCode code;
  uint32_t pc;
  std::vector<uint8_t> mem;
  bool operator==(const Outcome& o) const {
    return ok == o.ok && (ok ? r0 == o.r0 : code == o.code && pc == o.pc) && mem == o.mem;
  }
};
std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  if (o.ok) return os << "r0=" << std::hex << o.r0 << std::dec;
  return os << "error " << error_code_name(o.code) << " at pc " << o.pc;
}

Outcome outcome(const Result<uint64_t>& r, std::vector<uint8_t> mem) {
  if (r.ok()) return Outcome{true, *r, ErrorCode::kInternal, 0, std::move(mem)};
  return Outcome{false, 0, r.error().code, r.error().pc, std::move(mem)};
}

// The JIT's modes: checked and (when `also_unchecked`) unchecked code, with and without blinding;
// f(options, "checked blinded" ...).
template <class F>
void for_each_jit_mode(bool also_unchecked, F&& f) {
  for (bool checked : {true, false}) {
    if (!checked && !also_unchecked) continue;
    for (bool blind : {true, false}) {
      jit::JitOptions o;
      o.checked = checked;
      o.verified = !checked;
      o.blinding = blind;
      f(o, std::string(checked ? "checked" : "unchecked") + (blind ? " blinded" : " plain"));
    }
  }
}

// Runs `program` on the interpreter (checked) and on the JIT in checked and unchecked mode, with
// and without blinding, with `mem` as the input (named "packet" when `packet`); expects the same
// outcome everywhere and returns it.
Outcome run_all(const Program& program,
                std::vector<uint8_t> mem = std::vector<uint8_t>(64, 0),
                bool packet = false,
                bool also_unchecked = true) {
  NullEnv env;
  auto interp = Interpreter::create(program, &helpers());
  EXPECT_TRUE(interp.ok()) << interp.error().to_string();
  auto input = [&](std::vector<uint8_t>& m) {
    RunInput in;
    in.args[0] = reinterpret_cast<uint64_t>(m.data());
    in.args[1] = m.size();
    in.regions.push_back(MemRegion{in.args[0], m.size(), true, packet ? "packet" : "input"});
    return in;
  };
  std::vector<uint8_t> m0 = mem;
  // The run first, then the memory (argument evaluation order is unspecified).
  auto ri = (*interp)->run(input(m0), RunOptions{}, env);
  Outcome want = outcome(ri, m0);
  for_each_jit_mode(also_unchecked, [&](const jit::JitOptions& o, const std::string& mode) {
    auto p = jit::JitProgram::compile(program, &helpers(), o);
    EXPECT_TRUE(p.ok()) << p.error().to_string();
    if (!p.ok()) return;
    std::vector<uint8_t> m = mem;
    auto rj = (*p)->run(input(m), env);
    Outcome got = outcome(rj, m);
    EXPECT_EQ(got, want) << mode;
  });
  return want;
}

const uint64_t kValues[] = {0,
                            1,
                            7,
                            static_cast<uint64_t>(-1),
                            static_cast<uint64_t>(-7),
                            0x7fffffff,
                            0x80000000,
                            0xffffffff,
                            0x100000000,
                            static_cast<uint64_t>(std::numeric_limits<int64_t>::min()),
                            0x7fffffffffffffff,
                            0x123456789abcdef0,
                            0xfedcba9876543210,
                            63,
                            64,
                            31,
                            0xffffffff80000000};
// With the constants that have immediate-free forms in the code generator (jit/blinding.h: 0, +-1,
// 2, 3, 4, 5, 8, 9, 0xff, 0xffff).
const int32_t kImms[] = {0,      1, -1, 2,  3,  4,  5,  8,         9,         0xff,
                         0xffff, 7, -7, 31, 32, 63, 64, INT32_MIN, INT32_MAX, 0x12345678};

// Registers that matter to the code generator: rax (r0), rdx (r3, division), rcx (r4, shifts),
// and an ordinary one (r7).
const uint8_t kDsts[] = {0, 3, 4, 7};

// Many cases in one program: each case's instructions leave their result in register `out`, which
// is stored to the input memory at 8 * k (r9 holds the memory's address). The run compares the
// whole memory with the interpreter's, so each case is checked on its own.
struct Case {
  std::vector<Insn> insns;
  uint8_t out;
};
void run_cases(const std::vector<Case>& cases, bool also_unchecked = true) {
  std::vector<Insn> insns = {I(Op::Mov64Reg, 9, 1)};
  for (size_t k = 0; k < cases.size(); ++k) {
    insns.insert(insns.end(), cases[k].insns.begin(), cases[k].insns.end());
    insns.push_back(I(Op::StxDw, 9, cases[k].out, static_cast<int16_t>(8 * k)));
  }
  insns.push_back(I(Op::Mov64Imm, 0, 0, 0, 0));
  insns.push_back(I(Op::Exit));
  run_all(link_or_fail(std::move(insns)), std::vector<uint8_t>(8 * cases.size(), 0), false, also_unchecked);
}

// Drives one row of the opcode table through the JIT; returns false for rows it has no program for.
bool exercise(const OpInfo& info) {
  const Op op = info.op;
  switch (info.form) {
    case Form::AluImm: {
      std::vector<Case> cases;
      for (uint8_t dst : kDsts)
        for (uint64_t a : kValues)
          for (int32_t imm : kImms)
            cases.push_back(Case{{lddw(dst, a), I(op, dst, 0, 0, imm)}, dst});
      run_cases(cases);
      return true;
    }
    case Form::AluReg: {
      // Register pairs that stress the code generator (rax, rdx, rcx as operands of div and
      // shifts, and the same register on both sides).
      std::vector<Case> cases;
      for (auto [dst, src] :
           {std::pair<uint8_t, uint8_t>{7, 1}, {0, 3}, {3, 0}, {4, 3}, {3, 4}, {4, 4}, {0, 4}})
        for (uint64_t a : kValues)
          for (uint64_t b : kValues) {
            if (src == dst && a != b) continue;
            cases.push_back(Case{{lddw(dst, a), lddw(src, b), I(op, dst, src)}, dst});
          }
      run_cases(cases);
      return true;
    }
    case Form::AluNeg:
    case Form::End: {
      std::vector<Case> cases;
      for (uint8_t dst : kDsts)
        for (uint64_t a : kValues)
          cases.push_back(Case{{lddw(dst, a), I(op, dst)}, dst});
      run_cases(cases);
      return true;
    }
    case Form::AddrSpaceCast:
    case Form::MayGoto: {
      // Refused by the decoder's linker and by both engines, with the same error.
      Program p;
      p.insns = {I(op, 0, 1), I(Op::Exit)};
      p.insns[0].target = 1;
      p.insns[1].pc = 1;
      p.subprogs = {0};
      p.num_slots = 2;
      auto interp = Interpreter::create(p, nullptr);
      auto j = jit::JitProgram::compile(p, nullptr, checked_opts());
      EXPECT_FALSE(interp.ok());
      EXPECT_FALSE(j.ok());
      if (!interp.ok() && !j.ok()) {
        EXPECT_EQ(j.error().code, interp.error().code);
      }
      return true;
    }
    case Form::Ja:
    case Form::Ja32:
      run_all(link_or_fail({I(Op::Mov64Imm, 0, 0, 0, 1),
                            I(op, 0, 0, info.form == Form::Ja ? 1 : 0, info.form == Form::Ja32 ? 1 : 0),
                            I(Op::Mov64Imm, 0, 0, 0, 2), I(Op::Exit)}));
      return true;
    case Form::JmpImm:
    case Form::JmpReg: {
      std::vector<Case> cases;
      for (uint64_t a : kValues)
        for (uint64_t b : kValues) {
          if (info.form == Form::JmpImm &&
              static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(b))) != b)
            continue;
          Insn j = info.form == Form::JmpImm ? I(op, 1, 0, 1, static_cast<int32_t>(b)) : I(op, 1, 2, 1);
          cases.push_back(
              Case{{lddw(1, a), lddw(2, b), I(Op::Mov64Imm, 0, 0, 0, 1), j, I(Op::Mov64Imm, 0, 0, 0, 2)}, 0});
        }
      run_cases(cases);
      return true;
    }
    case Form::Call:
      run_all(
          assemble_or_fail("mov %r1, 5\nmov %r2, 9\nmov %r5, 2\nmov %r6, 40\ncall 1\nadd %r0, %r6\n"
                           "add %r0, %r1\nadd %r0, %r5\nexit"));
      run_all(assemble_or_fail("call 77\nexit"));    // unknown helper
      run_all(assemble_or_fail("call 1004\nexit"));  // helper fault
      return true;
    case Form::CallLocal:
      run_all(
          assemble_or_fail("mov %r6, 3\nmov %r1, 4\ncall local f\nadd %r0, %r6\nadd %r0, %r1\nexit\n"
                           "f:\nmov %r6, 100\nstdw [%r10-8], 9\nldxdw %r0, [%r10-8]\nadd %r1, 1\nexit"));
      // Recursion beyond the 8-frame limit: kCallDepth at the call.
      run_all(assemble_or_fail("call local f\nexit\nf:\ncall local f\nexit"));
      return true;
    case Form::CallKfunc: {
      Program p = link_or_fail({I(Op::Mov64Imm, 0, 0, 0, 1), I(op, 0, 0, 0, 1234), I(Op::Exit)});
      Outcome o = run_all(p);
      EXPECT_FALSE(o.ok);
      return true;
    }
    case Form::Callx:
      run_all(assemble_or_fail(
          "mov %r1, 5\nmov %r2, 9\nmov %r5, 0\nmov %r3, 1\ncallx %r3\nexit"));  // helper number
      run_all(
          assemble_or_fail("lddw %r3, func(f)\nmov %r1, 7\ncallx %r3\nadd %r0, %r1\nexit\nf:\nmov %r0, 5\n"
                           "add %r1, 1\nexit"));
      run_all(assemble_or_fail("mov %r3, 55555\ncallx %r3\nexit"));  // neither
      return true;
    case Form::Exit:
      run_all(assemble_or_fail("mov %r0, 3\nexit"));
      return true;
    case Form::Lddw:
      if (op == Op::LddwFunc) {
        // The func token works with callx and with call_function, like the interpreter's.
        run_all(
            assemble_or_fail("lddw %r1, func(f)\nmov %r2, 6\nmov %r3, 7\ncall 1001\nexit\nf:\nmov %r0, %r1\n"
                             "mul %r0, %r2\nexit"));
        return true;
      }
      {
        std::vector<Case> cases;
        for (uint64_t v : kValues)
          cases.push_back(Case{{I(op, 3, 0, 0, 0, v)}, 3});
        run_cases(cases);
      }
      return true;
    case Form::Ldx:
    case Form::LoadAcquire: {
      std::vector<Case> cases;
      for (int16_t off : {-8, -5, -2, -1})
        for (uint64_t v : kValues) {
          if (off + static_cast<int>(info.size) > 0) continue;  // past the stack top
          cases.push_back(Case{{lddw(1, v), I(Op::StxDw, 10, 1, -8), I(op, 3, 10, off)}, 3});
        }
      run_cases(cases);
      // From the input memory.
      run_all(link_or_fail({I(Op::StB, 1, 0, 3, 0x85), I(op, 0, 1, 0), I(Op::Exit)}),
              std::vector<uint8_t>(16, 0xa5));
      return true;
    }
    case Form::St: {
      std::vector<Case> cases;
      for (int32_t imm : kImms)
        cases.push_back(Case{{lddw(1, 0x1122334455667788), I(Op::StxDw, 10, 1, -8), I(op, 10, 0, -8, imm),
                              I(Op::LdxDw, 0, 10, -8)},
                             0});
      run_cases(cases);
      return true;
    }
    case Form::Stx:
    case Form::StoreRelease: {
      std::vector<Case> cases;
      for (uint8_t src : {2, 4, 0})
        for (uint64_t v : kValues)
          cases.push_back(Case{{lddw(1, 0x1122334455667788), I(Op::StxDw, 10, 1, -8), lddw(src, v),
                                I(op, 10, src, -8), I(Op::LdxDw, 0, 10, -8)},
                               0});
      run_cases(cases);
      return true;
    }
    case Form::Atomic: {
      std::vector<Case> cases;
      for (uint8_t src : {2, 0, 4})
        for (uint64_t a : kValues)
          for (uint64_t b : {uint64_t{0xff00ff00ff00ff00}, uint64_t{5}, a}) {
            if (src == 0 && info.atomic == AtomicOp::Cmpxchg) continue;
            // r0 holds the compare value of cmpxchg; the result mixes r0, src and memory.
            cases.push_back(
                Case{{lddw(1, a), I(Op::StxDw, 10, 1, -8), lddw(src, b), lddw(6, src == 0 ? b : a),
                      I(Op::Mov64Reg, 0, 6), I(op, 10, src, -8), I(Op::LdxDw, 3, 10, -8),
                      I(Op::Mul64Imm, 3, 0, 0, 7), I(Op::Mul64Imm, src, 0, 0, 3), I(Op::Add64Reg, 0, src),
                      I(Op::Add64Reg, 0, 3)},
                     0});
          }
      run_cases(cases);
      return true;
    }
    case Form::LdAbs:
    case Form::LdInd: {
      std::vector<uint8_t> pkt(32);
      for (size_t i = 0; i < pkt.size(); ++i)
        pkt[i] = static_cast<uint8_t>(0x11 * i + 3);
      for (int32_t imm : {0, 1, 5, 28, 30, 31, 32, -1, INT32_MAX, INT32_MIN})
        for (uint64_t r2 : {uint64_t{0}, uint64_t{3}, uint64_t{0xffffffff}, uint64_t{100}}) {
          Insn ld = info.form == Form::LdAbs ? I(op, 0, 0, 0, imm) : I(op, 0, 2, 0, imm);
          run_all(link_or_fail({I(Op::Mov64Reg, 6, 1), lddw(2, r2), I(Op::Mov64Imm, 7, 0, 0, 9), ld,
                                I(Op::Add64Reg, 0, 7), I(Op::Add64Reg, 0, 1), I(Op::Exit)}),
                  pkt, true);
        }
      return true;
    }
  }
  return false;
}

TEST(JitOpcodes, EveryRowOfTheOpcodeTableRunsLikeTheInterpreter) {
  std::set<Op> handled;
  for (const OpInfo& info : all_ops()) {
    SCOPED_TRACE(std::string(info.mnemonic));
    if (exercise(info)) handled.insert(info.op);
  }
  EXPECT_EQ(handled.size(), kNumOps);
}

TEST(JitOpcodes, ShiftsMaskTheirCountAndDivisionHandlesZeroAndMinusOne) {
  // The corner cases of vm/alu.h, with the results spelled out.
  EXPECT_EQ(run_all(assemble_or_fail("mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1\nexit")).r0, 2u);
  EXPECT_EQ(run_all(assemble_or_fail("mov %r0, 1\nmov %r4, 33\nlsh32 %r0, %r4\nexit")).r0, 2u);
  EXPECT_EQ(run_all(assemble_or_fail("mov %r0, 9\nmov %r1, 0\ndiv %r0, %r1\nexit")).r0, 0u);
  EXPECT_EQ(run_all(assemble_or_fail("mov %r0, 9\nmov %r1, 0\nmod %r0, %r1\nexit")).r0, 9u);
  EXPECT_EQ(run_all(assemble_or_fail("lddw %r0, 0x8000000000000000\nsdiv %r0, -1\nexit")).r0,
            0x8000000000000000u);
  EXPECT_EQ(run_all(assemble_or_fail("lddw %r0, 0x8000000000000000\nsmod %r0, -1\nexit")).r0, 0u);
  EXPECT_EQ(run_all(assemble_or_fail("lddw %r0, 0xffffffff80000000\nsdiv32 %r0, -1\nexit")).r0, 0x80000000u);
}

// --- Legacy packet loads through an sk_buff view (vm/legacy_packet.h) ----------------------------

// Runs `program` with `pkt` as RunInput::legacy_packet (and the buffer as the only region) on the
// interpreter (checked and unchecked) and the JIT (checked and unchecked, with and without
// blinding); expects one r0 everywhere and returns it.
uint64_t run_legacy(const Program& program, const LegacyPacket& pkt, uint64_t buf_size) {
  NullEnv env;
  RunInput in;
  in.regions.push_back(MemRegion{reinterpret_cast<uint64_t>(pkt.head), buf_size, false, "packet"});
  in.legacy_packet = &pkt;
  auto interp = Interpreter::create(program, &helpers());
  EXPECT_TRUE(interp.ok());
  if (!interp.ok()) return ~0ULL;
  RunOptions ro;
  auto want = (*interp)->run(in, ro, env);
  EXPECT_TRUE(want.ok()) << want.error().to_string();
  if (!want.ok()) return ~0ULL;
  ro.checked = false;
  auto unchecked = (*interp)->run(in, ro, env);
  EXPECT_TRUE(unchecked.ok() && *unchecked == *want) << "interpreter, unchecked";
  for_each_jit_mode(true, [&](const jit::JitOptions& o, const std::string& mode) {
    auto p = jit::JitProgram::compile(program, &helpers(), o);
    EXPECT_TRUE(p.ok()) << p.error().to_string();
    if (!p.ok()) return;
    auto got = (*p)->run(in, env);
    EXPECT_TRUE(got.ok() && *got == *want)
        << mode << ": jit " << (got.ok() ? fmt::format("{:#x}", *got) : got.error().to_string())
        << ", interpreter " << fmt::format("{:#x}", *want);
  });
  return *want;
}

TEST(JitLegacyPacket, OffsetsFollowTheKernelsSkbOnBothEngines) {
  // A socket filter's skb as test_run builds it, scaled down: 8 bytes of headroom, the MAC header
  // at 8, the network header and the data at 22 (the Ethernet header is pulled), the tail at 40.
  // Byte i of the buffer holds i, so a big-endian word at offset o reads o o+1 o+2 o+3.
  std::vector<uint8_t> buf(64);
  for (size_t i = 0; i < buf.size(); ++i)
    buf[i] = static_cast<uint8_t>(i);
  uint32_t data = 22, tail = 40;
  LegacyPacket pkt{buf.data(), &data, &tail, 22, 8};
  // r0 = load; r0 += 0x1000 (a load that fails ends the program with r0 = 0 instead).
  auto abs = [&](Op op, int32_t k) {
    return run_legacy(link_or_fail({I(Op::Mov64Reg, 6, 1), I(op, 0, 0, 0, k),
                                    I(Op::Add64Imm, 0, 0, 0, 0x1000), I(Op::Exit)}),
                      pkt, buf.size());
  };
  auto ind = [&](Op op, int32_t src, int32_t k) {
    return run_legacy(link_or_fail({I(Op::Mov64Reg, 6, 1), I(Op::Mov64Imm, 7, 0, 0, src), I(op, 0, 7, 0, k),
                                    I(Op::Add64Imm, 0, 0, 0, 0x1000), I(Op::Exit)}),
                      pkt, buf.size());
  };
  // Non-negative offsets: from the data, up to the tail.
  EXPECT_EQ(abs(Op::LdAbsB, 0), 0x1000u + 22);
  EXPECT_EQ(abs(Op::LdAbsH, 2), 0x1000u + 0x1819);
  EXPECT_EQ(abs(Op::LdAbsW, 14), 0x1000u + 0x24252627);  // ends at the tail
  EXPECT_EQ(abs(Op::LdAbsW, 15), 0u);
  EXPECT_EQ(abs(Op::LdAbsB, 18), 0u);
  // SKF_NET_OFF: from the network header; SKF_LL_OFF: from the MAC header (as suricata's lb.o
  // reads the IPv4 addresses at SKF_LL_OFF + 26 and + 30).
  EXPECT_EQ(abs(Op::LdAbsW, kSkfNetOff + 12), 0x1000u + 0x22232425);
  EXPECT_EQ(abs(Op::LdAbsB, kSkfNetOff + 17), 0x1000u + 39);
  EXPECT_EQ(abs(Op::LdAbsB, kSkfNetOff + 18), 0u);
  EXPECT_EQ(abs(Op::LdAbsH, kSkfLlOff + 12), 0x1000u + 0x1415);  // the Ethernet type
  EXPECT_EQ(ind(Op::LdIndW, kSkfLlOff, 26), 0x1000u + 0x22232425);
  EXPECT_EQ(ind(Op::LdIndH, kSkfLlOff + 30, 0), 0x1000u + 0x2627);
  // The top of the SKF_LL_OFF range is 0xfffff bytes past the MAC header; below it nothing is read.
  EXPECT_EQ(abs(Op::LdAbsB, kSkfNetOff - 1), 0u);
  EXPECT_EQ(abs(Op::LdAbsB, kSkfLlOff - 1), 0u);
  EXPECT_EQ(abs(Op::LdAbsB, std::numeric_limits<int32_t>::min()), 0u);
  // LD_IND adds in 32 bits: -1 + 1 is offset 0.
  EXPECT_EQ(ind(Op::LdIndB, -1, 1), 0x1000u + 22);
  // A sched_cls skb: the data is the MAC header, the network header 14 bytes on.
  data = 8;
  EXPECT_EQ(abs(Op::LdAbsH, 12), 0x1000u + 0x1415);
  EXPECT_EQ(abs(Op::LdAbsB, kSkfNetOff), 0x1000u + 22);
  // The bounds are read at every load: a helper that moves the tail changes what can be read.
  tail = 30;
  EXPECT_EQ(abs(Op::LdAbsB, kSkfNetOff + 8), 0u);
  EXPECT_EQ(abs(Op::LdAbsB, kSkfNetOff + 7), 0x1000u + 29);
  // No MAC header set: SKF_LL_OFF loads fail, the others still work.
  pkt.mac = kNoHeader;
  EXPECT_EQ(abs(Op::LdAbsB, kSkfLlOff), 0u);
  EXPECT_EQ(abs(Op::LdAbsB, 0), 0x1000u + 8);
}

// --- Checked mode: the checked interpreter's faults ----------------------------------------------

TEST(JitChecked, FaultsCarryTheInterpretersCodeAndPc) {
  const char* programs[] = {
      "ldxdw %r0, [%r1+60]\nexit",                          // load crossing the input end
      "stdw [%r1+64], 1\nexit",                             // store past the input
      "mov %r2, %r10\nldxdw %r0, [%r2-520]\nexit",          // below the live frame
      "ldxdw %r0, [%r10]\nexit",                            // above the stack top
      "call local f\nexit\nf:\nldxdw %r0, [%r10+8]\nexit",  // the caller's frame is live: allowed
      "call local f\nexit\nf:\nldxdw %r0, [%r10+600]\nexit",
      "lddw %r1, 0x1000\nlock add [%r1+0], %r2\nexit",
      "mov %r0, 0\nl:\nadd %r0, 1\nja l",  // budget
  };
  for (const char* text : programs) {
    SCOPED_TRACE(text);
    Outcome o = run_all(assemble_or_fail(text), std::vector<uint8_t>(64, 1), false, false);
    if (std::string(text).find("[%r10+8]") == std::string::npos) {
      EXPECT_FALSE(o.ok);
    }
  }
}

TEST(JitChecked, BudgetFaultNamesTheInterpretersInstructionAndCountsExactly) {
  NullEnv env;
  Program p = assemble_or_fail("mov %r0, 0\nmov %r1, 0\nl:\nadd %r0, 1\nadd %r1, 2\njlt %r0, 1000, l\nexit");
  auto interp = Interpreter::create(p, nullptr);
  for (uint64_t budget : {0, 1, 2, 3, 4, 5, 6, 100, 3001, 3002, 3003}) {
    jit::JitOptions o;
    o.checked = true;
    o.budget = budget;
    auto j = jit::JitProgram::compile(p, nullptr, o);
    ASSERT_TRUE(j.ok());
    RunOptions ro;
    ro.budget = budget;
    RunStats si, sj;
    auto ri = (*interp)->run(RunInput{}, ro, env, &si);
    auto rj = (*j)->run(RunInput{}, env, &sj);
    ASSERT_EQ(ri.ok(), rj.ok()) << budget;
    if (!ri.ok()) {
      EXPECT_EQ(rj.error().code, ErrorCode::kBudgetExhausted);
      EXPECT_EQ(rj.error().pc, ri.error().pc) << budget;
    } else {
      EXPECT_EQ(*rj, *ri);
    }
    EXPECT_EQ(sj.insns_executed, si.insns_executed) << budget;
  }
}

TEST(JitChecked, UncheckedCodeIsRefusedForUnverifiedPrograms) {
  auto j = jit::JitProgram::compile(assemble_or_fail("mov %r0, 1\nexit"), nullptr, jit::JitOptions{});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code, ErrorCode::kJit);
}

TEST(JitChecked, MeteredUncheckedCodeStopsALongLoop) {
  jit::JitOptions o;
  o.verified = true;
  o.meter_budget = true;
  o.budget = 1000;
  auto j = jit::JitProgram::compile(assemble_or_fail("mov %r0, 0\nl:\nadd %r0, 1\nja l"), nullptr, o);
  ASSERT_TRUE(j.ok());
  NullEnv env;
  auto r = (*j)->run(RunInput{}, env);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBudgetExhausted);
}

// --- Calls: helpers, callbacks, tail calls ------------------------------------------------------

TEST(JitCalls, CallbacksRunOnTheJitWithTheirOwnFrame) {
  // The callee's frame is live, r6-r9 of the caller survive, and nested callbacks hit the depth limit.
  run_all(
      assemble_or_fail("mov %r6, 5\nlddw %r1, func(f)\ncall 1001\nadd %r0, %r6\nexit\n"
                       "f:\nstdw [%r10-8], 40\nldxdw %r0, [%r10-8]\nmov %r6, 0\nexit"));
  // Nested callbacks until the 8-frame limit: the innermost call_function ends the run with kCallDepth.
  Outcome deep =
      run_all(assemble_or_fail("lddw %r1, func(f)\ncall 1001\nexit\nf:\nlddw %r1, func(f)\ncall 1001\nexit"));
  EXPECT_FALSE(deep.ok);
  EXPECT_EQ(deep.code, ErrorCode::kCallDepth);
  run_all(assemble_or_fail("mov %r1, 5\ncall 1001\nexit"));  // not a function
}

class Progs : public TailCallTargets {
 public:
  const Interpreter* interpreter(uint32_t) const override { return nullptr; }
  const jit::JitProgram* jit_program(uint32_t id, bool checked) const override {
    if (id >= list.size()) return nullptr;
    return checked ? list[id].first : list[id].second;
  }
  std::vector<std::pair<const jit::JitProgram*, const jit::JitProgram*>> list;
};

TEST(JitCalls, TailCallsSwitchProgramsKeepR1AndStopAt33) {
  NullEnv env;
  uint8_t mem[8] = {3};
  RunInput in;
  in.args[0] = reinterpret_cast<uint64_t>(mem);
  in.regions.push_back(MemRegion{reinterpret_cast<uint64_t>(mem), sizeof mem, true, "input"});
  Progs progs;
  in.tail_calls = &progs;
  auto both = [&](const char* text) {
    Program p = assemble_or_fail(text);
    jit::JitOptions c = checked_opts(), u;
    u.verified = true;
    auto cj = jit::JitProgram::compile(p, &helpers(), c);
    auto uj = jit::JitProgram::compile(p, &helpers(), u);
    EXPECT_TRUE(cj.ok() && uj.ok());
    return std::make_pair(std::move(*cj), std::move(*uj));
  };
  auto self = both(
      "ldxb %r2, [%r1+1]\nadd %r2, 1\nstxb [%r1+1], %r2\nmov %r6, %r1\nmov %r2, 0\ncall 1003\n"
      "ldxb %r0, [%r6+1]\nexit");
  auto other = both("ldxb %r0, [%r1]\nmul %r0, 100\nadd %r0, %r6\nexit");
  auto caller = both("mov %r6, 9\nmov %r2, 1\ncall 1003\nmov %r0, 1\nexit");
  auto sub = both("call local s\nexit\ns:\nmov %r2, 1\ncall 1003\nexit");
  progs.list = {{self.first.get(), self.second.get()}, {other.first.get(), other.second.get()}};
  for (bool checked : {true, false}) {
    mem[1] = 0;
    const jit::JitProgram& s = checked ? *self.first : *self.second;
    RunStats stats;
    auto r = s.run(in, env, &stats);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(*r, 34u);
    EXPECT_EQ(stats.tail_calls, kMaxTailCalls);
    auto c = (checked ? *caller.first : *caller.second).run(in, env);
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    EXPECT_EQ(*c, 300u);
    auto e = (checked ? *sub.first : *sub.second).run(in, env);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::kUnsupported);
    EXPECT_EQ(e.error().pc, 3u);
  }
}

// --- Constant blinding --------------------------------------------------------------------------

bool contains(std::span<const uint8_t> code, const void* pattern, size_t n) {
  auto* p = static_cast<const uint8_t*>(pattern);
  return std::search(code.begin(), code.end(), p, p + n) != code.end();
}

TEST(JitBlinding, NoProgramImmediateAppearsInTheCode) {
  const uint32_t imms32[] = {0x5a17c3e9, 0x3bd1e07f, 0x6c2e9d51, 0x71f3a5c7, 0x2f4e6d8c,
                             0x4d3c2b1a, 0x1e2d3c4b, 0x6a5b4c3d, 0x0badcafe, 0x13572468};
  const uint64_t imm64 = 0x1d2c3b4a59687786;
  // A modulo (not a division): the code of a division by a constant holds only numbers derived from
  // the divisor, that of a modulo also the divisor (div_magic_test.cpp checks both).
  std::string text = fmt::format(
      "mov %r0, {0:#x}\nadd %r0, {1:#x}\nmov32 %r2, {8:#x}\nand32 %r2, {9:#x}\njeq %r0, {2:#x}, +0\n"
      "jlt32 %r2, {6:#x}, +0\nstw [%r10-4], {3:#x}\nstdw [%r10-16], {7:#x}\nmod %r0, {4:#x}\nmul %r0, "
      "{5:#x}\n"
      "lddw %r1, {10:#x}\nxor %r0, %r1\nexit",
      imms32[0], imms32[1], imms32[2], imms32[3], imms32[4], imms32[5], imms32[6], imms32[7], imms32[8],
      imms32[9], imm64);
  Program p = assemble_or_fail(text);
  for (bool checked : {true, false}) {
    // Fresh keys (no seed) several times, plus seeded keys.
    for (int round = 0; round < 8; ++round) {
      jit::JitOptions o;
      o.checked = checked;
      o.verified = true;
      if (round % 2) o.blinding_seed = static_cast<uint64_t>(round);
      auto j = jit::JitProgram::compile(p, nullptr, o);
      ASSERT_TRUE(j.ok());
      auto code = (*j)->code();
      for (uint32_t v : imms32)
        EXPECT_FALSE(contains(code, &v, 4)) << std::hex << v;
      uint32_t lo = static_cast<uint32_t>(imm64), hi = static_cast<uint32_t>(imm64 >> 32);
      EXPECT_FALSE(contains(code, &imm64, 8));
      EXPECT_FALSE(contains(code, &lo, 4));
      EXPECT_FALSE(contains(code, &hi, 4));
      // The program still computes the same value.
      NullEnv env;
      auto r = (*j)->run(RunInput{}, env);
      auto interp = Interpreter::create(p, nullptr);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(*r, *(*interp)->run(RunInput{}, RunOptions{}, env));
    }
    // Without blinding the scan finds them: the test can fail.
    jit::JitOptions plain;
    plain.checked = checked;
    plain.verified = true;
    plain.blinding = false;
    auto j = jit::JitProgram::compile(p, nullptr, plain);
    ASSERT_TRUE(j.ok());
    int found = 0;
    for (uint32_t v : imms32)
      found += contains((*j)->code(), &v, 4);
    EXPECT_EQ(found, 10);
    EXPECT_TRUE(contains((*j)->code(), &imm64, 8));
  }
}

// A loop with more blinded immediates than spare registers (some go to red-zone slots), entered by a
// jump into its middle, once in leaf code and once after a helper call (fewer spare registers).
TEST(JitBlinding, NoImmediateOfALoopAppearsInTheCodeAndTheLoopRunsAsInterpreted) {
  const uint32_t imms[] = {0x5a17c3e9, 0x3bd1e07f, 0x6c2e9d51, 0x71f3a5c7, 0x2f4e6d8c,
                           0x4d3c2b1a, 0x1e2d3c4b, 0x13572468, 0x2468ace1};
  const std::string loop = fmt::format(
      "mov %r0, 3\nmov %r1, 0\nmov %r6, 0x1357\nja mid\n"
      "top:\nadd %r0, {0:#x}\nxor %r0, {1:#x}\nmov32 %r7, {2:#x}\nadd %r0, %r7\nmul %r0, {3:#x}\n"
      "sub32 %r6, {4:#x}\nor %r6, {5:#x}\nstw [%r10-4], {6:#x}\nldxw %r8, [%r10-4]\nadd %r0, %r8\n"
      "lsh %r6, 13\nrsh %r6, 7\nadd %r0, %r6\njeq %r0, {7:#x}, out\nand %r6, {8:#x}\n"
      "mid:\nadd %r1, 1\njlt %r1, 50, top\nout:\nexit",
      imms[0], imms[1], imms[2], imms[3], imms[4], imms[5], imms[6], imms[7], imms[8]);
  for (const std::string& prefix : {std::string(), std::string("mov %r1, 2\nmov %r2, 3\ncall 1\n")}) {
    Program p = assemble_or_fail(prefix + loop);
    run_all(p);
    for (bool checked : {false, true}) {
      jit::JitOptions o;
      o.checked = checked;
      o.verified = true;
      auto j = jit::JitProgram::compile(p, &helpers(), o);
      ASSERT_TRUE(j.ok());
      for (uint32_t v : imms)
        EXPECT_FALSE(contains((*j)->code(), &v, 4)) << std::hex << v << (checked ? " checked" : "");
      o.blinding = false;
      auto plain = jit::JitProgram::compile(p, &helpers(), o);
      ASSERT_TRUE(plain.ok());
      int found = 0;
      for (uint32_t v : imms)
        found += contains((*plain)->code(), &v, 4);
      EXPECT_EQ(found, 9);
    }
  }
}

// Blinded immediates of subprograms called from a loop are restored once per run into run slots
// (RunCtl::consts), with or without a division among them.
TEST(JitBlinding, ImmediatesOfSubprogramsInRunSlotsRunAsInterpreted) {
  const uint32_t imms[] = {0x5a17c3e9, 0x3bd1e07f, 0x6c2e9d51, 0x71f3a5c7, 0x2f4e6d8c, 0x4d3c2b1a};
  for (const char* extra : {"", "div %r0, 7\n"}) {
    SCOPED_TRACE(*extra ? "with a division" : "no division");
    const std::string text = fmt::format(
        "mov %r6, 0\nmov %r7, 1\n"
        "top:\nmov %r1, %r7\nmov %r2, %r6\ncall local f\nmov %r7, %r0\nadd %r6, 1\njlt %r6, 40, top\n"
        "mov %r0, %r7\nexit\n"
        "f:\nmov32 %r3, {0:#x}\nmov %r4, {1:#x}\nxor %r1, %r3\nadd %r1, %r4\nmul %r1, {2:#x}\n"
        "add %r1, {3:#x}\nxor32 %r1, {4:#x}\njeq %r2, {5:#x}, +1\nadd %r1, %r2\nmov %r0, %r1\n{6}exit",
        imms[0], imms[1], imms[2], imms[3], imms[4], imms[5], extra);
    Program p = assemble_or_fail(text);
    run_all(p);
    jit::JitOptions o;
    o.verified = true;
    auto j = jit::JitProgram::compile(p, nullptr, o);
    ASSERT_TRUE(j.ok()) << j.error().to_string();
    EXPECT_EQ((*j)->impl().run_slots, 7u);  // the subprogram's six and the loop's compare
    for (uint32_t v : imms)
      EXPECT_FALSE(contains((*j)->code(), &v, 4)) << std::hex << v;
    NullEnv env;
    auto interp = Interpreter::create(p, nullptr);
    ASSERT_TRUE(interp.ok());
    auto r = (*j)->run(RunInput{}, env);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(*r, *(*interp)->run(RunInput{}, RunOptions{}, env));
  }
}

// --- Code generation: flags reuse, jump fusion ----------------------------------------------------

TEST(JitCodegen, FlagsOfAnAddOrSubStandInOnlyForEqualityWithZero) {
  // Overflowing add/sub: the flags' sign/overflow differ from a compare with 0 of the result.
  EXPECT_EQ(run_all(assemble_or_fail("lddw %r1, 0x8000000000000000\nmov %r2, 1\nmov %r0, 1\nsub %r1, %r2\n"
                                     "jslt %r1, 0, +1\nmov %r0, 2\nexit"))
                .r0,
            2u);
  EXPECT_EQ(run_all(assemble_or_fail("lddw %r1, 0x7fffffffffffffff\nmov %r0, 1\nadd %r1, 1\njsge %r1, 0, +1\n"
                                     "mov %r0, 2\nexit"))
                .r0,
            2u);
  EXPECT_EQ(run_all(assemble_or_fail("mov32 %r1, 0x80000000\nmov %r0, 1\nadd32 %r1, -1\njsgt32 %r1, 0, +1\n"
                                     "mov %r0, 2\nexit"))
                .r0,
            1u);
  // Equality after add/sub, across a move of another register: the flags hold.
  EXPECT_EQ(run_all(assemble_or_fail("mov %r1, 1\nmov %r2, 7\nmov %r0, 1\nadd32 %r1, -1\nmov %r3, %r2\n"
                                     "jeq32 %r1, 0, +1\nmov %r0, 2\nexit"))
                .r0,
            1u);
  // A move into the register, or a compare at another width: the flags do not hold.
  EXPECT_EQ(run_all(assemble_or_fail("mov %r1, 1\nmov %r2, 0\nmov %r0, 1\nand %r1, 1\nmov %r1, %r2\n"
                                     "jeq %r1, 0, +1\nmov %r0, 2\nexit"))
                .r0,
            1u);
  EXPECT_EQ(run_all(assemble_or_fail("lddw %r1, 0x100000000\nmov %r2, 0\nmov %r0, 1\nor %r1, %r2\n"
                                     "jeq32 %r1, 0, +1\nmov %r0, 2\nexit"))
                .r0,
            1u);
  // Not across a jump target.
  EXPECT_EQ(run_all(assemble_or_fail("mov %r1, 0\nmov %r0, 0\nja l\nm:\nor %r1, 1\nl:\nadd %r0, 1\n"
                                     "jeq %r1, 0, m\nexit"))
                .r0,
            2u);
}

TEST(JitCodegen, AConditionalJumpOverAJaBecomesOneInvertedJump) {
  // Every condition, taken and not: `jcc +1; ja out` is `j!cc out`.
  for (const char* cond : {"jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle", "jset"})
    for (int a : {0, 3, 5, -5})
      for (const char* b : {"3", "%r2", "0"}) {
        SCOPED_TRACE(fmt::format("{} {} {}", cond, a, b));
        run_all(
            assemble_or_fail(fmt::format("mov %r1, {}\nmov %r2, 3\nmov %r0, 1\n{} %r1, {}, +1\nja out\n"
                                         "mov %r0, 2\nout:\nexit",
                                         a, cond, b)));
        // As a loop latch.
        run_all(
            assemble_or_fail(fmt::format("mov %r1, {}\nmov %r0, 0\ntop:\nadd %r0, 1\nadd %r1, 1\n"
                                         "jgt %r0, 20, out\n{} %r1, {}, +1\nja top\nout:\nexit",
                                         a, cond, b)));
      }
}

// --- Memory discipline --------------------------------------------------------------------------

TEST(JitMemory, TheRunTimeTablesAreReadOnly) {
  // callx through a subprogram address: the table of native addresses is read-only.
  auto j = jit::JitProgram::compile(
      assemble_or_fail("lddw %r2, func(f)\ncall %r2\nexit\nf:\nmov %r0, 5\nexit"), nullptr, checked_opts());
  ASSERT_TRUE(j.ok()) << j.error().to_string();
  const uint64_t t = reinterpret_cast<uint64_t>((*j)->tables());
  std::ifstream maps("/proc/self/maps");
  std::string line, perms_of_t;
  while (std::getline(maps, line)) {
    uint64_t lo = 0, hi = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) == 3 && t >= lo && t < hi)
      perms_of_t = std::string(perms, 3);
  }
  EXPECT_EQ(perms_of_t, "r--");
  NullEnv env;
  EXPECT_EQ(*(*j)->run(RunInput{}, env), 5u);
}

TEST(JitMemory, NoMappingIsWritableAndExecutableAndTheCodeIsReadOnly) {
  auto j = jit::JitProgram::compile(assemble_or_fail("mov %r0, 1\nexit"), nullptr, checked_opts());
  ASSERT_TRUE(j.ok());
  const uint64_t code = reinterpret_cast<uint64_t>((*j)->code().data());
  std::ifstream maps("/proc/self/maps");
  std::string line;
  bool found = false;
  while (std::getline(maps, line)) {
    uint64_t lo = 0, hi = 0;
    char perms[5] = {};
    ASSERT_EQ(std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms), 3) << line;
    EXPECT_FALSE(perms[1] == 'w' && perms[2] == 'x') << "writable and executable: " << line;
    if (code >= lo && code < hi) {
      found = true;
      EXPECT_EQ(std::string(perms, 3), "r-x") << line;
    }
  }
  EXPECT_TRUE(found) << "the code is in no mapping";
  NullEnv env;
  EXPECT_EQ(*(*j)->run(RunInput{}, env), 1u);
}

TEST(JitMemory, ReleasedCodeIsNoLongerExecutable) {
  uint64_t addr = 0;
  {
    auto j = jit::JitProgram::compile(assemble_or_fail("mov %r0, 1\nexit"), nullptr, checked_opts());
    ASSERT_TRUE(j.ok());
    addr = reinterpret_cast<uint64_t>((*j)->code().data());
  }
  // Unmapped, or kept read-write (not executable) for a later program.
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    uint64_t lo = 0, hi = 0;
    char perms[5] = {};
    ASSERT_EQ(std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms), 3) << line;
    if (addr >= lo && addr < hi) EXPECT_NE(perms[2], 'x') << line;
  }
}

#ifndef BPFVM_JIT_TEST_ASAN
// Release builds only: the sanitizers' quarantine holds freed memory, so RSS is not flat there.
long rss_kib() {
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

TEST(JitMemory, LoadingAndUnloading100000TimesKeepsMemoryFlat) {
  Program p = assemble_or_fail("mov %r0, 0\nl:\nadd %r0, 3\njlt %r0, 30, l\nstdw [%r10-8], 77\nexit");
  NullEnv env;
  auto once = [&] {
    auto j = jit::JitProgram::compile(p, nullptr, checked_opts());
    ASSERT_TRUE(j.ok());
    ASSERT_EQ(*(*j)->run(RunInput{}, env), 30u);
  };
  for (int i = 0; i < 2000; ++i)
    once();
  const long before = rss_kib();
  for (int i = 0; i < 100000; ++i)
    once();
  const long after = rss_kib();
  EXPECT_LT(after - before, 1024) << "RSS grew from " << before << " KiB to " << after << " KiB";
}
#endif

// --- Spectre options and disassembly ------------------------------------------------------------

TEST(JitOptions, SpectreHardeningKeepsResultsAndChangesTheCode) {
  Program p = assemble_or_fail(
      "lddw %r3, func(f)\nmov %r1, 7\ncallx %r3\nldxb %r2, [%r10-1]\nadd %r0, %r2\nexit\n"
      "f:\nmov %r0, %r1\nexit");
  NullEnv env;
  jit::JitOptions base = checked_opts();
  auto plain = jit::JitProgram::compile(p, nullptr, base);
  jit::JitOptions hard = base;
  hard.retpoline = true;
  hard.spec_barrier = true;
  auto hardened = jit::JitProgram::compile(p, nullptr, hard);
  ASSERT_TRUE(plain.ok() && hardened.ok());
  EXPECT_EQ(*(*plain)->run(RunInput{}, env), 7u);
  EXPECT_EQ(*(*hardened)->run(RunInput{}, env), 7u);
  const uint8_t lfence[] = {0x0f, 0xae, 0xe8}, pause[] = {0xf3, 0x90};
  EXPECT_FALSE(contains((*plain)->code(), lfence, 3));
  EXPECT_TRUE(contains((*hardened)->code(), lfence, 3));
  EXPECT_TRUE(contains((*hardened)->code(), pause, 2));
}

TEST(JitOptions, DisassemblyNamesTheBpfInstructionOfEachBlock) {
  jit::JitOptions o = checked_opts();
  o.disassembly = true;
  auto j = jit::JitProgram::compile(assemble_or_fail("mov %r0, 5\nadd %r0, 2\nexit"), nullptr, o);
  ASSERT_TRUE(j.ok());
  std::string d = (*j)->disassembly();
  EXPECT_NE(d.find("; pc 1: add %r0, 2"), std::string::npos) << d;
  EXPECT_NE(d.find("ret"), std::string::npos);
  auto quiet = jit::JitProgram::compile(assemble_or_fail("mov %r0, 5\nexit"), nullptr, checked_opts());
  EXPECT_TRUE((*quiet)->disassembly().empty());
}

}  // namespace
}  // namespace bpfvm
