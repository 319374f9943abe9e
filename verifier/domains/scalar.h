// Abstract 64-bit scalars: known bits (Tnum) plus signed and unsigned ranges of the whole value and of
// its low 32 bits, kept consistent after every operation (the kernel's reg_bounds_sync). An empty
// set (an infeasible branch) is `bottom()`.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "verifier/domains/tnum.h"
#include "vm/isa.h"

namespace bpfvm::verifier {

// Widening thresholds: the constants a program compares with (and their neighbours), sorted in
// each of the four orders the ranges use. A bound that grows past its old value jumps to the
// nearest threshold beyond the new value, or to the type's limit when there is none (widening
// with thresholds; Cousot & Cousot). An empty set widens straight to the limits.
struct Thresholds {
  std::vector<uint64_t> u64;
  std::vector<int64_t> s64;
  std::vector<uint32_t> u32;
  std::vector<int32_t> s32;
  // Adds `v` (and v - 1, v + 1) as a 64-bit and, truncated, as a 32-bit threshold.
  void add(uint64_t v);
  // Sorts and removes duplicates; call once after the last add().
  void finish();
};

struct Scalar {
  Tnum t = Tnum::unknown();
  int64_t smin = std::numeric_limits<int64_t>::min(), smax = std::numeric_limits<int64_t>::max();
  uint64_t umin = 0, umax = std::numeric_limits<uint64_t>::max();
  int32_t s32min = std::numeric_limits<int32_t>::min(), s32max = std::numeric_limits<int32_t>::max();
  uint32_t u32min = 0, u32max = std::numeric_limits<uint32_t>::max();

  static Scalar top() { return {}; }
  static Scalar constant(uint64_t v);
  static Scalar urange(uint64_t lo, uint64_t hi);  // [lo, hi] unsigned, lo <= hi
  static Scalar srange(int64_t lo, int64_t hi);
  // Zero-extended value of `bytes` bytes: [0, 2^(8*bytes) - 1].
  static Scalar of_size(unsigned bytes);

  bool is_bottom() const { return umin > umax || smin > smax || u32min > u32max || s32min > s32max; }
  bool is_const() const { return t.is_const(); }
  uint64_t value() const { return t.value; }
  bool may_be_zero() const { return umin == 0; }
  bool is_zero() const { return is_const() && t.value == 0; }
  bool operator==(const Scalar&) const = default;

  // The kernel's reg_bounds_sync: every field refined from the others; an inconsistency makes the
  // value bottom.
  void sync();
  void set_bottom() { umin = 1, umax = 0; }

  // Least upper bound.
  Scalar join(const Scalar& o) const;
  // Widening of this (the previous value at a loop head) by `o` (the next one): the join, with
  // every bound that grew moved to the next threshold.
  Scalar widen(const Scalar& o, const Thresholds& th) const;
  // Every value of `o` is in this one.
  bool includes(const Scalar& o) const;
  // Values in both (bottom when none).
  Scalar meet(const Scalar& o) const;

  // The 32-bit subregister as a 64-bit value: zero-extended (zext32) or sign-extended (sext32).
  Scalar zext32() const;
  Scalar sext32() const;

  std::string to_string() const;
};

// ALU operation `op` on 64-bit operands (is64) or their low halves (32-bit ops: result
// zero-extended), exactly as vm/alu.h defines it. `ext_bits` is the movsx source width or the byte
// swap width. Division by zero is defined (RFC 9669 4.1), so it is no error here.
Scalar alu(AluOp op, bool is64, const Scalar& a, const Scalar& b, unsigned ext_bits = 0);

// Refines `a` and `b` assuming `a cond b` holds (taken) or does not hold (!taken), on 64 bits
// (is64) or on their low 32 bits. An infeasible outcome leaves a bottom value in `a` or `b`.
void refine(Cond cond, bool taken, bool is64, Scalar& a, Scalar& b);
// `a cond b` written as `b swapped(cond) a`.
Cond swap_cond(Cond cond);

}  // namespace bpfvm::verifier
