// Generator of random VALID programs for differential testing of execution engines (the JIT
// against the interpreter, tests/fuzz/diff_oracle.h).
//
// Unlike the verifier soundness generator (tests/fuzz/program_gen.h), which wants programs that
// are sometimes wrong, every program here is safe by construction, so that it can run on unchecked
// engines: every address is the input memory or a stack frame plus a constant in range or a
// masked variable offset, loops count a protected register up or down to a small bound, calls only
// go to functions placed after the caller (no recursion), callbacks return 0 or 1.
//
// Conventions (those of the conformance suite): r1 = input memory, r2 = its size. The input is
// laid out as
//   [0, data_size)                   data the program reads and writes (random initial bytes)
//   [data_size, data_size + 512)     the main frame's 512 stack bytes, copied there at exit
//   then 64 bytes per other function the last stack bytes of that function's frame at its exit
// so that comparing the input memory after a run compares the stacks too (no engine API needed).
// The main function keeps the input pointer in r9; every other function gets it (a subprogram as
// r1, a bpf_loop callback through a slot of its caller's stack) and keeps it in r9 as well. Other
// functions use only the top 64 bytes of their frame and zero them first (the main frame relies on
// the VM zeroing the stack at the start of a run).
//
// Coverage: ALU and ALU32 with immediates and registers (v4 sdiv/smod, movsx, bswap, le/be, neg,
// division by 0 and INT_MIN / -1, shift amounts >= the width in registers), lddw with interesting
// 64-bit constants, loads and stores of every size (sign-extending loads, load-acquire and
// store-release, store immediates) on the stack and the input, atomics (add/or/and/xor with and
// without fetch, xchg, cmpxchg; 32 and 64-bit, aligned), JMP and JMP32 with every condition,
// ja / ja32 forward jumps, bounded loops (with breaks), bpf-to-bpf calls (call local and callx
// through lddw func; some subprograms get a pointer into their caller's frame and write through
// it), helper calls through call and callx (bpf_get_prandom_u32 and bpf_ktime_get_ns in a seeded
// environment, bpf_probe_read_kernel from the input into the stack, bpf_loop with a callback),
// addresses as a base plus a large displacement (a register pointing far away), variable-offset
// stack loops, and the shapes of the JIT's fusions (jit/x86/fuse.cpp): table-style indexed loads,
// commutative operations copied back, constants read on one edge of a branch, masked shift counts,
// copies shifted, byte pairs combined into 16-bit values.
// may_goto is not generated: bpfvm does not run it (vm/decode.h).
//
// A small fraction of programs (DiffGenOptions::fault_permille) gets one deliberately faulting
// instruction (an out-of-bounds load or store, a callx of a bad target, unbounded recursion, an
// endless loop) for comparing the faults of checked engines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bpfvm::fuzz {

struct DiffGenOptions {
  uint32_t min_snippets = 4;
  uint32_t max_snippets = 24;
  // Probability (in 1/1000) that a program contains one deliberately faulting instruction.
  uint32_t fault_permille = 20;
};

struct DiffProgram {
  uint64_t seed = 0;
  std::string asm_text;      // docs/ASSEMBLY.md syntax
  std::vector<uint8_t> mem;  // the initial input memory (r1 = mem, r2 = mem.size())
  uint32_t data_size = 0;    // bytes of data before the stack copies
  bool may_fault = false;    // a deliberately faulting instruction was inserted
};

DiffProgram generate_diff_program(uint64_t seed, const DiffGenOptions& opts = {});

}  // namespace bpfvm::fuzz
