// `bpfvm verify` and the verifier verdicts `run`/`bench` print. Thin: the verification is
// Object::verify / Vm::verify_and_prepare (vm/runtime), the analysis is verifier/verifier.h.
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "verifier/verifier.h"
#include "vm/elf/elf_loader.h"

namespace bpfvm::cli {

// "OutOfBounds at pc 12: <message>" for the first error of a rejection.
std::string first_error(const verifier::VerifyResult& r);
// Every error of a rejection, one indented block each: pc and instruction, source line (from
// `lines`, one entry per instruction of `code`, when present), registers, path, explanation, hint.
std::string describe_errors(const verifier::VerifyResult& r,
                            const Program& code,
                            const std::vector<LineInfo>& lines);
// "verifier: accepted (N insns, T ms)" / "verifier: rejected (N insns, T ms): <first error>".
std::string verdict_line(const verifier::VerifyResult& r, size_t insns);

void add_verify_options(boost::program_options::options_description& d);
int verify_command(const boost::program_options::variables_map& vm);

}  // namespace bpfvm::cli
