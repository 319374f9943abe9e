// How compiled code may do a `bpf_map_lookup_elem` without the helper call: the plan for one map,
// given by the embedder that owns the maps (the runtime, vm/runtime/object.cpp) to the JIT
// (jit::JitOptions::map_lookups).
//
// The JIT asks only for a call of helper 1 whose r1 is the constant address an lddw loaded in the
// same basic block, and only in unchecked code of a verified program: the verifier has proven that
// r2 points to key_size readable bytes, so the plan's code reads the key without checks. The
// result must equal what the helper returns (the interpreter still calls the helper):
//  - Array: the value of index i (the key's u32) is at base + i * stride for i < max_entries, else
//    the lookup returns null. The code is inline: a load, a compare, a multiply and an add.
//  - Direct: r0 = fn(obj, key), a plain C call that skips the helper table, the argument checks and
//    the run's bookkeeping (the checks the verifier has already made).
#pragma once

#include <cstdint>

namespace bpfvm {

// An array map's values: index i at base + i * stride, for i < max_entries. Owned by the map, at a
// fixed address for its life: blinded code reads it from there instead of putting the map's
// numbers in the code as immediates.
struct ArrayLayout {
  uint64_t base = 0;
  uint64_t max_entries = 0;  // 64-bit fields: memory operands of 64-bit instructions
  uint64_t stride = 0;
};

struct MapLookupPlan {
  enum class Kind : uint8_t { Helper, Array, Direct };
  Kind kind = Kind::Helper;  // Helper: call the helper as usual
  const ArrayLayout* array = nullptr;
  // Direct
  void* (*fn)(void* obj, const void* key) = nullptr;
  void* obj = nullptr;
};

// The maps' owner. The maps a plan refers to must outlive the compiled code.
class MapLookupPlanner {
 public:
  virtual ~MapLookupPlanner() = default;
  // The plan for the map whose address a program's lddw loaded (Helper when it is not a map).
  virtual MapLookupPlan plan(uint64_t map_addr) const = 0;
};

}  // namespace bpfvm
