#include "helpers/core_helpers.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace bpfvm {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_print_or_space(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u >= 0x20 && u < 0x7f) || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Appends snprintf output; returns its untruncated length.
template <class... A>
size_t append(std::string* out, const std::string& spec, A... args) {
  char buf[kTracePrintkBufSize];
  int n = std::snprintf(buf, sizeof buf, spec.c_str(), args...);
  if (n < 0) return 0;
  size_t len = static_cast<size_t>(n);
  out->append(buf, len < sizeof buf ? len : sizeof buf - 1);
  return len;
}

uint64_t ktime_get_ns(HelperCall& call, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  return call.env().ktime_ns();
}

uint64_t get_prandom_u32(HelperCall& call, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  return call.env().prandom_u32();
}

uint64_t trace_printk(HelperCall& call, uint64_t fmt, uint64_t size, uint64_t a1, uint64_t a2, uint64_t a3) {
  std::string text;
  int64_t n = trace_printk_format(call, fmt, size, a1, a2, a3, &text);
  if (n >= 0) call.env().trace(text);
  return static_cast<uint64_t>(n);
}

}  // namespace

int64_t trace_printk_format(HelperCall& call,
                            uint64_t fmt_addr,
                            uint64_t size,
                            uint64_t arg1,
                            uint64_t arg2,
                            uint64_t arg3,
                            std::string* out) {
  out->clear();
  if (size == 0) return -EINVAL;
  const char* f = static_cast<const char*>(call.translate(fmt_addr, size, false));
  if (f == nullptr) return -EFAULT;
  size_t len = strnlen(f, size);
  if (len == size) return -EINVAL;  // not NUL-terminated within size
  const uint64_t args[3] = {arg1, arg2, arg3};
  return bprintf_format(call, f, len, args, kTracePrintkBufSize - 1, out);
}

int64_t bprintf_format(HelperCall& call,
                       const char* f,
                       size_t len,
                       std::span<const uint64_t> args,
                       size_t max_out,
                       std::string* out) {
  out->clear();
  size_t nargs = 0;
  size_t total = 0;
  std::string text;
  for (size_t i = 0; i < len; ++i) {
    char c = f[i];
    if (!is_print_or_space(c)) return -EINVAL;
    if (c != '%') {
      text += c;
      ++total;
      continue;
    }
    if (f[i + 1] == '%') {
      text += '%';
      ++total;
      ++i;
      continue;
    }
    if (nargs == args.size()) return -EINVAL;
    uint64_t arg = args[nargs++];
    std::string spec = "%";
    ++i;
    // Optional "[0 +-][width]", as the kernel accepts.
    while (f[i] == '0' || f[i] == '+' || f[i] == '-' || f[i] == ' ')
      spec += f[i++];
    int width = 0;
    while (is_digit(f[i])) {
      width = width * 10 + (f[i] - '0');
      if (width >= static_cast<int>(kTracePrintkBufSize)) return -EINVAL;
      spec += f[i++];
    }
    int longs = 0;
    while (f[i] == 'l' && longs < 2) {
      ++longs;
      ++i;
    }
    char conv = f[i];  // f[len] is the NUL, so this never reads past the format
    switch (conv) {
      case 'd':
      case 'i':
        total += longs ? append(&text, spec + "lld", static_cast<long long>(arg))
                       : append(&text, spec + "d", static_cast<int>(static_cast<uint32_t>(arg)));
        break;
      case 'u':
      case 'x':
      case 'X':
        total += longs ? append(&text, spec + "ll" + conv, static_cast<unsigned long long>(arg))
                       : append(&text, spec + conv, static_cast<unsigned>(arg));
        break;
      case 'c':
        if (longs) return -EINVAL;
        total += append(&text, spec + "c", static_cast<int>(static_cast<unsigned char>(arg)));
        break;
      case 's': {
        if (longs) return -EINVAL;
        // The string must lie in readable memory; it is read up to its NUL or the end of the region,
        // at most kTracePrintkBufSize - 1 bytes. Unreadable: empty, as the kernel does.
        uint64_t avail = call.span_from(arg, false);
        if (avail > kTracePrintkBufSize - 1) avail = kTracePrintkBufSize - 1;
        std::string s;
        if (avail > 0) {
          const char* p = static_cast<const char*>(call.translate(arg, avail, false));
          if (p != nullptr) s.assign(p, strnlen(p, avail));
        }
        total += append(&text, spec + "s", s.c_str());
        break;
      }
      case 'p': {
        if (longs) return -EINVAL;
        if (f[i + 1] == 'K' || f[i + 1] == 'x')
          ++i;
        else if (is_alnum(f[i + 1]))
          return -EINVAL;  // %pB, %pI4, %pks, ...: not supported
        total += append(&text, "%016llx", static_cast<unsigned long long>(arg));
        break;
      }
      default:
        return -EINVAL;
    }
  }
  if (text.size() > max_out) text.resize(max_out);
  *out = std::move(text);
  return static_cast<int64_t>(total);
}

void register_core_helpers(HelperTable& table) {
  (void)table.add(static_cast<uint32_t>(CoreHelperId::kKtimeGetNs), "ktime_get_ns", ktime_get_ns);
  (void)table.add(static_cast<uint32_t>(CoreHelperId::kTracePrintk), "trace_printk", trace_printk);
  (void)table.add(static_cast<uint32_t>(CoreHelperId::kGetPrandomU32), "get_prandom_u32", get_prandom_u32);
}

}  // namespace bpfvm
