#include "tests/fuzz/targets.h"

#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "helpers/core_helpers.h"
#include "helpers/environment.h"
#include "vm/asm.h"
#include "vm/data_file.h"
#include "vm/decode.h"
#include "vm/disasm.h"
#include "vm/interp.h"

namespace bpfvm::fuzz {
namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

const HelperTable& helpers() {
  static const HelperTable t = [] {
    HelperTable h;
    register_core_helpers(h);
    return h;
  }();
  return t;
}

}  // namespace

void decode_and_run(const uint8_t* data, size_t size) {
  auto p = decode(std::span<const uint8_t>(data, size), DecodeOptions{.max_insns = 4096, .allow_unsupported = true});
  if (!p) {
    if (p.error().msg.empty()) die("decode error without a message");
    return;
  }
  if (encode(p->insns) != std::vector<uint8_t>(data, data + size)) die("encode(decode(b)) != b");
  // The disassembly assembles back to the same bytes.
  std::string text = disassemble(*p);
  AsmOptions ao;
  ao.allow_unsupported = true;
  auto again = assemble(text, ao);
  if (!again) die("disassembly does not assemble");
  if (encode(again->program.insns) != std::vector<uint8_t>(data, data + size)) die("asm(disasm(p)) != p");
  // Programs with unsupported instructions are not run.
  auto runnable = decode(std::span<const uint8_t>(data, size), DecodeOptions{.max_insns = 4096});
  if (!runnable) return;
  auto interp = Interpreter::create(*runnable, &helpers());
  if (!interp) return;
  EnvironmentOptions eo;
  eo.seed = 1;
  eo.trace_file = nullptr;
  DefaultEnvironment env(eo);
  uint8_t mem[64];
  std::memset(mem, 0xab, sizeof mem);
  RunOptions ro;
  ro.checked = true;
  ro.budget = 10000;
  auto r = (*interp)->run(std::span<uint8_t>(mem, sizeof mem), ro, env);
  if (!r && r.error().msg.empty()) die("fault without a message");
}

void assemble_text(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto a = assemble(text);
  if (!a) {
    if (a.error().msg.empty()) die("assembler error without a message");
    return;
  }
  auto again = assemble(disassemble(a->program));
  if (!again) die("disassembly of an assembled program does not assemble");
  if (encode(again->program.insns) != encode(a->program.insns)) die("asm(disasm(asm(t))) != asm(t)");
}

void parse_data(const uint8_t* data, size_t size) {
  auto d = parse_data_file(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!d) return;
  auto code = program_bytes(*d);
  (void)code;
}

}  // namespace bpfvm::fuzz
