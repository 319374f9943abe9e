#include "helpers/environment.h"

#include <time.h>

#include <random>

namespace bpfvm {
namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t initial_state(const EnvironmentOptions& o) {
  if (o.seed) return *o.seed;
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

DefaultEnvironment::DefaultEnvironment(EnvironmentOptions opts)
    : opts_(opts), prng_state_(initial_state(opts)), clock_(opts.clock_start_ns) {}

void DefaultEnvironment::trace(std::string_view text) {
  if (opts_.trace_file == nullptr) return;
  std::lock_guard<std::mutex> lock(trace_mu_);
  std::fwrite(text.data(), 1, text.size(), opts_.trace_file);
  if (text.empty() || text.back() != '\n') std::fputc('\n', opts_.trace_file);
  std::fflush(opts_.trace_file);
}

uint64_t DefaultEnvironment::ktime_ns() {
  if (opts_.seed)
    return clock_.fetch_add(opts_.clock_step_ns, std::memory_order_relaxed) + opts_.clock_step_ns;
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {
uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

uint64_t DefaultEnvironment::ktime_boot_ns() {
  return opts_.seed ? ktime_ns() : clock_ns(CLOCK_BOOTTIME);
}

uint64_t DefaultEnvironment::ktime_coarse_ns() {
  return opts_.seed ? ktime_ns() : clock_ns(CLOCK_MONOTONIC_COARSE);
}

uint32_t DefaultEnvironment::prandom_u32() {
  uint64_t s = prng_state_.fetch_add(kGolden, std::memory_order_relaxed) + kGolden;
  return static_cast<uint32_t>(splitmix64_mix(s) >> 32);
}

namespace {
EnvironmentOptions capturing_options(uint64_t seed) {
  EnvironmentOptions o;
  o.trace_file = nullptr;
  o.seed = seed;
  return o;
}
}  // namespace

CapturingEnvironment::CapturingEnvironment(uint64_t seed) : DefaultEnvironment(capturing_options(seed)) {}

void CapturingEnvironment::trace(std::string_view text) {
  std::lock_guard<std::mutex> lock(mu_);
  lines_.emplace_back(text);
}

std::vector<std::string> CapturingEnvironment::lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

void CapturingEnvironment::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  lines_.clear();
}

}  // namespace bpfvm
