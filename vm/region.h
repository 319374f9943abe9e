// Memory a program may access: the fixed regions of a run and the resolver of memory that appears
// during it. Kept apart from vm/interp.h so that libraries that vouch for memory (maps) need not
// include the engine.
#pragma once

#include <cstdint>
#include <string_view>

namespace bpfvm {

// A block of host memory that a program may access.
struct MemRegion {
  uint64_t base = 0;
  uint64_t size = 0;
  bool writable = false;
  std::string_view name;  // "input", "packet", "ctx", "map value", ... for error messages
};

// Memory that appears during a run besides the fixed regions and the stack: map values returned by
// map_lookup_elem, ringbuf records. Checked mode and HelperCall::translate ask the resolver about
// addresses that no fixed region or live stack frame contains.
class RegionResolver {
 public:
  virtual ~RegionResolver() = default;
  // The whole of [addr, addr + len) lies in memory the resolver vouches for (writable if `write`).
  // `name` is set to a short description ("map 'flows' value") for error messages.
  // `name` may be null. Called on the slow path only (after the fixed regions and the stack).
  // Memory vouched for must stay valid for the whole run: the engine may remember the span
  // (span_from) of an answer until the run ends.
  virtual bool contains(uint64_t addr, uint64_t len, bool write, std::string_view* name) const = 0;
  // Number of bytes from `addr` to the end of the vouched-for memory that contains it (writable if
  // `write`), 0 when none does. The default searches with contains() up to 64 KiB.
  virtual uint64_t span_from(uint64_t addr, bool write) const;
};

}  // namespace bpfvm
