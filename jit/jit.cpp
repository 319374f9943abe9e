// The x86-64 JIT (asmjit's assembler, no JitRuntime): compile() and the program's accessors.
//
// Where things are: jit/x86/ generates the code (emitter_p.h: register mapping and the emit
// functions, one file per instruction group); jit/blinding.{h,cpp} is the only reader of program
// immediates; jit/code_memory.h holds the code under W^X (on vm/sealed.h); jit/run.cpp is the run-time side
// (a run's state, the entry points generated code calls, JitProgram::run).
//
// The entry thunk saves the host's callee-saved registers and the native stack pointer in
// RunCtl::saved_rsp; a fault, or an LD_ABS/LD_IND out of the packet, "unwinds" by restoring that
// stack pointer and jumping to the thunk's exit. Callbacks (HelperCall::call_function) enter the
// same thunk again, one activation deeper, exactly as the interpreter starts a nested dispatch loop.
//
// Native stack discipline: inside JIT code rsp is 16-byte aligned at every instruction boundary,
// so helpers and runtime calls need no adjustment. A local call pushes r6-r9 (rbx, r13-r15) and 8
// bytes of padding, moves r10 down one 512-byte frame and calls; the return restores them (the
// interpreter's Frame). The call depth follows from r10 (frame d has r10 = stack_top - 512 d): the
// limit check is one compare against RunCtl::depth_limit.
//
// Semantics shared with the interpreter (vm/interp.cpp), bit for bit: helper calls and LD_ABS/LD_IND
// zero r1-r5; the func token of `lddw func` is the interpreter's scheme (address of a per-program
// byte array plus the instruction index), callx resolves tokens first, then helper numbers;
// division by zero, INT_MIN / -1 and shift masking as in vm/alu.h (x86 masks shift counts the same
// way; the zero and -1 divisors are tested before div/idiv).
//
// Checked mode: every load, store and atomic computes its address in r11 and compares it with the
// live stack inline ([r10 - 512, stack_top)); anything else goes to a shared out-of-line stub that
// asks the same regions and resolver as the checked interpreter. The budget is metered per basic
// block (blocks end at jumps, calls and exits): `sub [remaining], len; jb fault`. The count is
// exact (every block runs to its end unless the run faults), and the fault names the instruction
// at which the interpreter's budget runs out (block start + what was left). The one difference: when
// the budget runs out inside a block, the JIT faults before running the block's first instructions,
// so an out-of-bounds access or a store among those instructions (before the budget point) is not
// performed: the error is kBudgetExhausted where the interpreter could report kOutOfBounds.
#include "jit/jit.h"

#include <fmt/format.h>

#include "jit/x86/emitter_p.h"

