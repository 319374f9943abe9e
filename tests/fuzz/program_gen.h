// Generator of random well-formed eBPF programs for the verifier soundness fuzzer.
//
// Not random bytes: the generator tracks roughly what each register and stack slot holds (scalar,
// context, stack, packet / packet end, map pointer, map value or null, uninitialized) and mostly
// emits plausible code on top of that: scalar ALU of every kind (32/64-bit, sdiv/smod, movsx,
// byte swaps), spills and fills at in-range and sometimes out-of-range offsets, context reads (raw
// input of a declared size; xdp data/data_end with packet bounds checks, sometimes off by one), map
// lookups on an array and a hash map with or without null checks (constant and variable, bounded or
// unbounded value offsets), helper calls with correct and incorrect arguments, JMP/JMP32 branches,
// counter loops (and occasionally unbounded ones), bpf-to-bpf calls (scalar or caller-stack pointer
// arguments) and bpf_loop callbacks. Two snippets aim at the verifier's weak spots: offset chains
// (an unknown scalar through a random chain of 32/64-bit ALU ops and signed/unsigned range checks,
// then used as a variable offset into the stack, the input or a map value) and clobbered spills (a
// spilled pointer partly overwritten by a narrow store, an atomic, a helper or a callee, then
// filled and dereferenced). A small fraction of the emitted snippets is deliberately wrong
// (GenOptions::bad_permille), so that the verifier sees both kinds of programs.
//
// The output is assembly text (docs/ASSEMBLY.md; maps as `map_fd(<index>)`) plus what the verifier
// and the runner need to know. The same seed always gives the same program.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vm/elf/prog_type.h"
#include "vm/map_def.h"

namespace bpfvm::fuzz {

struct GenOptions {
  uint32_t min_snippets = 3;
  uint32_t max_snippets = 16;
  // Per snippet: probability (in 1/1000) of a deliberately dubious variant (bad offset, missing
  // check, wrong helper argument, ...).
  uint32_t bad_permille = 30;
};

struct GeneratedProgram {
  uint64_t seed = 0;
  ProgType type = ProgType::Raw;
  uint32_t raw_ctx_size = 0;  // ProgType::Raw: bytes of input memory
  std::vector<MapDef> maps;   // index = map_fd(index) in the text
  std::string asm_text;
};

GeneratedProgram generate_program(uint64_t seed, const GenOptions& opts = {});

}  // namespace bpfvm::fuzz
