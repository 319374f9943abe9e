// Small pieces shared by the command-line programs.
#pragma once

#include <string>

#include "vm/result.h"

namespace bpfvm::cli {

// Exit codes of every bpfvm command.
constexpr int kExitOk = 0;
constexpr int kExitRejected = 1;  // the program was rejected or faulted at run time
constexpr int kExitUsage = 2;     // usage errors, unreadable or undecodable input

// Prints "<prog>: <error>" to stderr.
void print_error(const std::string& prog, const Error& e);
// The exit code for an error: run-time faults and rejections give 1, everything else 2.
int exit_code_for(const Error& e);
// print_error, then the error's exit code (exit_code_for).
int fail(const std::string& prog, const Error& e);

}  // namespace bpfvm::cli
