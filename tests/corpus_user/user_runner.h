// The user-space side of the corpus comparison: runs one corpus RunRequest through the runtime
// Object (vm/runtime/object.h) and reports a kernel::RunResult, the same struct the kernel runner
// fills, so kernel::check_run judges both the same way.
#pragma once

#include <functional>

#include "tests/kernel/kernel_runner.h"
#include "vm/helper_table.h"
#include "vm/runtime/vm.h"
#include "vm/result.h"

namespace bpfvm::corpus_user {

struct UserRunOptions {
  uint32_t num_cpus = 4;  // simulated CPUs: the size of per-CPU value lists
  // Extra helpers (until the kernel helpers are registered by the runtime itself).
  std::function<void(HelperTable&)> add_helpers;
  // The engine (ObjectOptions::engine), and whether every program is verified first (accepted
  // programs then run unchecked, as Object::run decides).
  Engine engine = Engine::Interp;
  bool verify = false;
};

// Loads the object afresh, applies maps_before, runs the program (repeat times) on the request's
// CPU and collects r0, the packet, the context, every dumpable map and every ring buffer, following
// the kernel runner's conventions (data_out/ctx_out only when data/ctx were given; none for
// raw_tracepoint ctx_out).
Result<kernel::RunResult> user_run(const kernel::RunRequest& req, const UserRunOptions& opts = {});

}  // namespace bpfvm::corpus_user
