#include "vm/result.h"

#include <fmt/format.h>

namespace bpfvm {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kIo: return "io";
    case ErrorCode::kBadInput: return "bad-input";
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kEmptyProgram: return "empty-program";
    case ErrorCode::kProgramTooLarge: return "program-too-large";
    case ErrorCode::kUnknownOpcode: return "unknown-opcode";
    case ErrorCode::kReservedField: return "reserved-field";
    case ErrorCode::kBadRegister: return "bad-register";
    case ErrorCode::kWriteToR10: return "write-to-r10";
    case ErrorCode::kLddwIncomplete: return "lddw-incomplete";
    case ErrorCode::kJumpOutOfRange: return "jump-out-of-range";
    case ErrorCode::kJumpIntoLddw: return "jump-into-lddw";
    case ErrorCode::kFallsOffEnd: return "falls-off-end";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kAsmSyntax: return "asm-syntax";
    case ErrorCode::kOutOfBounds: return "out-of-bounds";
    case ErrorCode::kCallDepth: return "call-depth";
    case ErrorCode::kBudgetExhausted: return "budget-exhausted";
    case ErrorCode::kUnknownHelper: return "unknown-helper";
    case ErrorCode::kBadCallTarget: return "bad-call-target";
    case ErrorCode::kHelperFault: return "helper-fault";
    case ErrorCode::kElf: return "elf";
    case ErrorCode::kVerifier: return "verifier";
    case ErrorCode::kJit: return "jit";
    case ErrorCode::kInternal: return "internal";
  }
  return "?";
}

std::string Error::to_string() const {
  if (pc == kNoPc) return msg;
  if (code == ErrorCode::kAsmSyntax) return fmt::format("line {}: {}", pc, msg);
  return fmt::format("at PC {}: {}", pc, msg);
}

}  // namespace bpfvm

#include "vm/map_def.h"

namespace bpfvm {

const char* map_type_name(MapType t) {
  switch (t) {
    case MapType::Unspec: return "unspec";
    case MapType::Hash: return "hash";
    case MapType::Array: return "array";
    case MapType::ProgArray: return "prog_array";
    case MapType::PerfEventArray: return "perf_event_array";
    case MapType::PercpuHash: return "percpu_hash";
    case MapType::PercpuArray: return "percpu_array";
    case MapType::StackTrace: return "stack_trace";
    case MapType::CgroupArray: return "cgroup_array";
    case MapType::LruHash: return "lru_hash";
    case MapType::LruPercpuHash: return "lru_percpu_hash";
    case MapType::LpmTrie: return "lpm_trie";
    case MapType::ArrayOfMaps: return "array_of_maps";
    case MapType::HashOfMaps: return "hash_of_maps";
    case MapType::Devmap: return "devmap";
    case MapType::Sockmap: return "sockmap";
    case MapType::Cpumap: return "cpumap";
    case MapType::Xskmap: return "xskmap";
    case MapType::Sockhash: return "sockhash";
    case MapType::CgroupStorage: return "cgroup_storage";
    case MapType::ReuseportSockarray: return "reuseport_sockarray";
    case MapType::PercpuCgroupStorage: return "percpu_cgroup_storage";
    case MapType::Queue: return "queue";
    case MapType::Stack: return "stack";
    case MapType::SkStorage: return "sk_storage";
    case MapType::DevmapHash: return "devmap_hash";
    case MapType::StructOps: return "struct_ops";
    case MapType::Ringbuf: return "ringbuf";
    case MapType::InodeStorage: return "inode_storage";
    case MapType::TaskStorage: return "task_storage";
    case MapType::BloomFilter: return "bloom_filter";
    case MapType::UserRingbuf: return "user_ringbuf";
    case MapType::CgrpStorage: return "cgrp_storage";
    case MapType::Arena: return "arena";
  }
  return "unknown";
}

}  // namespace bpfvm
