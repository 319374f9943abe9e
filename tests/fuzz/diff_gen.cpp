#include "tests/fuzz/diff_gen.h"

#include "tests/fuzz/gen_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <random>

namespace bpfvm::fuzz {
namespace {

constexpr int kMainStack = 512;  // bytes of the main frame the program uses (all of it)
constexpr int kFnStack = 64;     // bytes of the frame other functions use (zeroed at entry)
constexpr int kBase = 9;         // register holding the input pointer in every function
// Limits of the estimated number of executed instructions, so that runs stay short.
constexpr uint64_t kMaxLoopProduct = 64;   // iterations of nested loops in one function
constexpr uint64_t kMaxCallCost = 20'000;  // instructions one call site may add

enum class FnKind { Main, Sub, Callback };

struct Fn {
  FnKind kind;
  std::string label;
  uint32_t dump = 0;  // input offset the frame is copied to at exit
  int stack = kMainStack;
  uint64_t cost = 0;     // estimated executed instructions of one call
  bool ptr_arg = false;  // Sub: r5 points to 8 bytes of the caller's frame (r10 - 16)
};

class Gen {
 public:
  Gen(uint64_t seed, const DiffGenOptions& opts) : rng_(seed), opts_(opts) { p_.seed = seed; }

  DiffProgram run() {
    data_ = 64u << rnd(3);
    p_.data_size = data_;
    const int extra = static_cast<int>(rnd(10) < 4 ? 0 : 1 + rnd(3));
    fns_.push_back(Fn{FnKind::Main, "main", data_, kMainStack});
    for (int i = 0; i < extra; ++i) {
      const FnKind kind = chance(500) ? FnKind::Sub : FnKind::Callback;
      fns_.push_back(Fn{kind, fmt::format("fn{}", i + 1),
                        data_ + kMainStack + static_cast<uint32_t>(kFnStack * i), kFnStack, 0,
                        kind == FnKind::Sub && chance(400)});
    }
    mem_size_ = data_ + kMainStack + static_cast<uint32_t>(kFnStack * extra);
    p_.mem.resize(mem_size_);
    for (uint8_t& b : p_.mem)
      b = byte();
    if (chance(opts_.fault_permille)) {
      p_.may_fault = true;
      fault_kind_ = static_cast<int>(rnd(6));
      fault_fn_ = static_cast<int>(rnd(fns_.size()));
    }
    // Callees come after their callers in the text and are generated first, so that a call site
    // knows what the callee costs.
    std::vector<std::string> texts(fns_.size());
    for (int i = static_cast<int>(fns_.size()) - 1; i >= 0; --i)
      texts[i] = function(i);
    for (const std::string& t : texts)
      p_.asm_text += t;
    if (p_.may_fault && fault_kind_ == 3) p_.asm_text += "rec:\n  call local rec\n  exit\n";
    return std::move(p_);
  }

 private:
  std::mt19937_64 rng_;
  DiffGenOptions opts_;
  DiffProgram p_;
  uint32_t data_ = 0, mem_size_ = 0;
  std::vector<Fn> fns_;
  int cur_ = 0;
  std::string* out_ = nullptr;
  uint32_t init_ = 0;       // r0..r8 holding a defined scalar (bit mask)
  uint32_t protected_ = 0;  // loop counters the current code must not write
  uint64_t mult_ = 1;       // estimated executions of the code being emitted, per call
  uint64_t cost_ = 0;       // estimated executed instructions of the current function
  int loop_depth_ = 0;
  int labels_ = 0;
  int fault_kind_ = -1;
  int fault_fn_ = -1;  // the function that gets the faulting instruction
  bool fault_done_ = false;

