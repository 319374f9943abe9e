// Helper dispatch by kernel helper number. The table is filled by the helpers library (kernel
// helpers) and by embedders (their own functions); the interpreter and the JIT call through it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vm/helper_proto.h"
#include "vm/result.h"

namespace bpfvm {

class HelperCall;  // vm/interp.h

// A helper receives r1..r5 and returns r0.
using HelperFn =
    uint64_t (*)(HelperCall& call, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5);

struct HelperEntry {
  uint32_t id = 0;
  std::string name;  // kernel name without the bpf_ prefix, e.g. "ktime_get_ns"
  HelperFn fn = nullptr;
  void* user = nullptr;  // handed to the function as HelperCall::user()
  // What the helper takes and returns (for verifiers); nullptr when the registrant gave none.
  const HelperProto* proto = nullptr;
};

// Name of a helper number that has no entry, for error messages ("" when unknown). The helpers
// library installs the kernel's names (helpers/proto.h kernel_helper_name).
using HelperNamer = std::string_view (*)(uint32_t id);

class HelperTable {
 public:
  // Adds or replaces the helper with number `id`. Fails on an empty name or null function.
  // `proto`, when given, must outlive the table (HelperEntry::proto).
  Status add(uint32_t id,
             std::string name,
             HelperFn fn,
             void* user = nullptr,
             const HelperProto* proto = nullptr);
  // nullptr when there is no such helper. O(1) for ids below kDenseIds.
  const HelperEntry* find(uint32_t id) const {
    if (id < dense_.size()) return dense_[id];
    auto it = sparse_.find(id);
    return it == sparse_.end() ? nullptr : it->second;
  }
  const HelperEntry* find(std::string_view name) const;
  std::vector<const HelperEntry*> entries() const;  // sorted by id

  static constexpr uint32_t kDenseIds = 1024;

  // Names for helper numbers without an entry (for "helper 9 (bpf_skb_store_bytes) is not
  // implemented by bpfvm"); nullptr by default.
  void set_namer(HelperNamer namer) { namer_ = namer; }
  HelperNamer namer() const { return namer_; }

 private:
  HelperNamer namer_ = nullptr;
  std::vector<std::unique_ptr<HelperEntry>> owned_;
  std::vector<const HelperEntry*> dense_ = std::vector<const HelperEntry*>(kDenseIds, nullptr);
  std::unordered_map<uint32_t, const HelperEntry*> sparse_;
};

}  // namespace bpfvm