namespace bpfvm::jit {
namespace {

class ErrorRecorder : public asmjit::ErrorHandler {
 public:
  asmjit::Error err = asmjit::kErrorOk;
  std::string msg;
  void handleError(asmjit::Error e, const char* message, asmjit::BaseEmitter*) override {
    if (err == asmjit::kErrorOk) {
      err = e;
      msg = message;
    }
  }
};

}  // namespace

std::atomic<bool> internal::g_assume_no_bmi2{false};

bool jit_supported() {
#if defined(__x86_64__) && defined(__linux__)
  return true;
#else
  return false;
#endif
}

JitProgram::JitProgram(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JitProgram::~JitProgram() = default;

Result<std::unique_ptr<JitProgram>> JitProgram::compile(const Program& program,
                                                        const HelperTable* helpers,
                                                        const JitOptions& opts) {
  namespace x86 = asmjit::x86;
  if (!jit_supported())
    return make_error(ErrorCode::kUnsupported, kNoPc, "the JIT needs an x86-64 Linux host");
  BPFVM_TRY(detail::check_program(program));
  if (!opts.checked && !opts.verified)
    return make_error(ErrorCode::kJit, kNoPc,
                      "unchecked JIT code needs a verified program: compile it checked, or verify it first");
  const std::vector<Insn>& insns = program.insns;
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  impl->helpers = helpers;
  const size_t n = insns.size(), nsub = program.subprogs.size();
  // The run-time tables, at their final addresses before the code is emitted (it embeds the func
  // tokens' base); sealed once the subprograms' native addresses are known.
  size_t bytes = SealedBlock::grow<uint32_t>(0, n);
  bytes = SealedBlock::grow<uint8_t>(bytes, n);
  bytes = SealedBlock::grow<uint32_t>(bytes, nsub);
  bytes = SealedBlock::grow<const void*>(bytes, nsub);
  {
    auto block = SealedBlock::create(bytes);
    if (!block) return block.error();
    impl->tables = std::move(*block);
  }
  std::span<uint32_t> pcs = impl->tables.take<uint32_t>(n);
  std::span<uint8_t> is_func = impl->tables.take<uint8_t>(n);
  std::span<uint32_t> subprogs = impl->tables.take<uint32_t>(nsub);
  std::span<const void*> sub_addr = impl->tables.take<const void*>(nsub);
  for (uint32_t s : program.subprogs)
    is_func[s] = 1;
  for (size_t k = 0; k < n; ++k)
    pcs[k] = insns[k].pc;
  std::copy(program.subprogs.begin(), program.subprogs.end(), subprogs.begin());
  impl->pcs = pcs;
  impl->is_func = is_func;
  impl->subprogs = subprogs;
  impl->sub_addr = sub_addr;

  static const bool host_bmi2 = asmjit::CpuInfo::host().hasFeature(asmjit::CpuFeatures::X86::kBMI2);
  const bool bmi2 = host_bmi2 && !internal::g_assume_no_bmi2.load(std::memory_order_relaxed);
  asmjit::CodeHolder code;
  code.init(asmjit::Environment::host());
  ErrorRecorder errors;
  code.setErrorHandler(&errors);
  asmjit::StringLogger logger;
  if (opts.disassembly) code.setLogger(&logger);
  x86::Assembler a(&code);
  a.addEncodingOptions(asmjit::EncodingOptions::kOptimizedAlign);
  internal::Emitter e(a, program, *impl, bmi2);
  e.compile();
  if (errors.err != asmjit::kErrorOk)
    return make_error(ErrorCode::kJit, kNoPc, fmt::format("assembler: {}", errors.msg));
  if (code.flatten() != asmjit::kErrorOk || code.resolveUnresolvedLinks() != asmjit::kErrorOk)
    return make_error(ErrorCode::kJit, kNoPc, "assembler: cannot resolve labels");
  BPFVM_TRY(impl->code.reserve(code.codeSize()));
  uint8_t* const mem = impl->code.data();
  const uint64_t base = reinterpret_cast<uint64_t>(mem);
  if (code.relocateToBase(base) != asmjit::kErrorOk)
    return make_error(ErrorCode::kJit, kNoPc, "assembler: relocation failed");
  const size_t size = code.codeSize();
  if (size > impl->code.capacity())
    return make_error(ErrorCode::kJit, kNoPc, "assembler: code grew on relocation");
  if (code.copyFlattenedData(mem, impl->code.capacity(), asmjit::CopySectionFlags::kPadTargetBuffer) !=
      asmjit::kErrorOk)
    return make_error(ErrorCode::kJit, kNoPc, "assembler: copy failed");
  BPFVM_TRY(impl->code.seal(size));
  impl->entry = reinterpret_cast<internal::EntryFn>(base);
  impl->main_body = reinterpret_cast<const void*>(base + code.labelOffsetFromBase(e.main_entry()));
  if (e.has_callback_entry())
    impl->callback_entry =
        reinterpret_cast<internal::EntryFn>(base + code.labelOffsetFromBase(e.callback_entry()));
  for (size_t i = 0; i < nsub; ++i)
    sub_addr[i] = reinterpret_cast<const void*>(base + code.labelOffsetFromBase(e.call_entry(subprogs[i])));
  BPFVM_TRY(impl->tables.seal());
  if (opts.disassembly) impl->disasm.assign(logger.data(), logger.dataSize());
  return std::unique_ptr<JitProgram>(new JitProgram(std::move(impl)));
}

std::span<const uint8_t> JitProgram::code() const {
  return {impl_->code.data(), impl_->code.size()};
}
const void* JitProgram::tables() const {
  return impl_->tables.data();
}
std::string JitProgram::disassembly() const {
  return impl_->disasm;
}
const JitOptions& JitProgram::options() const {
  return impl_->opts;
}
bool JitProgram::checked() const {
  return impl_->opts.checked;
}

}  // namespace bpfvm::jit
