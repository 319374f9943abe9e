// Machine-readable helper prototypes, as the kernel's struct bpf_func_proto: what each argument
// must be and what the helper returns. Plain data, so that the helper table (vm/helper_table.h) can
// carry the prototype of every registered helper; the kernel helpers' prototypes are in
// helpers/proto.h.
#pragma once

#include <cstdint>
#include <string_view>

namespace bpfvm {

enum class ArgKind : uint8_t {
  None,                 // the helper does not use this argument
  Anything,             // any initialized value: scalar or pointer (ARG_ANYTHING)
  ConstMapPtr,          // a map reference loaded by lddw (ARG_CONST_MAP_PTR)
  PtrToMapKey,          // key_size initialized bytes (ARG_PTR_TO_MAP_KEY)
  PtrToMapValue,        // value_size initialized bytes (ARG_PTR_TO_MAP_VALUE)
  PtrToUninitMapValue,  // value_size writable bytes, the helper fills them
  PtrToMem,             // initialized readable memory, size in the next argument (ARG_PTR_TO_MEM|MEM_RDONLY)
  PtrToMemOrNull,       // the same, or NULL with a size of 0
  PtrToUninitMem,       // writable memory the helper fills, size in the next argument
  PtrToUninitMemOrNull,
  ConstSize,             // size of the previous memory argument, known bounds, > 0
  ConstSizeOrZero,       // the same, may be 0
  ConstAllocSizeOrZero,  // size of memory the helper allocates (ringbuf_reserve)
  PtrToCtx,              // the program's context pointer, unmodified
  PtrToStackOrNull,      // callback context: pointer to stack or NULL
  PtrToFunc,             // a subprogram loaded with lddw func (callback)
  PtrToSpinLock,         // struct bpf_spin_lock inside a map value
  PtrToAllocMem,         // a ringbuf record from ringbuf_reserve (released by the call)
  PtrToConstStr,         // NUL-terminated string in read-only map memory
  PtrToLong,             // writable 8 bytes
};

enum class RetKind : uint8_t {
  Integer,              // a scalar
  Void,                 // nothing meaningful (r0 unknown scalar in the kernel's view)
  PtrToMapValueOrNull,  // map_lookup_elem
  PtrToAllocMemOrNull,  // ringbuf_reserve: size from the ConstAllocSizeOrZero argument
  NoReturn,             // tail_call on success does not return
};

struct HelperProto {
  uint32_t id;
  std::string_view name;  // without the bpf_ prefix
  RetKind ret;
  ArgKind args[5];
  bool gpl_only;
  bool releases_arg1;  // ringbuf_submit/discard release the reservation passed in r1
  bool callback;       // calls a BPF function (loop, for_each_map_elem)
  // May move or resize the packet (the kernel's bpf_helper_changes_pkt_data): packet pointers
  // derived before the call are invalid after it.
  bool changes_packet = false;
};

}  // namespace bpfvm
