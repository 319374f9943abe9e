// Machine-readable helper prototypes, as the kernel's struct bpf_func_proto: what each argument
// must be and what the helper returns. The verifier checks calls against them; the kernel's names
// and numbers come from helper_names.def.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "vm/helper_proto.h"

namespace bpfvm {

// Prototype of a helper bpfvm implements, or nullptr.
const HelperProto* find_proto(uint32_t id);
const HelperProto* find_proto(std::string_view name);
std::span<const HelperProto> all_protos();

// Kernel name of helper `id` (any helper the kernel has, implemented or not), or "" if unknown.
std::string_view kernel_helper_name(uint32_t id);
// Kernel number of helper `name` ("map_lookup_elem" or "bpf_map_lookup_elem"), or 0.
uint32_t kernel_helper_id(std::string_view name);

}  // namespace bpfvm
