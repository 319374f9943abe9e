// Machine-readable helper prototypes, as the kernel's struct bpf_func_proto: what each argument
// must be and what the helper returns. The verifier checks calls against them; the kernel's names
// and numbers come from helper_names.def.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "vm/elf/prog_type.h"
#include "vm/helper_proto.h"

namespace bpfvm {

// Prototype of a kernel helper the verifier knows (implemented or verify-only), or nullptr.
const HelperProto* find_proto(uint32_t id);
const HelperProto* find_proto(std::string_view name);
// Prototypes of the helpers bpfvm implements (register_kernel_helpers registers each of them).
std::span<const HelperProto> all_protos();
// Prototypes of kernel helpers bpfvm does not implement: verifiable, but a call faults at run time
// with kUnknownHelper unless the embedder registers an implementation.
std::span<const HelperProto> verify_only_protos();
// nullptr when programs of `type` may call helper `id`; else the program types that may (the
// kernel offers many helpers to some program types only). ProgType::Raw may call every helper.
const char* helper_restricted_for(uint32_t id, ProgType type);

// Kernel name of helper `id` (any helper the kernel has, implemented or not), or "" if unknown.
std::string_view kernel_helper_name(uint32_t id);
// Kernel number of helper `name` ("map_lookup_elem" or "bpf_map_lookup_elem"), or 0.
uint32_t kernel_helper_id(std::string_view name);

}  // namespace bpfvm
