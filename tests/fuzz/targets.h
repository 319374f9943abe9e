// Fuzz targets: each takes arbitrary bytes and must never crash, hang or grow memory without bound.
// The same functions run in the regular test suite (on generated and mutated inputs, under
// AddressSanitizer and UndefinedBehaviorSanitizer in CI) and, built with clang and
// -DBPFVM_LIBFUZZER=ON, as libFuzzer binaries for open-ended campaigns (scripts/fuzz.sh).
#pragma once

#include <cstddef>
#include <cstdint>

namespace bpfvm::fuzz {

// Decoder, then (if it decodes) the checked interpreter on a small input with a small budget,
// then the disassembler and the assembler on its output (which must round-trip).
void decode_and_run(const uint8_t* data, size_t size);
// Assembler on arbitrary text.
void assemble_text(const uint8_t* data, size_t size);
// Conformance .data parser on arbitrary text.
void parse_data(const uint8_t* data, size_t size);
// Decoder, then (if it decodes) the checked JIT against the checked interpreter on a small input
// with a small budget: same r0, same memory, same fault code and pc (tests/fuzz/diff_oracle.h).
// Defined in tests/fuzz/jit_target.cpp (library bpfvm_jitdiff, which links the JIT).
void jit_vs_interp(const uint8_t* data, size_t size);

}  // namespace bpfvm::fuzz
