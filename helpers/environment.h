// The default Environment for helpers: real clocks and randomness, or a deterministic mode (seeded
// PRNG and a virtual clock) for tests and reproducible runs. Thread-safe: one environment may serve
// concurrent runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vm/interp.h"

namespace bpfvm {

struct EnvironmentOptions {
  // Where trace_printk output goes; nullptr discards it.
  std::FILE* trace_file = stderr;
  // When set: prandom_u32 comes from a PRNG seeded with this value, and ktime_ns from a virtual
  // clock that starts at `clock_start_ns` and advances by `clock_step_ns` at every call.
  std::optional<uint64_t> seed;
  uint64_t clock_start_ns = 1'000'000'000;
  uint64_t clock_step_ns = 1'000;
};

class DefaultEnvironment : public Environment {
 public:
  explicit DefaultEnvironment(EnvironmentOptions opts = {});

  // Writes the text as the kernel's trace buffer shows it: the formatted text, one line (a newline is
  // added when the text does not end with one).
  void trace(std::string_view text) override;
  // CLOCK_MONOTONIC in nanoseconds, or the virtual clock when seeded.
  uint64_t ktime_ns() override;
  // splitmix64 output, seeded from the options or from std::random_device.
  uint32_t prandom_u32() override;
  // CLOCK_BOOTTIME and CLOCK_MONOTONIC_COARSE, or the virtual clock when seeded.
  uint64_t ktime_boot_ns() override;
  uint64_t ktime_coarse_ns() override;

  const EnvironmentOptions& options() const { return opts_; }

 private:
  EnvironmentOptions opts_;
  std::atomic<uint64_t> prng_state_;
  std::atomic<uint64_t> clock_;
  std::mutex trace_mu_;
};

// A deterministic environment (seed 0 unless given) that keeps trace output in memory.
class CapturingEnvironment : public DefaultEnvironment {
 public:
  explicit CapturingEnvironment(uint64_t seed = 0);
  void trace(std::string_view text) override;
  // The trace texts so far, one entry per trace_printk call, as the helper formatted them.
  std::vector<std::string> lines() const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace bpfvm
