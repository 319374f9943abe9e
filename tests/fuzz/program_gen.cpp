#include "tests/fuzz/program_gen.h"

#include "tests/fuzz/gen_util.h"

#include <fmt/format.h>

#include <array>
#include <bitset>
#include <random>

namespace bpfvm::fuzz {
namespace {

// What the generator believes a register or a spilled stack slot holds. Only Scalar and Ctx are
// relied on across snippets; the other kinds are snippet-local and only reused by dubious variants.
enum class K : uint8_t { Uninit, Scalar, Ctx, Stack, Pkt, PktEnd, MapPtr, MapValOrNull, MapVal, Mixed };

struct Reg {
  K k = K::Uninit;
  bool operator==(const Reg&) const = default;
};

struct Frame {
  std::array<Reg, 11> r;
  std::array<K, 64> slot{};  // kind of the 8-byte spill at r10 - 8 * (i + 1) (Uninit: none)
  std::bitset<512> init;     // byte b initialized: address r10 - 512 + b
  bool dead = false;         // the code path has exited
};

int byte_index(int off) {
  return 512 + off;
}  // off in [-512, -1]

Reg join(Reg a, Reg b) {
  if (a == b) return a;
  if (a.k == K::Uninit || b.k == K::Uninit) return Reg{K::Uninit};
  return Reg{K::Mixed};
}

Frame join(const Frame& a, const Frame& b) {
  if (a.dead) return b;
  if (b.dead) return a;
  Frame f;
  for (int i = 0; i < 11; ++i)
    f.r[i] = join(a.r[i], b.r[i]);
  for (int i = 0; i < 64; ++i)
    f.slot[i] = a.slot[i] == b.slot[i] ? a.slot[i] : K::Mixed;
  f.init = a.init & b.init;
  return f;
}

struct Subprog {
  int index;
  bool ptr_arg;  // r1 = pointer to 8 bytes of the caller's stack (else a scalar)
};

class Gen {
 public:
  Gen(uint64_t seed, const GenOptions& opts) : rng_(seed), opts_(opts) { p_.seed = seed; }

  GeneratedProgram run() {
    p_.type = chance(350) ? ProgType::Xdp : ProgType::Raw;
    if (p_.type == ProgType::Raw) p_.raw_ctx_size = static_cast<uint32_t>(1 + rnd(chance(500) ? 16 : 128));
    if (chance(600)) {
      MapDef a;
      a.name = "arr";
      a.type = MapType::Array;
      a.key_size = 4;
      a.value_size = static_cast<uint32_t>(8 * (1 + rnd(8)));
      a.max_entries = static_cast<uint32_t>(1 + rnd(8));
      p_.maps.push_back(a);
      MapDef h;
      h.name = "hash";
      h.type = MapType::Hash;
      h.key_size = 4;
      h.value_size = static_cast<uint32_t>(4 + 4 * rnd(8));
      h.max_entries = static_cast<uint32_t>(1 + rnd(16));
      p_.maps.push_back(h);
    }
    const int nsub = chance(250) ? static_cast<int>(1 + rnd(2)) : 0;
    for (int i = 0; i < nsub; ++i)
      subs_.push_back(Subprog{i, chance(500)});

    // Main function.
    f_ = Frame{};
    f_.r[1] = Reg{K::Ctx};
    if (p_.type == ProgType::Raw) f_.r[2] = Reg{K::Scalar};
    f_.r[10] = Reg{K::Stack};
    std::string text;
    out_ = &text;
    if (chance(750)) {
      int save = static_cast<int>(6 + rnd(4));
      emit("mov {}, %r1", R(save));
      f_.r[save] = Reg{K::Ctx};
    }
    const uint32_t n =
        opts_.min_snippets + static_cast<uint32_t>(rnd(opts_.max_snippets - opts_.min_snippets + 1));
    for (uint32_t i = 0; i < n && !f_.dead; ++i)
      snippet(0);
    finish_function();

    // Subprograms, after the main function.
    for (const Subprog& s : subs_) {
      current_sub_ = s.index;
      f_ = Frame{};
      f_.r[1] = Reg{s.ptr_arg ? K::Stack : K::Scalar};
      f_.r[2] = Reg{K::Scalar};
      f_.r[10] = Reg{K::Stack};
      emit_label(fmt::format("fn{}", s.index));
      if (s.ptr_arg) {
        if (chance(500)) {
          int d = scalar_dst();
          emit("ldxdw {}, [%r1+0]", R(d));
          f_.r[d] = Reg{K::Scalar};
        } else if (chance(700)) {
          emit("stxdw [%r1+0], %r2");
        } else {
          emit("stx{} [%r1{:+}], %r2", rnd(2) ? "b" : "w", rnd(2) ? 0 : 4);
        }
      }
      const uint32_t m = 1 + static_cast<uint32_t>(rnd(6));
      for (uint32_t i = 0; i < m && !f_.dead; ++i)
        snippet(1);
      finish_function();
    }
    text += callback_text_;
    p_.asm_text = std::move(text);
    return std::move(p_);
  }

 private:
  std::mt19937_64 rng_;
  GenOptions opts_;
  GeneratedProgram p_;
  std::string* out_ = nullptr;
  Frame f_;
  int labels_ = 0;
  int loop_depth_ = 0;
  uint32_t protected_ = 0;  // registers a surrounding loop relies on (bit mask)
  std::vector<Subprog> subs_;
  int current_sub_ = -1;  // -1: main
  int callbacks_ = 0;
  std::string callback_text_;     // bpf_loop callbacks, appended after the subprograms
  bool write_key_const_ = false;  // the last key_slot() wrote a constant key