  uint64_t rnd(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(uint32_t permille) { return rnd(1000) < permille; }
  static std::string R(int r) { return fmt::format("%r{}", r); }
  const Fn& fn() const { return fns_[cur_]; }

  // Input bytes biased towards the boundaries of signed and unsigned ranges.
  uint8_t byte() {
    static constexpr uint8_t kSpecial[] = {0x00, 0xff, 0x80, 0x7f, 0x01, 0xfe};
    return chance(400) ? kSpecial[rnd(std::size(kSpecial))] : static_cast<uint8_t>(rng_());
  }

  template <class... A>
  void emit(fmt::format_string<A...> f, A&&... a) {
    *out_ += "  ";
    *out_ += fmt::format(f, std::forward<A>(a)...);
    *out_ += '\n';
    cost_ += mult_;
  }
  void label(const std::string& l) { *out_ += l + ":\n"; }
  std::string new_label() { return fmt::format("L{}", labels_++); }

  bool is_init(int r) const { return (init_ >> r) & 1; }
  void set_init(int r) { init_ |= 1u << r; }
  bool writable(int r) const { return r >= 0 && r <= 8 && !((protected_ >> r) & 1); }

  int dst() {
    for (;;) {
      int r = static_cast<int>(rnd(9));
      if (writable(r)) return r;
    }
  }
  // A register other than the ones in `avoid` (bit mask).
  int dst_except(uint32_t avoid) {
    for (int tries = 0; tries < 64; ++tries) {
      int r = static_cast<int>(rnd(9));
      if (writable(r) && !((avoid >> r) & 1)) return r;
    }
    for (int r = 0; r <= 8; ++r)
      if (writable(r) && !((avoid >> r) & 1)) return r;
    return -1;
  }
  int src() {
    if (init_ != 0 && !chance(100)) {
      for (;;) {
        int r = static_cast<int>(rnd(9));
        if (is_init(r)) return r;
      }
    }
    int r = dst();
    set_value(r);
    return r;
  }

  int64_t imm() {
    // Besides the common distribution: shift amounts up to 72, negative powers of two.
    if (chance(150)) return rnd(2) ? static_cast<int64_t>(rnd(73)) : -(int64_t{1} << rnd(31));
    return interesting_imm(rng_);
  }
  uint64_t imm64() {
    static constexpr uint64_t kWide[] = {0x8000000000000000ull, 0x7fffffffffffffffull, 0xffffffffull,
                                         0x80000000ull,         0x100000000ull,        0xffffffff80000000ull,
                                         0xffffffffffffffffull, 0x00000000ffff0000ull};
    return chance(500) ? kWide[rnd(std::size(kWide))] : rng_();
  }

  // r = an interesting value.
  void set_value(int r) {
    switch (rnd(6)) {
      case 0:
        emit("lddw {}, {:#x}", R(r), imm64());
        break;
      case 1:
        emit("mov32 {}, {}", R(r), imm());
        break;
      case 2: {
        static constexpr const char* kLd[] = {"ldxb", "ldxh", "ldxw", "ldxdw", "ldxsb", "ldxsh", "ldxsw"};
        static constexpr int kSz[] = {1, 2, 4, 8, 1, 2, 4};
        const int i = static_cast<int>(rnd(std::size(kLd)));
        emit("{} {}, [{}{:+}]", kLd[i], R(r), R(kBase), static_cast<int>(rnd(data_ - kSz[i] + 1)));
        break;
      }
      default:
        emit("mov {}, {}", R(r), imm());
    }
    set_init(r);
  }

  // ---- Functions --------------------------------------------------------------------------------

  std::string function(int index) {
    cur_ = index;
    std::string text;
    out_ = &text;
    init_ = protected_ = 0;
    mult_ = 1;
    cost_ = 0;
    loop_depth_ = 0;
    const Fn& f = fn();
    if (f.kind != FnKind::Main) label(f.label);
    switch (f.kind) {
      case FnKind::Main:
        emit("mov {}, %r1", R(kBase));
        break;
      case FnKind::Sub:
        emit("mov {}, %r1", R(kBase));
        init_ = f.ptr_arg ? 0b011100 : 0b111100;  // r2-r5: scalar arguments (r5 maybe a pointer)
        break;
      case FnKind::Callback:
        emit("ldxdw {}, [%r2+0]", R(kBase));  // the caller's slot holding the input pointer
        init_ = 0b10;                         // r1: the iteration number
        break;
    }
    {
      // Every stack byte a function may read is written first, as a verifier demands (the
      // unchecked JIT does not zero the stack: verified programs never read uninitialised bytes).
      int z = -1;
      if (chance(500)) {
        z = dst_except(init_ | 0b100000);
        emit("mov {}, 0", R(z));
      }
      if (f.kind == FnKind::Main && chance(900)) {
        // A loop over the 512 bytes (short code, and variable-offset stack stores).
        if (z == 1 || z == 2) z = -1;
        main_frame_loop(1, [&] {
          if (z >= 0)
            emit("stxdw [%r2+0], {}", R(z));
          else
            emit("stdw [%r2+0], 0");
        });
      } else {
        for (int off = -f.stack; off < 0; off += 8) {
          if (z >= 0)
            emit("stxdw [%r10{:+}], {}", off, R(z));
          else
            emit("stdw [%r10{:+}], 0", off);
        }
      }
      if (z >= 0) set_init(z);
    }
    if (f.ptr_arg) {
      // Through the pointer into the caller's frame (a live frame: the checked engines must allow it).
      switch (rnd(4)) {
        case 0:
          emit("ldxdw %r3, [%r5+0]");
          break;
        case 1:
          emit("stx{} [%r5+{}], %r2", rnd(2) ? "dw" : "w", rnd(2) ? 0 : 4);
          break;
        case 2:
          emit("lock fetch add{} [%r5+0], %r4", rnd(2) ? "32" : "");
          break;
        default:
          emit("ldxw %r3, [%r5+4]");
          emit("add %r3, %r2");
          emit("stxw [%r5+0], %r3");
      }
    }
    for (int r = 0; r <= 8; ++r)
      if (!is_init(r) && (f.kind == FnKind::Main || r == 0 || r >= 6 || chance(500))) set_value(r);
    const uint32_t n =
        opts_.min_snippets + static_cast<uint32_t>(rnd(opts_.max_snippets - opts_.min_snippets + 1));
    const uint32_t fault_at = static_cast<uint32_t>(rnd(n));
    for (uint32_t i = 0; i < n; ++i) {
      if (index == fault_fn_ && i == fault_at) fault();
      snippet(0);
    }
    if (!is_init(0)) set_value(0);  // r0 may hold an address (scratch of an access)
    label(end_label());
    // Copy the frame into the input memory (the main frame: all of it; others: the top 64 bytes).
    if (f.kind == FnKind::Main && chance(900)) {
      main_frame_loop(4, [&] {
        emit("ldxdw %r3, [%r2+0]");
        emit("mov %r2, {}", R(kBase));
        emit("add %r2, %r1");
        emit("stxdw [%r2{:+}], %r3", static_cast<int>(f.dump) + f.stack);
      });
    } else {
      for (int off = -f.stack; off < 0; off += 8) {
        emit("ldxdw %r1, [%r10{:+}]", off);
        emit("stxdw [{}{:+}], %r1", R(kBase), static_cast<int>(f.dump) + f.stack + off);
      }
    }
    if (f.kind == FnKind::Callback) emit("and %r0, 1");  // 0: continue, 1: stop
    emit("exit");
    fns_[cur_].cost = cost_;
    return text;
  }
  // for (r1 = -512; r1 != 0; r1 += 8) { r2 = r10 + r1; body (body_len instructions) }
  template <class Body>
  void main_frame_loop(uint64_t body_len, Body body) {
    const std::string l = new_label();
    emit("mov %r1, {}", -kMainStack);
    label(l);
    emit("mov %r2, %r10");
    emit("add %r2, %r1");
    body();
    emit("add %r1, 8");
    emit("jne %r1, 0, {}", l);
    cost_ += (4 + body_len) * (kMainStack / 8 - 1) * mult_;
  }
  std::string end_label() const { return fmt::format("end_{}", fn().label); }

  void snippet(int depth) {
    const uint64_t x = rnd(100);
    if (x < 28) return alu();
    if (x < 32) return set_value(dst());
    if (x < 42) return load(chance(500));
    if (x < 51) return store(chance(500));
    if (x < 56) return atomic(chance(500));
    if (x < 59) return helper();
    if (x < 71) return depth < 3 ? branch(depth) : alu();
    if (x < 79) return depth < 3 && loop_depth_ < 2 ? loop(depth) : alu();
    if (x < 87) return call();
    if (x < 89) return depth > 0 ? early_exit() : alu();
    if (x < 91) return indexed_load(chance(500));
    if (x < 93) return byte_pair(chance(500));
    if (x < 96) return commuted();
    if (x < 99) return depth < 3 ? sunk_constant() : alu();
    return masked_shift();
  }

  // ---- ALU --------------------------------------------------------------------------------------

  void alu() {
    const auto& kOps = kAluOpNames;
    const int d = dst();
    if (!is_init(d)) set_value(d);
    const bool is32 = chance(400);
    const char* w = is32 ? "32" : "";
    const uint64_t kind = rnd(100);
    if (kind < 5) {
      emit("neg{} {}", w, R(d));
    } else if (kind < 14) {
      const auto& kSwaps = kSwapNames;
      emit("{} {}", kSwaps[rnd(std::size(kSwaps))], R(d));
    } else if (kind < 22) {
      const int s = src();
      if (is32)
        emit("movsx{}32 {}, {}", rnd(2) ? 8 : 16, R(d), R(s));
      else
        emit("movsx{}64 {}, {}", 8 << rnd(3), R(d), R(s));
    } else {
      const std::string op = kOps[rnd(std::size(kOps))];
      const bool shift = op == "lsh" || op == "rsh" || op == "arsh";
      const bool division = op == "div" || op == "sdiv" || op == "mod" || op == "smod";
      if (chance(450)) {
        int64_t v = imm();
        if (shift) v = static_cast<int64_t>(rnd(is32 ? 32 : 64));  // immediates below the width
        if (division && v == 0) v = -1;                            // the decoder rejects /0 immediates
        emit("{}{} {}, {}", op, w, R(d), v);
      } else {
        int s = src();
        if (chance(100) && s != d && writable(s)) {
          // A divisor of 0 or -1, a shift amount of at least the width.
          static constexpr int64_t kNasty[] = {0, -1, 32, 64, 63, 31, 255, -64};
          emit("mov{} {}, {}", chance(300) ? "32" : "", R(s), kNasty[rnd(std::size(kNasty))]);
        }
        emit("{}{} {}, {}", op, w, R(d), R(s));
      }
    }
    set_init(d);
  }

  // ---- Memory -----------------------------------------------------------------------------------

  static const char* suffix(int size) {
    switch (size) {
      case 1:
        return "b";
      case 2:
        return "h";
      case 4:
        return "w";
      default:
        return "dw";
    }
  }

  // An address for an access of `size` bytes: "[%rB+off]" text, with a variable part put into a
  // scratch register (returned in *scratch, -1 if none). Stack accesses stay in the function's
  // frame part, input accesses in the data part. Aligned when `aligned`.
  std::string address(bool stack, int size, bool aligned, uint32_t avoid, int* scratch) {
    *scratch = -1;
    const int extent = stack ? fn().stack : static_cast<int>(data_);
    const int align = aligned || chance(800) ? size : 1;
    if (chance(700)) {
      int off = static_cast<int>(rnd(static_cast<uint64_t>((extent - size) / align + 1))) * align;
      if (stack) off -= extent;
      const int q = chance(100) ? dst_except(avoid) : -1;
      if (q < 0) return fmt::format("[{}{:+}]", R(stack ? 10 : kBase), off);
      // A large displacement from a register pointing far away (disp32 encodings, wrapping sums).
      const int disp = static_cast<int>(rnd(65536)) - 32768;
      emit("mov {}, {}", R(q), R(stack ? 10 : kBase));
      emit("add {}, {}", R(q), off - disp);
      init_ &= ~(1u << q);
      *scratch = q;
      return fmt::format("[{}{:+}]", R(q), disp);
    }
    // Variable offset: a scalar masked into range, plus the base.
    const int q = dst_except(avoid);
    if (q < 0) return fmt::format("[{}{:+}]", R(stack ? 10 : kBase), stack ? -extent : 0);
    const int s = src();
    if (s != q) emit("mov{} {}, {}", chance(300) ? "32" : "", R(q), R(s));
    if (!is_init(q)) set_value(q);
    int64_t mask = align == 1 ? extent / 2 - 1 : (extent - size) & ~(size - 1);
    int bias = 0;
    if (align == 1 && chance(500)) bias = static_cast<int>(rnd(static_cast<uint64_t>(extent / 2 - size + 1)));
    emit("and {}, {}", R(q), mask);
    emit("add {}, {}", R(q), R(stack ? 10 : kBase));
    init_ &= ~(1u << q);  // a pointer now
    *scratch = q;
    return fmt::format("[{}{:+}]", R(q), stack ? bias - extent : bias);
  }

  void load(bool stack) {
    static constexpr int kSizes[] = {1, 2, 4, 8};
    const int size = kSizes[rnd(4)];
    int scratch;
    const uint64_t form = rnd(10);
    std::string a = address(stack, size, form == 9, 0, &scratch);
    const int d = dst();
    if (form == 9)
      emit("load_acquire{} {}, {}", suffix(size), R(d), a);
    else if (size < 8 && form < 3)
      emit("ldxs{} {}, {}", suffix(size), R(d), a);
    else
      emit("ldx{} {}, {}", suffix(size), R(d), a);
    set_init(d);
  }

  // A table-style load: `lsh idx, log2(size); ptr = base; ptr += idx; ldx dst, [ptr + off]`. The
  // pointer is not read afterwards (only scalars are) and the index sometimes is: the JIT's
  // indexed-load fusion, with and without the shift kept.
  void indexed_load(bool stack) {
    const int si = static_cast<int>(rnd(4));
    const int size = 1 << si;
    const int extent = stack ? fn().stack : static_cast<int>(data_);
    const int q = dst();
    const int p = dst_except(1u << q);
    if (p < 0) return alu();
    const int s = src();
    if (s != q) emit("mov {}, {}", R(q), R(s));
    if (!is_init(q)) set_value(q);
    emit("and {}, {}", R(q), extent / size - 1);  // an element index (extents are powers of two)
    if (size > 1 || chance(300)) emit("lsh {}, {}", R(q), si);
    emit("mov {}, {}", R(p), R(stack ? 10 : kBase));
    emit("add {}, {}", R(p), R(q));
    const int d = chance(300) ? q : chance(300) ? p : dst();
    emit("ldx{} {}, [{}{:+}]", suffix(size), R(d), R(p), stack ? -extent : 0);
    init_ &= ~(1u << p);  // a pointer (unless it is the destination)
    set_init(d);
  }

  // Two adjacent bytes as a 16-bit value: `ldxb h, [b+o]; lsh h, 8; ldxb l, [b+o+1]; or h, l` in
  // clang's orders (and little-endian), the low byte's register often not read afterwards: the
  // JIT's 16-bit loads.
  void byte_pair(bool stack) {
    const int extent = stack ? fn().stack : static_cast<int>(data_);
    const int h = dst();
    const int l = dst_except(1u << h);
    if (l < 0) return alu();
    const int base = stack ? 10 : kBase;
    int off = static_cast<int>(rnd(static_cast<uint64_t>(extent - 1)));
    if (stack) off -= extent;
    const bool big = chance(800);
    const char* w = chance(600) ? "32" : "";
    const std::string load_h = fmt::format("ldxb {}, [{}{:+}]", R(h), R(base), big ? off : off + 1);
    const std::string load_l = fmt::format("ldxb {}, [{}{:+}]", R(l), R(base), big ? off + 1 : off);
    const std::string shift = fmt::format("lsh{} {}, 8", w, R(h));
    switch (rnd(3)) {
      case 0:
        emit("{}", load_h);
        emit("{}", shift);
        emit("{}", load_l);
        break;
      case 1:
        emit("{}", load_l);
        emit("{}", load_h);
        emit("{}", shift);
        break;
      default:
        emit("{}", load_h);
        emit("{}", load_l);
        emit("{}", shift);
    }
    emit("or{} {}, {}", w, R(h), R(l));
    set_init(h);
    set_init(l);
    if (chance(600)) set_value(l);
  }

  // `op a, b; [another register's ALU;] mov b, a`, with a often redefined after: the JIT's
  // commuted operations.
  void commuted() {
    static constexpr const char* kOps[] = {"add", "mul", "and", "or", "xor"};
    const int a = dst();
    const int b = dst_except(1u << a);
    if (b < 0) return alu();
    if (!is_init(a)) set_value(a);
    if (!is_init(b)) set_value(b);
    const char* w = chance(400) ? "32" : "";
    emit("{}{} {}, {}", kOps[rnd(std::size(kOps))], w, R(a), R(b));
    if (chance(500)) {
      const int c = dst_except((1u << a) | (1u << b));
      if (c >= 0 && is_init(c)) emit("xor {}, {}", R(c), imm());
    }
    emit("mov{} {}, {}", w, R(b), R(a));
    if (chance(600)) set_value(a);
  }

  // `c = count; and c, mask; [mov y, x;] shift y, c|imm`, the count often not read afterwards: the
  // JIT drops a mask that keeps the bits the shift reads, and makes a copy and its shift one
  // three-operand shift.
  void masked_shift() {
    static constexpr int64_t kMasks[] = {31, 63, 255, 15, 7};
    static constexpr const char* kShifts[] = {"lsh", "rsh", "arsh"};
    const int x = dst();
    const int c = dst_except(1u << x);
    if (c < 0) return alu();
    if (!is_init(x)) set_value(x);
    const int s = src();
    if (s != c) emit("mov {}, {}", R(c), R(s));
    if (!is_init(c)) set_value(c);
    emit("and{} {}, {}", chance(500) ? "32" : "", R(c), kMasks[rnd(std::size(kMasks))]);
    const char* w = chance(500) ? "32" : "";
    int y = x;
    if (chance(600) && (y = dst_except((1u << x) | (1u << c))) >= 0) {
      emit("mov{} {}, {}", w, R(y), R(x));  // a copy shifted: the JIT's three-operand shifts
    } else {
      y = x;
    }
    if (y != x && chance(400))
      emit("{}{} {}, {}", kShifts[rnd(3)], w, R(y), rnd(64));
    else
      emit("{}{} {}, {}", kShifts[rnd(3)], w, R(y), R(c));
    set_init(y);
    if (chance(700)) set_value(c);
  }

  // `r = imm; if (cond) goto skip; r = other; skip:`: r is read only after the taken edge (the
  // JIT's sunk constants), or not at all.
  void sunk_constant() {
    const int r = dst();
    const std::string skip = new_label();
    emit("mov{} {}, {}", chance(400) ? "32" : "", R(r), imm());
    set_init(r);
    jump_if(skip);
    set_value(r);
    label(skip);
  }

  void store(bool stack) {
    static constexpr int kSizes[] = {1, 2, 4, 8};
    const int size = kSizes[rnd(4)];
    int scratch;
    const uint64_t form = rnd(10);
    std::string a = address(stack, size, form == 9, 0, &scratch);
    if (form < 3) {
      emit("st{} {}, {}", suffix(size), a, imm());
      return;
    }
    Keep keep(*this, scratch);
    const int s = src();
    if (form == 9)
      emit("store_release{} {}, {}", suffix(size), a, R(s));
    else
      emit("stx{} {}, {}", suffix(size), a, R(s));
  }

  // Keeps the address register of an access from being picked as an operand until the access.
  struct Keep {
    Gen& g;
    uint32_t saved;
    Keep(Gen& gen, int r) : g(gen), saved(gen.protected_) {
      if (r >= 0) g.protected_ |= 1u << r;
    }
    ~Keep() { g.protected_ = saved; }
  };

  void atomic(bool stack) {
    static constexpr const char* kAt[] = {"add", "fetch add", "or",   "fetch or", "and",    "fetch and",
                                          "xor", "fetch xor", "xchg", "cmpxchg",  "cmpxchg"};
    const bool is32 = chance(400);
    const int size = is32 ? 4 : 8;
    const std::string op = kAt[rnd(std::size(kAt))];
    const bool cmpxchg = op == "cmpxchg";
    int scratch;
    // r0 is cmpxchg's comparand and result: it may not be the address register.
    std::string a = address(stack, size, true, cmpxchg ? 1u : 0u, &scratch);
    Keep keep(*this, scratch);
    const int s = dst_except(cmpxchg ? 1u : 0u);
    if (s < 0) return;
    if (!is_init(s) || chance(300)) set_value(s);
    if (cmpxchg) {
      // Mostly a comparand equal to the memory (the exchange happens), else whatever r0 holds.
      if (chance(600))
        emit("ldx{} %r0, {}", suffix(size), a);
      else if (!is_init(0))
        set_value(0);
      set_init(0);
    }
    emit("lock {}{} {}, {}", op, is32 ? "32" : "", a, R(s));
    set_init(s);
  }

  // ---- Control flow -----------------------------------------------------------------------------

  static const char* cond(uint64_t i) {
    const auto& kConds = kCondNames;
    return kConds[i % 11];
  }

  void jump_if(const std::string& target) {
    const int a = src();
    const char* w = chance(400) ? "32" : "";
    if (chance(500))
      emit("{}{} {}, {}, {}", cond(rnd(11)), w, R(a), imm(), target);
    else
      emit("{}{} {}, {}, {}", cond(rnd(11)), w, R(a), R(src()), target);
  }
  void jump(const std::string& target) { emit("{} {}", chance(800) ? "ja" : "ja32", target); }

  void body(int depth, int max) {
    const int n = static_cast<int>(1 + rnd(static_cast<uint64_t>(max)));
    for (int i = 0; i < n; ++i)
      snippet(depth + 1);
  }

  void branch(int depth) {
    const std::string skip = new_label();
    jump_if(skip);
    const uint32_t before = init_;
    body(depth, 4);
    if (chance(300)) {
      // if / else
      const std::string end = new_label();
      jump(end);
      const uint32_t then_init = init_;
      label(skip);
      init_ = before;
      body(depth, 3);
      label(end);
      init_ &= then_init;
      return;
    }
    label(skip);
    init_ &= before;
  }

  void early_exit() {
    if (!is_init(0)) set_value(0);
    jump(end_label());
  }

  void loop(int depth) {
    int c = -1;
    for (int r = 6; r <= 8; ++r)
      if (writable(r) && (c < 0 || chance(500))) c = r;
    if (c < 0) return alu();
    const int64_t step = static_cast<int64_t>(1 + rnd(3));
    int64_t bound = static_cast<int64_t>(1 + rnd(16));
    bound = std::max<int64_t>(bound, step);
    const uint64_t iters = static_cast<uint64_t>(bound / step + 1);
    if (mult_ * iters > kMaxLoopProduct) return alu();
    const char* w = chance(300) ? "32" : "";
    const bool down = chance(400);
    const std::string head = new_label(), out = new_label();
    emit("mov {}, {}", R(c), down ? bound : 0);
    set_init(c);
    label(head);
    const uint32_t at_head = init_;
    protected_ |= 1u << c;
    ++loop_depth_;
    mult_ *= iters;
    body(depth, 3);
    uint32_t at_break = ~0u;
    if (chance(150)) {
      jump_if(out);  // break
      at_break = init_;
    }
    // The next iteration's code relies on what was defined at the head.
    for (int r = 0; r <= 8; ++r)
      if (((at_head & ~init_) >> r) & 1) set_value(r);
    emit("{}{} {}, {}", down ? "sub" : "add", w, R(c), step);
    emit("{}", loop_back_edge(rng_, down, w, R(c), bound, step, head, [] { return false; }));
    label(out);
    mult_ /= iters;
    --loop_depth_;
    protected_ &= ~(1u << c);
    init_ &= at_head & at_break;
  }

  void clobber_call() {
    init_ &= ~0b111110u;  // r1-r5
    set_init(0);
  }

  // A call of a later function (subprogram or bpf_loop callback), or a helper.
  void call() {
    std::vector<int> targets;
    for (int i = cur_ + 1; i < static_cast<int>(fns_.size()); ++i)
      targets.push_back(i);
    if (targets.empty()) return helper();
    const int t = targets[rnd(targets.size())];
    const Fn& f = fns_[t];
    const uint64_t n = f.kind == FnKind::Callback ? rnd(9) : 1;
    if (f.cost * std::max<uint64_t>(n, 1) * mult_ > kMaxCallCost) return helper();
    cost_ += f.cost * n * mult_;
    if (f.kind == FnKind::Sub) {
      // callx of the function's address (r1-r5 are the arguments: the address goes elsewhere).
      const int x = chance(300) ? dst_except(0b111111) : -1;
      emit("mov %r1, {}", R(kBase));
      for (int r = 2; r <= 5; ++r)
        if (!is_init(r) || chance(300)) set_value(r);
      if (f.ptr_arg) {
        emit("mov %r5, %r10");
        emit("add %r5, -16");
      }
      if (x < 0) {
        emit("call local {}", f.label);
      } else {
        emit("lddw {}, func({})", R(x), f.label);
        emit("callx {}", R(x));
        init_ &= ~(1u << x);
      }
    } else {
      // bpf_loop(n, callback, ctx = a caller stack slot holding the input pointer, 0). The slot is
      // reset afterwards, so that the pointer never reaches the stack copy.
      emit("stxdw [%r10-8], {}", R(kBase));
      emit("mov %r1, {}", n);
      emit("lddw %r2, func({})", f.label);
      emit("mov %r3, %r10");
      emit("add %r3, -8");
      emit("mov %r4, 0");
      emit("call 181");
      emit("stdw [%r10-8], {}", imm());
    }
    clobber_call();
  }

  void helper() {
    switch (rnd(5)) {
      case 0:
        emit("call 7");  // bpf_get_prandom_u32
        break;
      case 1:
        emit("call 5");  // bpf_ktime_get_ns
        break;
      case 2: {
        // callx of a helper number.
        const int x = dst();
        emit("mov {}, {}", R(x), rnd(2) ? 7 : 5);
        emit("callx {}", R(x));
        break;
      }
      default: {
        // bpf_probe_read_kernel(stack dst, size, input src).
        const int size = static_cast<int>(1 + rnd(std::min<uint32_t>(32, data_)));
        const int dst_off = -static_cast<int>(rnd(static_cast<uint64_t>(fn().stack - size + 1))) - size;
        emit("mov %r1, %r10");
        emit("add %r1, {}", dst_off);
        emit("mov %r2, {}", size);
        emit("mov %r3, {}", R(kBase));
        emit("add %r3, {}", rnd(data_ - size + 1));
        emit("call 113");
      }
    }
    clobber_call();
  }

  // ---- Faults (checked engines only) -------------------------------------------------------------

  void fault() {
    if (fault_done_) return;
    fault_done_ = true;
    switch (fault_kind_) {
      case 0:  // load past the end of the input (maybe straddling it)
        emit("ldx{} %r0, [{}{:+}]", rnd(2) ? "dw" : "w", R(kBase), static_cast<int>(mem_size_ - 2 + rnd(16)));
        break;
      case 1:  // store below the frame, or above the main frame (above others: the caller's)
        if (cur_ != 0 || chance(500))
          emit("stxdw [%r10{:+}], %r0", -kMainStack - 8 * static_cast<int>(1 + rnd(4)));
        else
          emit("stw [%r10{:+}], 1", 4 * static_cast<int>(rnd(4)));
        break;
      case 2: {  // callx of something that is neither a helper nor a function
        const int x = dst();
        emit("mov {}, {}", R(x), 100000 + rnd(1000));
        emit("callx {}", R(x));
        clobber_call();
        break;
      }
      case 3:  // unbounded recursion: the call depth limit
        emit("call local rec");
        clobber_call();
        break;
      case 4: {  // a variable offset without a mask
        const int q = dst();
        emit("lddw {}, {:#x}", R(q), 0x100000000ull + rnd(1u << 20));
        emit("add {}, {}", R(q), R(kBase));
        emit("stxb [{}+0], {}", R(q), R(q));
        init_ &= ~(1u << q);
        break;
      }
      default: {  // an endless loop: the instruction budget
        const std::string l = new_label();
        label(l);
        emit("add %r0, 1");
        emit("ja {}", l);
      }
    }
  }
};

}  // namespace

DiffProgram generate_diff_program(uint64_t seed, const DiffGenOptions& opts) {
  return Gen(seed, opts).run();
}

}  // namespace bpfvm::fuzz
