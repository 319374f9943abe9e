// Kernel helpers that need nothing but the Environment: bpf_ktime_get_ns (5), bpf_trace_printk (6)
// and bpf_get_prandom_u32 (7), with the kernel's numbers and names.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vm/helper_table.h"
#include "vm/interp.h"

namespace bpfvm {

enum class CoreHelperId : uint32_t {
  kKtimeGetNs = 5,
  kTracePrintk = 6,
  kGetPrandomU32 = 7,
};

// Registers the helpers above in `table` (replacing helpers with the same numbers).
void register_core_helpers(HelperTable& table);

// bpf_trace_printk's output buffer, as the kernel's MAX_BPRINTF_BUF: longer output is truncated.
constexpr size_t kTracePrintkBufSize = 512;

// The formatting of bpf_trace_printk, as the kernel's bpf_bprintf_prepare + bstr_printf: the format
// is `size` bytes at `fmt` (translated through `call`, NUL-terminated within `size`), with up to 3
// arguments. Conversions: %d %i %u %x %X %c %s %p (%pK, %px) with l/ll modifiers on the integer
// ones, %%, flags "0+- " and a width up to 511. On success returns the length of the full output
// (as vsnprintf does) and sets `out` to it, truncated to kTracePrintkBufSize - 1 bytes. Errors are
// negative errnos: -EFAULT when the format is not readable memory, -EINVAL for a format that is not
// NUL-terminated, has an unsupported conversion, a non-printable character or more than 3 arguments.
// A %s argument that is not readable prints as the empty string, as in the kernel. %p prints the
// raw address (the kernel prints a hashed one).
int64_t trace_printk_format(HelperCall& call,
                            uint64_t fmt,
                            uint64_t size,
                            uint64_t arg1,
                            uint64_t arg2,
                            uint64_t arg3,
                            std::string* out);

// The formatting engine behind trace_printk_format and bpf_snprintf (the kernel's
// bpf_bprintf_prepare + bstr_printf): `fmt` is host memory of `len` characters followed by a NUL,
// `args` the raw arguments (a conversion beyond args.size() is -EINVAL). Returns the untruncated
// output length or a negative errno; `out` gets the output truncated to `max_out` bytes.
int64_t bprintf_format(HelperCall& call,
                       const char* fmt,
                       size_t len,
                       std::span<const uint64_t> args,
                       size_t max_out,
                       std::string* out);

}  // namespace bpfvm
