// The soundness oracle: a program the verifier accepts must run in the CHECKED interpreter without
// any fault (out-of-bounds access, helper fault, call depth, bad call target, unknown helper, and
// budget exhaustion under a generous budget: a verified program terminates) on every input of its
// declared shape. Inputs are random (bytes biased towards 0x00/0xff/0x80/0x7f/0x01): raw memory of
// the declared size, xdp packets of random lengths (0 to 1600 bytes) with 0 to 32 bytes of
// metadata (the packet region is exactly [data_meta, data_end), no headroom or tailroom), maps created from
// the program's definitions and pre-populated randomly. Map values are reached through the MapSet resolver,
// which vouches for value bytes only.
//
// Findings are written as reproducer files in the tests/verifier/cases format (see
// reproducer_text), so that they replay in tests/fuzz/soundness_repro/ and can become verifier
// regression cases.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tests/fuzz/program_gen.h"
#include "vm/result.h"

namespace bpfvm::fuzz {

struct OracleOptions {
  uint32_t runs = 4;               // random inputs per accepted program
  uint64_t budget = 10'000'000;    // checked-mode instruction budget per run
  uint64_t max_steps = 1'000'000;  // verifier analysis budget (VerifyOptions::max_steps)
};

struct OracleOutcome {
  bool assembled = false;  // false: the generator produced text that does not assemble (its bug)
  std::string assemble_error;
  bool accepted = false;
  std::string reject_kind;        // first verifier error kind when rejected
  uint32_t loops_proven = 0;      // loop analyses the verifier proved by an invariant
  uint32_t runs = 0;              // checked runs made
  std::optional<Error> fault;     // the first fault of an accepted program: a soundness bug
  uint64_t fault_input_seed = 0;  // the input seed of the faulting run
};

class SoundnessOracle {
 public:
  // kInternal when low memory (MAP_32BIT) is not available.
  static Result<std::unique_ptr<SoundnessOracle>> create(const OracleOptions& opts = {});
  ~SoundnessOracle();

  // Verifies `p`; if accepted, runs it opts.runs times on inputs derived from `input_seed`.
  OracleOutcome check(const GeneratedProgram& p, uint64_t input_seed);
  // One run on the input of `input_seed` (for replaying a finding exactly).
  OracleOutcome check_one(const GeneratedProgram& p, uint64_t input_seed);
  // Runs `p` opts.runs times whatever the verdict (which is still reported): shows that the inputs
  // expose the faults of programs the verifier rejects.
  OracleOutcome check_unverified(const GeneratedProgram& p, uint64_t input_seed);

  struct Impl;

 private:
  explicit SoundnessOracle(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A reproducer file: comments with the seeds and the fault, then one case in the
// tests/verifier/cases format (type, ctx_size, maps, the disassembly of the assembled program).
std::string reproducer_text(const GeneratedProgram& p, const OracleOutcome& o);
// Parses a reproducer file back (the program text is the case's asm section). kBadInput on a
// malformed file.
Result<GeneratedProgram> parse_reproducer(const std::string& text, uint64_t* input_seed);

}  // namespace bpfvm::fuzz
