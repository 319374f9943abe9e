#include "vm/runtime/context_run.h"

#include <chrono>
#include <optional>

#include "maps/map.h"
#include "vm/legacy_packet.h"

namespace bpfvm {

Result<ContextRunOutput> run_in_context(ProgType type,
                                        const ContextInput& in,
                                        RunScratch& scratch,
                                        const ContextRunEnv& env,
                                        RunOnce run_once) {
  if (in.repeat == 0) return Error{ErrorCode::kBadInput, kNoPc, "repeat must be at least 1"};
  HelperContext hc = env.helpers;
  hc.cpu = in.cpu;
  ScopedCpu cpu(in.cpu);

  ContextRunOutput out;
  std::chrono::nanoseconds total{0};
  std::optional<BuiltContext> last;
  LegacyPacket legacy;  // what LD_ABS/LD_IND read: points into *last
  RunInput ri;
  for (uint32_t rep = 0; rep < in.repeat; rep++) {
    if (!in.reuse_context || rep == 0) {
      auto built = build_context(type, in, scratch);
      if (!built) return built.error();
      last.emplace(std::move(*built));
      ri = RunInput{};
      ri.args[0] = last->r1;
      ri.args[1] = last->r2;
      ri.regions = last->regions;
      ri.regions.insert(ri.regions.end(), env.data_regions.begin(), env.data_regions.end());
      ri.resolver = env.resolver;
      ri.tail_calls = env.tail_calls;
      hc.packet = last->has_packet ? &last->packet : nullptr;
      ri.legacy_packet = last->legacy_packet(&legacy) ? &legacy : nullptr;
      ri.context = &hc;
    }
    if (in.reuse_context) {
      // One clock read around the whole batch (see ContextInput::reuse_context).
      auto start = std::chrono::steady_clock::now();
      for (; rep < in.repeat; rep++) {
        out.stats = RunStats{};
        auto r = run_once(ri, &out.stats);
        if (!r) return r.error();
        out.r0 = *r;
      }
      total += std::chrono::steady_clock::now() - start;
      break;
    }
    out.stats = RunStats{};
    auto start = std::chrono::steady_clock::now();
    auto r = run_once(ri, &out.stats);
    total += std::chrono::steady_clock::now() - start;
    if (!r) return r.error();
    out.r0 = *r;
  }
  out.total_ns = static_cast<uint64_t>(total.count());
  collect_output(*last, &out.packet, &out.ctx);
  return out;
}

}  // namespace bpfvm
