// The ELF object side of the bpfvm CLI: `run`/`bench` of an object's program with its context,
// `inspect`, and `disasm` with source lines. Thin: the work is done by vm/runtime/object.h.
#pragma once

#include <string>

#include <boost/program_options.hpp>

namespace bpfvm::cli {

bool is_elf_file(const std::string& path);
// True when `run`/`bench` go through the runtime Object: ELF input, or --type/--packet given.
bool uses_object_path(const boost::program_options::variables_map& vm);
int run_object(const boost::program_options::variables_map& vm, bool bench);
int inspect_object(const boost::program_options::variables_map& vm);
int disasm_object(const boost::program_options::variables_map& vm);

}  // namespace bpfvm::cli
