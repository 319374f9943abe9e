// Private: argument checks shared by the helper implementations.
#pragma once

#include <cstdint>
#include <string_view>

#include "helpers/context.h"
#include "vm/interp.h"

namespace bpfvm {

class Map;

namespace helpers_internal {

// A negative errno as r0.
inline uint64_t errno_ret(int64_t e) {
  return static_cast<uint64_t>(e);
}
// The HelperContext of the run, or nullptr.
HelperContext* ctx_of(HelperCall& call);
// r1 of a map helper: a map of HelperContext::maps; else fails the call and returns nullptr.
Map* map_arg(HelperCall& call, uint64_t addr);
// translate(), failing the call (naming `what`) when the memory is not accessible.
void* mem_arg(HelperCall& call, uint64_t addr, uint64_t len, bool write, std::string_view what);
// The run's simulated CPU (HelperContext::cpu), or the thread's current CPU without a context.
uint32_t run_cpu(HelperCall& call);

}  // namespace helpers_internal
}  // namespace bpfvm
