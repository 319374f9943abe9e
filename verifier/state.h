// The abstract machine state at one program point: one frame per active function (registers and
// stack), the references held (ringbuf reservations), and the last branches taken (for reports).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "verifier/domains/regtype.h"
#include "verifier/domains/stack.h"

namespace bpfvm::verifier {

// Memory of the analysis: every heap allocation of abstract states (their frames and references,
// and the per-block slots of pending states) goes through CountingAllocator, which keeps the
// bytes alive in this thread and their peak. verify() reports the peak above what was alive when
// it started as VerifyStats::peak_state_bytes. Fixed-size parts (a frame's registers and its
// per-byte stack) live inside the frames, so they are counted exactly.
struct StateMemory {
  size_t live = 0, peak = 0;
};
StateMemory& state_memory();

template <class T>
struct CountingAllocator {
  using value_type = T;
  CountingAllocator() = default;
  template <class U>
  CountingAllocator(const CountingAllocator<U>&) {}
  T* allocate(size_t n) {
    StateMemory& m = state_memory();
    m.live += n * sizeof(T);
    if (m.live > m.peak) m.peak = m.live;
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) {
    state_memory().live -= n * sizeof(T);
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const CountingAllocator<U>&) const {
    return true;
  }
};

template <class T>
using CountedVector = std::vector<T, CountingAllocator<T>>;

struct Frame {
  std::array<RegValue, kNumRegs> regs;
  StackFrame stack;
  uint32_t entry = 0;     // instruction index of the function's entry
  uint32_t callsite = 0;  // instruction index of the call in the caller (frame > 0)
  bool operator==(const Frame&) const = default;
};

// The last few branch decisions on (one of) the paths to a point: pc << 1 | taken.
struct BranchTrail {
  static constexpr int kLen = 8;
  std::array<uint32_t, kLen> items{};
  uint32_t count = 0;
  void push(uint32_t pc, bool taken) { items[count++ % kLen] = pc << 1 | (taken ? 1 : 0); }
  std::string to_string() const;
};

class State {
 public:
  bool bottom() const { return frames_.empty(); }
  void set_bottom() {
    frames_.clear();
    refs_.clear();
  }
  CountedVector<Frame>& frames() { return frames_; }
  const CountedVector<Frame>& frames() const { return frames_; }
  Frame& cur() { return frames_.back(); }
  const Frame& cur() const { return frames_.back(); }
  RegValue& reg(int r) { return frames_.back().regs[r]; }
  const RegValue& reg(int r) const { return frames_.back().regs[r]; }

  const CountedVector<uint32_t>& refs() const { return refs_; }
  bool holds(uint32_t ref) const;
  void acquire(uint32_t ref);
  void release(uint32_t ref);

  BranchTrail& trail() { return trail_; }
  const BranchTrail& trail() const { return trail_; }

  // Least upper bound (frames must be of the same call context). Joining into bottom copies.
  // With `widen`, this is the previous state at a loop head and `o` the next one (see join()).
  void join_with(const State& o, const Thresholds* widen = nullptr);
  // Equal abstract states (the branch trail is not compared).
  bool same_as(const State& o) const { return frames_ == o.frames_ && refs_ == o.refs_; }

  // Applies `f` to every register and spilled register of every frame.
  template <class F>
  void for_each_value(F&& f) {
    for (Frame& fr : frames_) {
      for (RegValue& r : fr.regs)
        f(r);
      fr.stack.for_each_spill(f);
    }
  }

 private:
  CountedVector<Frame> frames_;
  CountedVector<uint32_t> refs_;  // sorted
  BranchTrail trail_;
};

}  // namespace bpfvm::verifier
