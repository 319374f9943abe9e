// JIT options of `bpfvm run/bench` and the `bpfvm jit-dump` command.
#pragma once

#include <boost/program_options.hpp>

#include "vm/runtime/vm.h"

namespace bpfvm::cli {

// The default engine of run and bench: the JIT where the host supports it, else the interpreter.
const char* default_engine();
// --no-blinding, --spectre.
void add_jit_options(boost::program_options::options_description& d);
// The JitOptions the options ask for (kBadInput for an unknown --spectre value).
Result<jit::JitOptions> jit_options(const boost::program_options::variables_map& vm);
// Parses --engine and --no-blinding/--spectre into `eo`.
Status apply_engine_options(const boost::program_options::variables_map& vm, ExecOptions* eo);

void add_jit_dump_options(boost::program_options::options_description& d);
int jit_dump_command(const boost::program_options::variables_map& vm);

}  // namespace bpfvm::cli
