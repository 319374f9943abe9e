// `--backend user|kernel` on run, bench, verify and inspect, and `bpfvm diff` (tools/diff_cli.cpp):
// the commands that go through the backend interface (vm/runtime/backend.h). `--backend user` (the
// default) keeps the commands' own user-space paths; the hooks below take over for the others.
#pragma once

#include <string>

#include <boost/program_options.hpp>

#include "vm/runtime/backend.h"

namespace bpfvm::cli {

// The --backend option (default "user").
void add_backend_option(boost::program_options::options_description& d);
// True when --backend names anything but "user" (an unknown name is reported by the commands below).
bool uses_backend(const boost::program_options::variables_map& vm);

// run / bench, verify, inspect through the backend named by --backend.
int backend_run(const boost::program_options::variables_map& vm, bool bench);
int backend_verify(const boost::program_options::variables_map& vm);
int backend_inspect(const boost::program_options::variables_map& vm);

// bpfvm diff (tools/diff_cli.cpp).
void add_diff_options(boost::program_options::options_description& d);
int diff_command(const boost::program_options::variables_map& vm);

// Shared by backend_cli.cpp and diff_cli.cpp: every map of a loaded backend, as text lines
// ("name (type, key K B, value V B, max M)" then "  key => value") and as JSON.
std::string dump_backend_maps_text(Backend& b);
std::string hex_bytes(const std::vector<uint8_t>& v);

}  // namespace bpfvm::cli