  uint64_t rnd(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(uint32_t permille) { return rnd(1000) < permille; }
  bool bad() { return chance(opts_.bad_permille); }
  static std::string R(int r) { return fmt::format("%r{}", r); }

  template <class... A>
  void emit(fmt::format_string<A...> f, A&&... a) {
    *out_ += "  ";
    *out_ += fmt::format(f, std::forward<A>(a)...);
    *out_ += '\n';
  }
  void emit_label(const std::string& l) { *out_ += l + ":\n"; }
  std::string new_label() { return fmt::format("L{}", labels_++); }

  bool writable(int r) const { return r >= 0 && r <= 9 && !(protected_ & (1u << r)); }

  // A register to write a scalar into: prefers registers holding nothing useful.
  int scalar_dst() {
    for (int tries = 0; tries < 20; ++tries) {
      int r = static_cast<int>(rnd(10));
      if (!writable(r)) continue;
      if (f_.r[r].k == K::Ctx && count(K::Ctx) == 1 && !chance(50)) continue;
      return r;
    }
    for (int r = 0; r <= 9; ++r)
      if (writable(r) && f_.r[r].k != K::Ctx) return r;
    return 0;
  }
  int count(K k) const {
    int c = 0;
    for (int r = 0; r <= 9; ++r)
      c += f_.r[r].k == k;
    return c;
  }
  // Up to n distinct writable registers other than `except` (and, with no_ctx, not holding the
  // context), in random order; returns how many were found.
  int pick_regs(int* regs, int n, int except, bool no_ctx = false) {
    int got = 0;
    for (int r = 0; r <= 9 && got < n; ++r) {
      int rr = static_cast<int>((r + rnd(10)) % 10);
      bool used = rr == except || (no_ctx && f_.r[rr].k == K::Ctx);
      for (int i = 0; i < got; ++i)
        used = used || regs[i] == rr;
      if (!used && writable(rr)) regs[got++] = rr;
    }
    return got;
  }
  // A register of kind k, or -1.
  int find(K k) {
    int c = count(k);
    if (c == 0) return -1;
    int pick = static_cast<int>(rnd(c));
    for (int r = 0; r <= 9; ++r)
      if (f_.r[r].k == k && pick-- == 0) return r;
    return -1;
  }
  // A scalar register, creating one when there is none.
  int scalar_src() {
    int r = find(K::Scalar);
    if (r >= 0 && !chance(150)) return r;
    r = scalar_dst();
    emit("mov {}, {}", R(r), imm());
    f_.r[r] = Reg{K::Scalar};
    return r;
  }
  int64_t imm() { return interesting_imm(rng_); }

  void clobber_caller_saved() {
    for (int r = 1; r <= 5; ++r)
      f_.r[r] = Reg{K::Uninit};
    f_.r[0] = Reg{K::Scalar};
  }

  void snippet(int depth) {
    if (f_.dead) return;
    uint64_t x = rnd(100);
    if (x < 16) return alu();
    if (x < 18) return linked_offset();
    if (x < 20) return trunc_pointers();
    if (x < 22) return clobber_spill();
    if (x < 27) return offset_chain();
    if (x < 30) return alu();
    if (x < 42) return stack_store();
    if (x < 52) return stack_load();
    if (x < 62) return p_.type == ProgType::Xdp && chance(600) ? packet_access() : ctx_read();
    if (x < 72) return p_.maps.empty() ? alu() : map_lookup();
    if (x < 75) return p_.maps.empty() ? alu() : map_update();
    if (x < 80) return helper_call();
    if (x < 89) return depth < 3 ? branch(depth) : alu();
    if (x < 94) return depth < 2 && loop_depth_ < 2 ? loop(depth) : alu();
    if (x < 95) return local_call();
    if (x < 96) return loop_helper();
    if (x < 97) return rnd(2) ? atomic_stack() : clobber_spill();
    return offset_chain();
  }

  void alu() {
    const auto& kOps = kAluOpNames;
    int dst = find(K::Scalar);
    if (dst < 0 || !writable(dst) || chance(200)) {
      dst = scalar_dst();
      if (chance(100))
        emit("lddw {}, {}", R(dst), static_cast<int64_t>(rng_()));
      else
        emit("mov{} {}, {}", chance(300) ? "32" : "", R(dst), imm());
      f_.r[dst] = Reg{K::Scalar};
    }
    const bool is32 = chance(350);
    const char* w = is32 ? "32" : "";
    const uint64_t kind = rnd(100);
    if (kind < 6) {
      emit("neg{} {}", w, R(dst));
    } else if (kind < 14) {
      const auto& kSwaps = kSwapNames;
      emit("{} {}", kSwaps[rnd(9)], R(dst));
    } else if (kind < 22) {
      int src = bad() ? static_cast<int>(rnd(10)) : scalar_src();
      if (is32)
        emit("movsx{}32 {}, {}", rnd(2) ? 8 : 16, R(dst), R(src));
      else
        emit("movsx{}64 {}, {}", 8 << rnd(3), R(dst), R(src));
    } else {
      std::string op = kOps[rnd(std::size(kOps))];
      const bool shift = op == "lsh" || op == "rsh" || op == "arsh";
      if (chance(500)) {
        int64_t v = imm();
        if (shift)
          v = bad() ? (is32 ? 32 : 64) + static_cast<int64_t>(rnd(8))
                    : static_cast<int64_t>(rnd(is32 ? 32 : 64));
        emit("{}{} {}, {}", op, w, R(dst), v);
      } else {
        int src = scalar_src();
        if (bad()) src = static_cast<int>(rnd(11));  // maybe uninitialized, maybe a pointer
        emit("{}{} {}, {}", op, w, R(dst), R(src));
      }
    }
    f_.r[dst] = Reg{K::Scalar};
  }

  // A stack offset for an access of `size` bytes: aligned and in range, or (dubious) not.
  int stack_off(int size) {
    if (bad()) {
      switch (rnd(4)) {
        case 0:
          return 0;
        case 1:
          return -520;
        case 2:
          return -static_cast<int>(rnd(512)) - 1;  // maybe misaligned
        default:
          return -size + 1;  // crosses the frame top
      }
    }
    return -size * static_cast<int>(1 + rnd(512 / size));
  }

  void mark_store(int off, int size, K spill) {
    if (off < -512 || off + size > 0) return;
    for (int b = 0; b < size; ++b)
      f_.init.set(byte_index(off + b));
    const int first = byte_index(off) / 8, last = byte_index(off + size - 1) / 8;
    for (int s = first; s <= last; ++s)
      f_.slot[63 - s] = K::Scalar;
    if (size == 8 && off % 8 == 0) f_.slot[63 - byte_index(off) / 8] = spill;
  }

  void stack_store() {
    static constexpr int kSizes[] = {1, 2, 4, 8};
    static constexpr const char* kSuffix[] = {"b", "h", "w", "dw"};
    const int si = static_cast<int>(rnd(4)), size = kSizes[si];
    int off = stack_off(size);
    if (chance(300)) {
      emit("st{} [%r10{:+}], {}", kSuffix[si], off, imm());
      mark_store(off, size, K::Scalar);
      return;
    }
    int src = -1;
    if (size == 8 && chance(300)) src = find(K::Ctx);
    if (src < 0) src = scalar_src();
    if (bad()) src = static_cast<int>(rnd(10));
    emit("stx{} [%r10{:+}], {}", kSuffix[si], off, R(src));
    mark_store(off, size, f_.r[src].k == K::Ctx ? K::Ctx : K::Scalar);
  }

  void stack_load() {
    static constexpr int kSizes[] = {1, 2, 4, 8};
    static constexpr const char* kSuffix[] = {"b", "h", "w", "dw"};
    int si = static_cast<int>(rnd(4)), size = kSizes[si];
    int off = 0;
    bool found = false;
    if (!bad()) {
      // An initialized, aligned location.
      for (int tries = 0; tries < 16 && !found; ++tries) {
        off = -size * static_cast<int>(1 + rnd(512 / size));
        found = true;
        for (int b = 0; b < size; ++b)
          found = found && f_.init.test(byte_index(off + b));
      }
      if (!found) return stack_store();
    } else {
      off = stack_off(size);
    }
    const bool sx = size < 8 && chance(200);
    int dst = scalar_dst();
    emit("ldx{}{} {}, [%r10{:+}]", sx ? "s" : "", kSuffix[si], R(dst), off);
    K k = K::Scalar;
    if (size == 8 && off % 8 == 0 && off >= -512 && off < 0) {
      K s = f_.slot[63 - byte_index(off) / 8];
      if (s == K::Ctx) k = K::Ctx;
      if (s == K::Mixed) k = K::Mixed;
    }
    f_.r[dst] = Reg{k};
  }

  void atomic_stack() {
    static constexpr const char* kAt[] = {"add",       "fetch add", "or",        "fetch or", "and",
                                          "fetch and", "xor",       "fetch xor", "xchg"};
    const bool is32 = chance(400);
    const int size = is32 ? 4 : 8;
    int off = stack_off(size);
    if (!bad() && off >= -512 && off + size <= 0) {
      for (int b = 0; b < size; ++b)
        if (!f_.init.test(byte_index(off + b))) {
          emit("st{} [%r10{:+}], {}", is32 ? "w" : "dw", off, imm());
          mark_store(off, size, K::Scalar);
          break;
        }
    }
    int src = scalar_src();
    const char* op = kAt[rnd(std::size(kAt))];
    emit("lock {}{} [%r10{:+}], {}", op, is32 ? "32" : "", off, R(src));
    if (std::string_view(op).find("fetch") != std::string_view::npos || std::string_view(op) == "xchg")
      f_.r[src] = Reg{K::Scalar};
  }

  // An unknown scalar (from input memory, a helper or a register) pushed through a random chain
  // of ALU operations and range checks (64- and 32-bit, signed and unsigned), then used as the
  // variable offset of an access to the stack, the raw input or a map value. Whether the verifier
  // accepts is its business: the point is the range analysis of each step.
  void chain(int q, const std::string& skip) {
    const int steps = static_cast<int>(1 + rnd(5));
    for (int i = 0; i < steps; ++i) {
      const char* w = chance(300) ? "32" : "";
      const int bits = static_cast<int>(rnd(17));
      const int64_t small = static_cast<int64_t>(rnd(64)) - (chance(300) ? 32 : 0);
      switch (rnd(16)) {
        case 0:
        case 1:
          emit("and{} {}, {}", w, R(q),
               chance(700) ? (int64_t{1} << bits) - 1 : static_cast<int64_t>(rnd(1024)));
          break;
        case 2:
          emit("rsh{} {}, {}", w, R(q), rnd(*w ? 32 : 64));
          break;
        case 3:
          emit("arsh{} {}, {}", w, R(q), rnd(*w ? 32 : 64));
          break;
        case 4:
          emit("lsh{} {}, {}", w, R(q), rnd(4));
          break;
        case 5:
          emit("add{} {}, {}", w, R(q), small);
          break;
        case 6:
          emit("sub{} {}, {}", w, R(q), small);
          break;
        case 7:
          emit("mul{} {}, {}", w, R(q), rnd(5));
          break;
        case 8:
          emit("{}{} {}, {}", rnd(2) ? "mod" : "smod", w, R(q), 1 + rnd(64));
          break;
        case 9:
          emit("{}{} {}, {}", rnd(2) ? "div" : "sdiv", w, R(q), 1 + rnd(8));
          break;
        case 10:
          emit("{}{} {}, {}", rnd(2) ? "or" : "xor", w, R(q), rnd(16));
          break;
        case 11: {
          static constexpr const char* kMov[] = {"movsx832",  "movsx1632", "movsx864",
                                                 "movsx1664", "movsx3264", "mov32"};
          emit("{} {}, {}", kMov[rnd(6)], R(q), R(q));
          break;
        }
        case 12:
          emit("neg{} {}", w, R(q));
          break;
        case 13: {
          static constexpr const char* kSw[] = {"le16", "le32", "be16", "be32", "bswap16", "bswap32"};
          emit("{} {}", kSw[rnd(6)], R(q));
          break;
        }
        default: {
          // Range check that jumps away.
          static constexpr const char* kOut[] = {"jgt",  "jge", "jsgt", "jsge", "jlt", "jslt",
                                                 "jsle", "jle", "jeq",  "jne",  "jset"};
          const char* c = kOut[rnd(std::size(kOut))];
          int64_t v = chance(500) ? static_cast<int64_t>(rnd(128)) : static_cast<int64_t>(rnd(4096)) - 2048;
          emit("{}{} {}, {}, {}", c, w, R(q), v, skip);
        }
      }
    }
  }

  void offset_chain() {
    int s = find(K::Scalar);
    int q = -1;
    for (int r = 0; r <= 9; ++r) {
      int rr = static_cast<int>((r + rnd(10)) % 10);
      if (rr != s && writable(rr) && f_.r[rr].k != K::Ctx) {
        q = rr;
        break;
      }
    }
    if (q < 0) return alu();
    const int c = find(K::Ctx);
    if (c >= 0 && p_.type == ProgType::Raw && p_.raw_ctx_size >= 8 && chance(400)) {
      emit("ldxdw {}, [{}+{}]", R(q), R(c), rnd(p_.raw_ctx_size - 7));
    } else if (c >= 0 && p_.type == ProgType::Raw && chance(300)) {
      emit("ldxb {}, [{}+{}]", R(q), R(c), rnd(p_.raw_ctx_size));
    } else if (s >= 0) {
      emit("mov {}, {}", R(q), R(s));
    } else {
      emit("lddw {}, {}", R(q), static_cast<int64_t>(rng_()));
    }
    f_.r[q] = Reg{K::Scalar};
    std::string skip = new_label();
    if (chance(600)) emit("and {}, {}", R(q), (int64_t{1} << rnd(9)) - 1);  // small, then stretched
    chain(q, skip);
    access_at(q, skip);
  }

  // Uses the scalar in q as a variable offset into the stack (r10 - 256 + q), the raw input or a
  // map value, then joins the paths that jumped to `skip`.
  void access_at(int q, const std::string& skip) {
    const int c = find(K::Ctx);
    Frame before = f_;
    static constexpr int kSizes[] = {1, 2, 4, 8};
    static constexpr const char* kSuffix[] = {"b", "h", "w", "dw"};
    const int si = static_cast<int>(rnd(4));
    const int64_t off = static_cast<int64_t>(rnd(16)) - 8;
    uint64_t target = rnd(3);
    if (target == 1 && !(c >= 0 && p_.type == ProgType::Raw)) target = 0;
    if (target == 0) {
      // Stack: r10 - 256 + q (reads need initialized bytes: fill the area first, sometimes).
      if (chance(500))
        for (int o = -256 - 64; o < -256 + 64; o += 8) {
          if (o >= 0) break;
          emit("stdw [%r10{:+}], 0", o);
          mark_store(o, 8, K::Scalar);
        }
      emit("add {}, %r10", R(q));
      emit("add {}, -256", R(q));
    } else if (target == 1) {
      emit("add {}, {}", R(q), R(c));
    } else {
      if (p_.maps.empty()) {
        emit_label(skip);
        f_ = join(before, f_);
        return;
      }
      // Map value: lookup (kept in r6-r9 across the call is not needed: q is caller-saved safe
      // only in r6-r9, so spill q first).
      emit("stxdw [%r10-8], {}", R(q));
      mark_store(-8, 8, K::Scalar);
      keep_ctx_before_call();
      int off4 = key_slot(true);
      emit("mov %r2, %r10");
      emit("add %r2, {}", off4);
      emit("lddw %r1, map_fd({})", rnd(p_.maps.size()));
      emit("call 1");
      clobber_caller_saved();
      emit("jeq %r0, 0, {}", skip);
      emit("ldxdw {}, [%r10-8]", R(q == 0 ? 1 : q));
      if (q == 0) q = 1;
      emit("add {}, %r0", R(q));
      f_.r[0] = Reg{K::MapVal};
    }
    if (chance(500)) {
      int d = scalar_dst();
      if (d == q) d = (q + 1) % 10;
      if (!writable(d)) d = q;
      emit("ldx{} {}, [{}{:+}]", kSuffix[si], R(d), R(q), off);
      f_.r[d] = Reg{K::Scalar};
    } else {
      int v = scalar_src();
      emit("stx{} [{}{:+}], {}", kSuffix[si], R(q), off, R(v));
    }
    (void)kSizes;
    f_.r[q] = Reg{K::Mixed};
    emit_label(skip);
    f_ = join(before, f_);
  }

  // Linked scalars (the kernel's BPF_ADD_CONST): copies of an unknown scalar with constants added,
  // a range check on one of them, the other used as a variable offset. Dubious variants overwrite
  // the checked register or the copy in between (the link must break).
  void linked_offset() {
    int regs[3];
    if (pick_regs(regs, 3, -1, true) < 3) return alu();
    const int q = regs[0], r = regs[1], t = regs[2];
    const int c = find(K::Ctx);
    emit("# linked scalars");
    if (c >= 0 && p_.type == ProgType::Raw && p_.raw_ctx_size >= 8 && chance(500))
      emit("ldxdw {}, [{}+{}]", R(q), R(c), rnd(p_.raw_ctx_size - 7));
    else if (c >= 0 && p_.type == ProgType::Raw && chance(500))
      emit("ldxb {}, [{}+{}]", R(q), R(c), rnd(p_.raw_ctx_size));
    else
      emit("lddw {}, {}", R(q), static_cast<int64_t>(rng_()));
    if (chance(300)) emit("and {}, {}", R(q), (int64_t{1} << rnd(12)) - 1);
    auto small = [&] { return static_cast<int64_t>(rnd(chance(900) ? 64 : 4096)) - (chance(500) ? 32 : 0); };
    // A copy moved by a constant: on 64 bits, or linked on the low halves (a 32-bit copy or add,
    // the `<<= 32; >>= 32` zero-extension idiom; a dubious `s>>= 32` is no such copy).
    auto linked_copy = [&](int to, int from) {
      const char* op = rnd(2) ? "add" : "sub";
      switch (rnd(4)) {
        case 0:
          emit("mov {}, {}", R(to), R(from));
          emit("{} {}, {}", op, R(to), small());
          break;
        case 1:
          emit("mov32 {}, {}", R(to), R(from));
          emit("{}32 {}, {}", op, R(to), small());
          break;
        case 2:
          emit("mov {}, {}", R(to), R(from));
          emit("lsh {}, 32", R(to));
          emit("{} {}, 32", bad() ? "arsh" : "rsh", R(to));
          break;
        default:
          emit("mov {}, {}", R(to), R(from));
          emit("{}32 {}, {}", op, R(to), small());
          break;
      }
    };
    linked_copy(r, q);
    const bool third = chance(400);
    if (third) linked_copy(t, r);
    f_.r[q] = f_.r[r] = Reg{K::Scalar};
    if (third) f_.r[t] = Reg{K::Scalar};
    const int n = third ? 3 : 2;
    const int checked = regs[rnd(n)];
    int used = regs[rnd(n)];
    std::string skip = new_label();
    static constexpr const char* kOut[] = {"jgt",  "jge",  "jsgt", "jsge", "jlt",
                                           "jslt", "jsle", "jle",  "jeq",  "jne"};
    const int checks = static_cast<int>(1 + rnd(2));
    for (int i = 0; i < checks; ++i) {
      const char* w = chance(200) ? "32" : "";
      int64_t v = chance(700) ? static_cast<int64_t>(rnd(256)) : static_cast<int64_t>(rnd(4096)) - 2048;
      emit("{}{} {}, {}, {}", kOut[rnd(std::size(kOut))], w, R(i == 0 ? checked : regs[rnd(n)]), v, skip);
    }
    if (bad()) {
      // The link must break when one of them is written again.
      const int o = regs[rnd(n)];
      if (rnd(2))
        emit("lddw {}, {}", R(o), static_cast<int64_t>(rng_()));
      else
        emit("add {}, {}", R(o), R(regs[rnd(n)]));
    }
    if (used == c) used = q;
    access_at(used, skip);
  }

  // 32-bit arithmetic on pointers, as clang -mcpu=v3 emits for u32 expressions of ctx->data and
  // ctx->data_end: differences of the low halves of packet pointers (data_end - data, two offsets
  // from data, a variable offset, the low half of a spilled pointer), used as a variable offset
  // whose range must be right. Dubious variants use the low half itself (dereference, mask, 64-bit
  // arithmetic, return it).
  void trunc_pointers() {
    int c = find(K::Ctx);
    if (c < 0 || p_.type != ProgType::Xdp) {
      // Raw input: the low half of a stack or input pointer is never usable; the verifier must
      // refuse every use that could fault or leak.
      int d = scalar_dst();
      if (!writable(d)) return alu();
      emit("mov32 {}, {}", R(d), rnd(2) || c < 0 ? "%r10" : R(c));
      switch (rnd(4)) {
        case 0:
          emit("add32 {}, {}", R(d), -8 * static_cast<int64_t>(1 + rnd(8)));
          emit("ldx{} {}, [{}+0]", rnd(2) ? "b" : "dw", R(d), R(d));
          break;
        case 1:
          emit("stxdw [%r10-8], {}", R(d));
          mark_store(-8, 8, K::Mixed);
          emit("ldxdw {}, [%r10-8]", R(d));
          break;
        case 2:
          emit("and32 {}, 0xff", R(d));
          break;
        default:
          emit("sub32 {}, {}", R(d), rnd(2) ? "%r10" : R(scalar_src()));
      }
      f_.r[d] = Reg{K::Mixed};
      return;
    }
    int regs[4];
    if (pick_regs(regs, 4, c) < 4) return alu();
    const int a = regs[0], b = regs[1], u = regs[2], t = regs[3];
    emit("# truncated packet pointers");
    emit("ldxw {}, [{}+0]", R(a), R(c));
    emit("ldxw {}, [{}+4]", R(b), R(c));
    f_.r[a] = Reg{K::Pkt};
    f_.r[b] = Reg{K::PktEnd};
    f_.r[u] = Reg{K::Mixed};
    f_.r[t] = Reg{K::Scalar};
    const int64_t k1 = static_cast<int64_t>(rnd(chance(800) ? 64 : 70000)),
                  k2 = static_cast<int64_t>(rnd(64));
    switch (rnd(5)) {
      case 0:  // data_end - data: the packet length
        emit("mov32 {}, {}", R(t), R(b));
        emit("sub32 {}, {}", R(t), R(a));
        break;
      case 1:  // (data + k1) - (data + k2), in either order
        emit("mov {}, {}", R(u), R(a));
        emit("add {}, {}", R(u), k1);
        emit("mov32 {}, {}", R(t), rnd(2) ? R(u) : R(a));
        if (chance(300)) emit("add32 {}, {}", R(t), k2);
        emit("sub32 {}, {}", R(t), rnd(2) ? R(a) : R(u));
        break;
      case 2: {  // a variable offset from data
        int s = scalar_src();
        if (s == a || s == b || s == t || s == u) s = -1;
        emit("mov {}, {}", R(u), s >= 0 ? R(s) : "0");
        emit("and {}, {}", R(u), (int64_t{1} << rnd(10)) - 1);
        emit("add {}, {}", R(u), R(a));
        emit("mov32 {}, {}", R(t), R(u));
        emit("sub32 {}, {}", R(t), R(a));
        break;
      }
      case 3:  // the low half of a spilled packet pointer
        emit("mov {}, {}", R(u), R(a));
        emit("add {}, {}", R(u), k1);
        emit("stxdw [%r10-8], {}", R(u));
        mark_store(-8, 8, K::Mixed);
        emit("ldxw {}, [%r10-8]", R(t));
        emit("sub32 {}, {}", R(t), R(a));
        break;
      default:  // packet end minus an offset from data
        emit("mov {}, {}", R(u), R(a));
        emit("add {}, {}", R(u), k1);
        emit("mov32 {}, {}", R(t), R(b));
        emit("sub32 {}, {}", R(t), R(u));
    }
    if (bad()) {
      switch (rnd(4)) {
        case 0:
          emit("mov32 {}, {}", R(t), R(a));
          emit("ldxb {}, [{}+0]", R(t), R(t));
          break;
        case 1:
          emit("mov32 {}, {}", R(t), R(b));
          emit("and32 {}, 0xfff", R(t));
          break;
        case 2:
          emit("mov32 {}, {}", R(t), R(a));
          emit("add {}, {}", R(t), R(t));
          break;
        default:
          emit("mov32 %r0, {}", R(a));
          emit("exit");
          f_.dead = true;
          return;
      }
    }
    std::string skip = new_label();
    access_at(t, skip);
  }

  // A spilled context pointer overwritten (partly or wholly) by a narrower store, an atomic, a helper
  // writing to the stack, then filled and dereferenced as if it were still the pointer. The verifier
  // must reject the dereference unless the overwrite left the spill intact.
  void clobber_spill() {
    int c = find(K::Ctx);
    if (c < 0) return stack_store();
    const int k = -8 * static_cast<int>(1 + rnd(8));
    emit("stxdw [%r10{:+}], {}", k, R(c));
    mark_store(k, 8, K::Ctx);
    switch (rnd(6)) {
      case 0: {
        static constexpr const char* kSuffix[] = {"b", "h", "w"};
        const int si = static_cast<int>(rnd(3));
        const int size = 1 << si;
        emit("st{} [%r10{:+}], {}", kSuffix[si], k + static_cast<int>(rnd(9 - size)) / size * size, imm());
        break;
      }
      case 1: {
        int v = scalar_src();
        emit("stx{} [%r10{:+}], {}", rnd(2) ? "w" : "dw", k + (rnd(2) ? 0 : 4) * 0, R(v));
        break;
      }
      case 2: {
        int v = scalar_src();
        emit("lock {}add{} [%r10{:+}], {}", rnd(2) ? "fetch " : "", rnd(2) ? "32" : "", k, R(v));
        f_.r[v] = Reg{K::Scalar};
        break;
      }
      case 3:
      case 4: {
        keep_ctx_before_call();
        const int below = rnd(2) ? 8 : 0;
        emit("mov %r1, %r10");
        emit("add %r1, {}", k - below);
        emit("mov %r2, {}", 8 + below + (rnd(2) ? 0 : 8));
        emit("mov %r3, 0");
        emit("call {}", rnd(2) ? 16 : 113);
        clobber_caller_saved();
        break;
      }
      default:
        break;  // left intact: the dereference is fine
    }
    int d = scalar_dst();
    emit("ldxdw {}, [%r10{:+}]", R(d), k);
    int e = scalar_dst();
    emit("ldxw {}, [{}+0]", R(e), R(d));
    f_.r[d] = Reg{K::Mixed};
    f_.r[e] = Reg{K::Scalar};
    for (int b = 0; b < 8; ++b)
      f_.slot[63 - byte_index(k) / 8] = K::Mixed;
  }

  // Raw input or xdp_md fields.
  void ctx_read() {
    int c = find(K::Ctx);
    if (c < 0) {
      if (!bad()) return alu();
      c = static_cast<int>(rnd(10));
    }
    static constexpr int kSizes[] = {1, 2, 4, 8};
    static constexpr const char* kSuffix[] = {"b", "h", "w", "dw"};
    int si = static_cast<int>(rnd(4)), size = kSizes[si];
    int ctx_size = p_.type == ProgType::Raw ? static_cast<int>(p_.raw_ctx_size) : 24;
    if (p_.type == ProgType::Xdp) {
      si = bad() ? si : 2;
      size = kSizes[si];
    }
    if (size > ctx_size) {
      si = 0;
      size = 1;
    }
    int off = static_cast<int>(rnd(static_cast<uint64_t>(ctx_size - size + 1)));
    if (p_.type == ProgType::Xdp && size == 4) off &= ~3;
    if (bad()) off = rnd(2) ? ctx_size - size + 1 : -static_cast<int>(1 + rnd(8));
    if (p_.type == ProgType::Raw && chance(250)) {
      // Variable offset: ctx + (scalar & mask).
      int s = scalar_src();
      int p = scalar_dst();
      while (p == s || p == c)
        p = (p + 1) % 10;
      if (!writable(p)) return alu();
      uint64_t mask = static_cast<uint64_t>(ctx_size - size);
      if (bad()) mask = mask * 2 + 1;
      emit("mov {}, {}", R(p), R(s));
      if (!(bad() && chance(500))) {
        if (chance(500))
          emit("and {}, {}", R(p), mask);
        else {
          // Bound by a branch instead of a mask.
          std::string skip = new_label();
          emit("jgt {}, {}, {}", R(p), bad() ? mask + 1 : mask, skip);
          emit("add {}, {}", R(p), R(c));
          int d = scalar_dst();
          emit("ldx{} {}, [{}+0]", kSuffix[si], R(d), R(p));
          emit_label(skip);
          f_.r[p] = Reg{K::Mixed};
          f_.r[d] = Reg{K::Uninit};  // not written on the jump path
          return;
        }
      }
      emit("add {}, {}", R(p), R(c));
      int d = scalar_dst();
      emit("ldx{} {}, [{}+0]", kSuffix[si], R(d), R(p));
      f_.r[p] = Reg{K::Mixed};
      f_.r[d] = Reg{K::Scalar};
      return;
    }
    if (p_.type == ProgType::Raw && chance(300)) {
      int s = scalar_src();
      emit("stx{} [{}{:+}], {}", kSuffix[si], R(c), off, R(s));
      return;
    }
    int d = scalar_dst();
    emit("ldx{} {}, [{}{:+}]", kSuffix[si], R(d), R(c), off);
    f_.r[d] = Reg{K::Scalar};
  }

  // xdp: data/data_end, a bounds check, accesses inside it.
  void packet_access() {
    int c = find(K::Ctx);
    if (c < 0) return alu();
    // Registers: a = data, b = data_end, t = data + n.
    int regs[3];
    if (pick_regs(regs, 3, c) < 3) return alu();
    const int a = regs[0], b = regs[1], t = regs[2];
    const int n = static_cast<int>(1 + rnd(chance(800) ? 64 : 1600));
    // data .. data_end, or (metadata) data_meta .. data.
    const bool meta = chance(200);
    emit("ldxw {}, [{}+{}]", R(a), R(c), meta ? 8 : 0);
    emit("ldxw {}, [{}+{}]", R(b), R(c), meta ? 0 : 4);
    f_.r[a] = Reg{K::Pkt};
    f_.r[b] = Reg{K::PktEnd};
    std::string skip = new_label();
    emit("mov {}, {}", R(t), R(a));
    const bool off_by_one = bad();
    emit("add {}, {}", R(t), n);
    f_.r[t] = Reg{K::Pkt};
    switch (rnd(4)) {
      case 0:
        emit("jgt {}, {}, {}", R(t), R(b), skip);
        break;
      case 1:
        emit("jlt {}, {}, {}", R(b), R(t), skip);
        break;
      case 2:
        emit("jge {}, {}, {}", R(t), R(b), skip);
        break;  // stricter than needed
      default: {
        // Positive form: continue when t <= data_end.
        std::string ok = new_label();
        emit("jle {}, {}, {}", R(t), R(b), ok);
        emit("ja {}", skip);
        emit_label(ok);
      }
    }
    if (bad() && chance(300)) {
      // A check against the wrong register (the packet start).
      emit("jgt {}, {}, {}", R(t), R(a), skip);
    }
    Frame before = f_;
    static constexpr int kSizes[] = {1, 2, 4, 8};
    static constexpr const char* kSuffix[] = {"b", "h", "w", "dw"};
    const int accesses = static_cast<int>(1 + rnd(3));
    for (int i = 0; i < accesses; ++i) {
      int si = static_cast<int>(rnd(4)), size = kSizes[si];
      if (size > n) {
        si = 0;
        size = 1;
      }
      int off = static_cast<int>(rnd(static_cast<uint64_t>(n - size + 1)));
      if (off_by_one) off = n - size + 1;
      if (chance(200) && n >= 2) {
        // Variable offset: a + (packet byte & mask), checked again.
        int v = -1;
        for (int r = 0; r <= 9; ++r)
          if (r != a && r != b && r != t && r != c && writable(r)) v = r;
        if (v < 0) break;
        emit("ldxb {}, [{}+0]", R(v), R(a));
        const int mask = static_cast<int>(rnd(16));
        emit("and {}, {}", R(v), mask);
        f_.r[v] = Reg{K::Pkt};
        if (chance(500) && n > mask) {
          // No new check: the range proven for data carries over the bounded variable offset
          // (data + v + off + size <= data + n), or (dubious) not quite.
          emit("# packet range carried over a variable offset");
          int o = static_cast<int>(rnd(static_cast<uint64_t>(std::max(1, n - mask - size + 1))));
          if (off_by_one) o = n - mask - size + 1;
          if (chance(300)) {
            // data + (n - size - o') - v: a subtracted variable offset.
            const int top = static_cast<int>(rnd(static_cast<uint64_t>(std::max(1, n - size + 1))));
            emit("mov {}, {}", R(t), R(a));
            emit("add {}, {}", R(t), off_by_one ? top + 1 : top);
            emit("sub {}, {}", R(t), R(v));
            emit("ldx{} {}, [{}+0]", kSuffix[si], R(v), R(t));
            f_.r[t] = Reg{K::Pkt};
            f_.r[v] = Reg{K::Scalar};
            continue;
          }
          emit("add {}, {}", R(v), R(a));
          emit("ldx{} {}, [{}{:+}]", kSuffix[si], R(t), R(v), o);
          f_.r[t] = Reg{K::Scalar};
          continue;
        }
        emit("add {}, {}", R(v), R(a));
        emit("mov {}, {}", R(t), R(v));
        emit("add {}, {}", R(t), size);
        emit("jgt {}, {}, {}", R(t), R(b), skip);
        emit("ldx{} {}, [{}+0]", kSuffix[si], R(t), R(v));
        f_.r[t] = Reg{K::Scalar};
        continue;
      }
      if (chance(300)) {
        int s = scalar_src();
        if (s == a || s == b || s == t) continue;
        emit("stx{} [{}{:+}], {}", kSuffix[si], R(a), off, R(s));
      } else {
        int d = t;
        emit("ldx{} {}, [{}{:+}]", kSuffix[si], R(d), R(a), off);
        f_.r[d] = Reg{K::Scalar};
      }
    }
    emit_label(skip);
    f_ = join(before, f_);
  }

  // Key on the stack at r10 - 4 * k: a constant (stored as an immediate, or from r0 as a narrow
  // spill), sometimes a byte of the input.
  int key_slot(bool write_key) {
    int off = -4 * static_cast<int>(1 + rnd(16));
    write_key_const_ = write_key;
    if (write_key) {
      const int k = static_cast<int>(rnd(chance(800) ? 8 : 40));
      const int c = find(K::Ctx);
      if (writable(0) && f_.r[0].k != K::Ctx && chance(200)) {
        if (c >= 0 && p_.type == ProgType::Raw && chance(300)) {
          emit("ldxb %r0, [{}+0]", R(c));  // a variable key
          write_key_const_ = false;
        } else {
          emit("mov %r0, {}", k);
        }
        emit("stxw [%r10{:+}], %r0", off);
        f_.r[0] = Reg{K::Scalar};
      } else {
        emit("stw [%r10{:+}], {}", off, k);
      }
      mark_store(off, 4, K::Scalar);
    }
    return off;
  }

  void keep_ctx_before_call() {
    if (f_.r[1].k == K::Ctx && count(K::Ctx) == 1) {
      for (int r = 6; r <= 9; ++r)
        if (writable(r)) {
          emit("mov {}, %r1", R(r));
          f_.r[r] = Reg{K::Ctx};
          return;
        }
    }
  }

  void map_lookup() {
    keep_ctx_before_call();
    const int map = static_cast<int>(rnd(p_.maps.size()));
    const MapDef& m = p_.maps[map];
    const bool bad_key = bad();
    int off = key_slot(!bad_key || chance(500));
    if (bad_key && chance(500)) {
      emit("mov %r2, {}", off);
    } else {
      emit("mov %r2, %r10");
      emit("add %r2, {}", off);
    }
    if (bad() && chance(300))
      emit("mov %r1, {}", map);
    else
      emit("lddw %r1, map_fd({})", map);
    emit("call 1");
    clobber_caller_saved();
    f_.r[0] = Reg{K::MapValOrNull};
    std::string skip = new_label();
    // An array lookup with a constant key needs no null check when the key is below max_entries
    // (key_slot writes 0..7 or 0..39: sometimes past the end).
    const bool null_check = !bad() && !(m.type == MapType::Array && write_key_const_ && chance(300));
    if (!null_check && m.type == MapType::Array) emit("# no null check");
    if (null_check) {
      if (chance(700)) {
        emit("jeq %r0, 0, {}", skip);
      } else {
        std::string ok = new_label();
        emit("jne %r0, 0, {}", ok);
        emit("ja {}", skip);
        emit_label(ok);
      }
    }
    Frame before = f_;
    f_.r[0] = Reg{K::MapVal};
    int vp = 0;
    if (chance(300)) {
      // Work on a copy (the null check must refine it too).
      vp = static_cast<int>(6 + rnd(4));
      if (writable(vp) && !(f_.r[vp].k == K::Ctx && count(K::Ctx) == 1)) {
        emit("mov {}, %r0", R(vp));
        f_.r[vp] = Reg{K::MapVal};
      } else {
        vp = 0;
      }
    }
    const int vs = static_cast<int>(m.value_size);
    static constexpr int kSizes[] = {1, 2, 4, 8};
    static constexpr const char* kSuffix[] = {"b", "h", "w", "dw"};
    const int accesses = static_cast<int>(1 + rnd(3));
    for (int i = 0; i < accesses; ++i) {
      int si = static_cast<int>(rnd(4)), size = kSizes[si];
      if (size > vs) {
        si = 2;
        size = 4;
      }
      int off = static_cast<int>(rnd(static_cast<uint64_t>(vs - size + 1)));
      if (bad()) off = rnd(2) ? vs - size + 1 : -1;
      if (chance(300)) {
        // Variable offset: bounded by a mask or a branch, or (dubious) not at all.
        int s = scalar_src();
        int q = -1;
        for (int r = 1; r <= 9; ++r)
          if (r != s && r != vp && writable(r) && f_.r[r].k != K::Ctx) q = r;
        if (q < 0) continue;
        const int64_t limit = vs - size;
        emit("mov {}, {}", R(q), R(s));
        switch (rnd(bad() ? 6 : 3)) {
          case 0:
            emit("and {}, {}", R(q), limit < 8 ? 0 : (limit & ~7));
            break;
          case 1:
            emit("jgt {}, {}, {}", R(q), limit, skip);
            break;
          case 2:
            emit("and {}, 0xff", R(q));
            emit("jge {}, {}, {}", R(q), limit + 1, skip);
            break;
          case 3:
            emit("jsgt {}, {}, {}", R(q), limit, skip);
            break;  // negative values pass
          case 4:
            emit("jgt {}, {}, {}", R(q), limit + 1, skip);
            break;  // off by one
          default:
            break;  // unbounded
        }
        emit("add {}, {}", R(q), R(vp));
        if (chance(500)) {
          int d = scalar_dst();
          if (d == q) d = (q + 1) % 10;
          emit("ldx{} {}, [{}+0]", kSuffix[si], R(d), R(q));
          f_.r[d] = Reg{K::Scalar};
        } else {
          int v = scalar_src();
          emit("stx{} [{}+0], {}", kSuffix[si], R(q), R(v));
        }
        f_.r[q] = Reg{K::MapVal};
        continue;
      }
      switch (rnd(4)) {
        case 0: {
          int v = scalar_src();
          emit("stx{} [{}{:+}], {}", kSuffix[si], R(vp), off, R(v));
          break;
        }
        case 1:
          if (size >= 4 && off % size == 0) {
            int v = scalar_src();
            emit("lock add{} [{}{:+}], {}", size == 4 ? "32" : "", R(vp), off, R(v));
            break;
          }
          [[fallthrough]];
        default: {
          int d = scalar_dst();
          if (d == vp) d = (vp + 1 + static_cast<int>(rnd(5))) % 10;
          if (!writable(d)) d = vp;
          emit("ldx{} {}, [{}{:+}]", kSuffix[si], R(d), R(vp), off);
          f_.r[d] = Reg{K::Scalar};
        }
      }
    }
    emit_label(skip);
    f_ = join(before, f_);
  }

  void map_update() {
    keep_ctx_before_call();
    const int map = static_cast<int>(rnd(p_.maps.size()));
    const MapDef& m = p_.maps[map];
    const int kind = static_cast<int>(rnd(3));  // update, delete, lookup of a map pointer only
    int koff = key_slot(!bad());
    if (kind == 0) {
      // Value: value_size bytes below the key area.
      const int vs = static_cast<int>((m.value_size + 7) / 8 * 8);
      const int voff = -64 - vs;
      if (!bad())
        for (int o = voff; o < voff + vs; o += 8) {
          emit("stdw [%r10{:+}], {}", o, imm());
          mark_store(o, 8, K::Scalar);
        }
      emit("mov %r3, %r10");
      emit("add %r3, {}", voff);
      if (!bad()) emit("mov %r4, {}", rnd(3));
    }
    emit("mov %r2, %r10");
    emit("add %r2, {}", koff);
    emit("lddw %r1, map_fd({})", map);
    emit("call {}", kind == 0 ? 2 : 3);
    clobber_caller_saved();
  }

  void helper_call() {
    keep_ctx_before_call();
    static constexpr int kNoArgs[] = {5, 7, 8};
    if (bad()) {
      switch (rnd(3)) {
        case 0:
          emit("call {}", 9000 + rnd(100));
          break;  // unknown helper
        case 1:
          emit("call 1");
          break;  // map lookup without arguments
        default:
          emit("mov %r1, %r10");
          emit("add %r1, -8");
          emit("mov %r2, {}", 8 + rnd(600));
          emit("call 6");  // trace_printk of the stack, maybe too long, maybe uninitialized
      }
    } else {
      emit("call {}", kNoArgs[rnd(3)]);
    }
    clobber_caller_saved();
  }

  static const char* cond_name(uint64_t i) {
    const auto& kConds = kCondNames;
    return kConds[i % 11];
  }

  void branch(int depth) {
    int a = scalar_src();
    std::string skip = new_label();
    const char* w = chance(350) ? "32" : "";
    if (chance(500))
      emit("{}{} {}, {}, {}", cond_name(rnd(11)), w, R(a), imm(), skip);
    else
      emit("{}{} {}, {}, {}", cond_name(rnd(11)), w, R(a), R(scalar_src()), skip);
    Frame before = f_;
    const int n = static_cast<int>(1 + rnd(4));
    for (int i = 0; i < n && !f_.dead; ++i)
      snippet(depth + 1);
    if (!f_.dead && chance(100)) {
      // Early exit on this path.
      if (!bad()) emit("mov %r0, {}", rnd(4));
      emit("exit");
      f_.dead = true;
    }
    emit_label(skip);
    f_ = join(before, f_);
  }

  void loop(int depth) {
    int c = -1;
    for (int r = 6 + static_cast<int>(rnd(4)), i = 0; i < 4; ++i, r = 6 + (r - 5) % 4)
      if (writable(r) && !(f_.r[r].k == K::Ctx && count(K::Ctx) == 1)) c = r;
    if (c < 0) return alu();
    const int64_t step = static_cast<int64_t>(1 + rnd(chance(800) ? 2 : 7));
    const int64_t bound = static_cast<int64_t>(1 + rnd(chance(900) ? 16 : 300));
    const char* w = chance(250) ? "32" : "";
    const bool down = chance(300);
    const bool unbounded = chance(opts_.bad_permille / 4);
    std::string head = new_label();
    emit("mov {}, {}", R(c), down ? bound : 0);
    f_.r[c] = Reg{K::Scalar};
    emit_label(head);
    const uint32_t saved_protect = protected_;
    protected_ |= 1u << c;
    ++loop_depth_;
    // The body may not create registers the next iteration relies on: snippets only use what
    // exists at the head (the join at the head keeps that invariant roughly).
    Frame at_head = f_;
    if (chance(300)) counter_indexed_store(c, bound);
    const int n = static_cast<int>(1 + rnd(3));
    for (int i = 0; i < n && !f_.dead; ++i)
      snippet(depth + 1);
    f_ = join(at_head, f_);
    --loop_depth_;
    protected_ = saved_protect;
    if (!unbounded) emit("{}{} {}, {}", down ? "sub" : "add", w, R(c), step);
    emit("{}", loop_back_edge(rng_, down, w, R(c), bound, step, head, [&] { return bad(); }));
    f_.r[c] = Reg{K::Scalar};
  }

  // A byte store into a stack array indexed by the loop counter `c` itself (no mask): only the
  // loop's bound keeps it inside the stack, so the verifier must know the counter's range in the
  // body (an invariant, or the iterations one by one). The array ends at fp-1 and its start is
  // chosen so that the counter's largest value (about `bound` + the step) usually fits; a dubious
  // one leaves too little room.
  void counter_indexed_store(int c, int64_t bound) {
    int t = -1;
    for (int tries = 0; tries < 10 && (t < 0 || t == c); ++tries)
      t = scalar_dst();
    if (t < 0 || t == c || !writable(t)) return;
    const int64_t room =
        bad() ? bound - static_cast<int64_t>(rnd(4)) : bound + 8 + static_cast<int64_t>(rnd(64));
    emit("mov {}, {}", R(t), R(c));
    emit("add {}, %r10", R(t));
    emit("add {}, {}", R(t), -std::min<int64_t>(room + 1, 512));
    emit("stb [{}+0], {}", R(t), rnd(256));
    emit("mov {}, 0", R(t));
    f_.r[t] = Reg{K::Scalar};
  }

  void local_call() {
    // Only calls forward (no recursion), except for a dubious self call.
    int target = -1;
    for (const Subprog& s : subs_)
      if (s.index > current_sub_ && chance(600)) target = s.index;
    if (target < 0 && bad() && current_sub_ >= 0) target = current_sub_;
    if (target < 0) return alu();
    keep_ctx_before_call();
    const Subprog& s = subs_[target];
    if (s.ptr_arg) {
      int off = -8 * static_cast<int>(1 + rnd(8));
      int c = find(K::Ctx);
      if (c >= 0 && chance(300)) {
        // Pass a slot holding a spilled pointer: the callee may overwrite it; deref it after.
        emit("stxdw [%r10{:+}], {}", off, R(c));
        emit("mov %r1, %r10");
        emit("add %r1, {}", off);
        emit("mov %r2, {}", imm());
        emit("call local fn{}", target);
        clobber_caller_saved();
        int d = 6 + static_cast<int>(rnd(4));
        if (!writable(d)) return;
        emit("ldxdw {}, [%r10{:+}]", R(d), off);
        emit("ldxw %r0, [{}+0]", R(d));
        f_.r[d] = Reg{K::Mixed};
        f_.slot[63 - byte_index(off) / 8] = K::Mixed;
        return;
      }
      if (!bad()) {
        emit("stdw [%r10{:+}], {}", off, imm());
        mark_store(off, 8, K::Scalar);
      }
      emit("mov %r1, %r10");
      emit("add %r1, {}", off);
    } else {
      emit("mov %r1, {}", imm());
    }
    emit("mov %r2, {}", imm());
    emit("call local fn{}", target);
    clobber_caller_saved();
  }

  // bpf_loop (helper 181) with a callback that accumulates into a caller stack slot; the caller
  // then uses the slot as an offset (the verifier must forget what it knew about the slot).
  void loop_helper() {
    keep_ctx_before_call();
    const int k = -8 * static_cast<int>(1 + rnd(4));
    if (!bad()) {
      emit("stdw [%r10{:+}], 0", k);
      mark_store(k, 8, K::Scalar);
    }
    // Inside a loop of up to 300 iterations, a large count would only exhaust the checked run's
    // instruction budget (a slow program, not an unsafe one).
    emit("mov %r1, {}", rnd(bad() ? (loop_depth_ > 0 ? 1000 : 100000) : 16));
    emit("lddw %r2, func(cb{})", callbacks_);
    if (chance(900)) {
      emit("mov %r3, %r10");
      emit("add %r3, {}", k);
    } else {
      emit("mov %r3, 0");
    }
    emit("mov %r4, 0");
    emit("call 181");
    clobber_caller_saved();
    std::string cb = fmt::format("cb{}:\n", callbacks_++);
    const int64_t step = static_cast<int64_t>(rnd(16));
    cb += "  jeq %r2, 0, +3\n";
    cb += "  ldxdw %r3, [%r2+0]\n";
    cb += rnd(2) ? "  add %r3, %r1\n" : fmt::format("  add %r3, {}\n", step);
    cb += "  stxdw [%r2+0], %r3\n";
    cb += fmt::format("  mov %r0, {}\n  exit\n", bad() ? 2 : rnd(2));
    callback_text_ += cb;
    int q = scalar_dst();
    emit("ldxdw {}, [%r10{:+}]", R(q), k);
    f_.r[q] = Reg{K::Scalar};
    if (chance(500)) {
      std::string skip = new_label();
      chain(q, skip);
      int c = find(K::Ctx);
      if (c >= 0 && c != q && p_.type == ProgType::Raw) {
        emit("add {}, {}", R(q), R(c));
        emit("ldxb {}, [{}+0]", R(q), R(q));
      }
      emit_label(skip);
      f_.r[q] = Reg{K::Mixed};
    }
  }

  void finish_function() {
    if (f_.dead) return;
    if (f_.r[0].k != K::Scalar || chance(500)) {
      if (!bad()) emit("mov %r0, {}", p_.type == ProgType::Xdp && current_sub_ < 0 ? rnd(5) : rnd(100));
    }
    emit("exit");
  }
};

}  // namespace

GeneratedProgram generate_program(uint64_t seed, const GenOptions& opts) {
  return Gen(seed, opts).run();
}

}  // namespace bpfvm::fuzz
