#include "verifier/state.h"

#include <fmt/format.h>

#include <algorithm>

namespace bpfvm::verifier {

StateMemory& state_memory() {
  thread_local StateMemory m;
  return m;
}

const char* reg_kind_name(RegKind k) {
  switch (k) {
    case RegKind::Uninit:
      return "uninit";
    case RegKind::Scalar:
      return "scalar";
    case RegKind::Ctx:
      return "ctx";
    case RegKind::Stack:
      return "fp";
    case RegKind::MapPtr:
      return "map_ptr";
    case RegKind::MapValue:
      return "map_value";
    case RegKind::MapValueOrNull:
      return "map_value_or_null";
    case RegKind::Packet:
      return "pkt";
    case RegKind::PacketEnd:
      return "pkt_end";
    case RegKind::PacketMeta:
      return "pkt_meta";
    case RegKind::Mem:
      return "mem";
    case RegKind::MemOrNull:
      return "mem_or_null";
    case RegKind::MapPtrOrNull:
      return "map_ptr_or_null";
    case RegKind::Func:
      return "func";
    case RegKind::TruncPtr:
      return "trunc_ptr";
    case RegKind::Sock:
      return "sock";
    case RegKind::SockOrNull:
      return "sock_or_null";
  }
  return "?";
}

namespace {

bool is_null_scalar(const RegValue& r) {
  return r.kind == RegKind::Scalar && r.v.is_zero();
}

RegKind or_null(RegKind k) {
  if (k == RegKind::MapValue) return RegKind::MapValueOrNull;
  if (k == RegKind::Mem) return RegKind::MemOrNull;
  if (k == RegKind::MapPtr) return RegKind::MapPtrOrNull;
  if (k == RegKind::Sock) return RegKind::SockOrNull;
  return k;
}

Scalar join_scalar(const Scalar& a, const Scalar& b, const Thresholds* widen) {
  return widen ? a.widen(b, *widen) : a.join(b);
}

RegValue join_packet(const RegValue& a, const RegValue& b, const Thresholds* widen) {
  RegValue r = a;
  r.v = join_scalar(a.v, b.v, widen);
  if (a.id == b.id && a.fixed == b.fixed) {
    r.range = (a.range == kNoRange || b.range == kNoRange) ? kNoRange : std::min(a.range, b.range);
    if (widen && r.range != a.range) r.range = kNoRange;
    return r;
  }
  // Re-base both ranges on the register itself: data_end >= ptr + (range - fixed).
  r.id = 0;
  r.fixed = 0;
  if (a.range == kNoRange || b.range == kNoRange) {
    r.range = kNoRange;
  } else {
    int64_t m = std::min(int64_t{a.range} - a.fixed, int64_t{b.range} - b.fixed);
    r.range = static_cast<int32_t>(std::clamp<int64_t>(m, INT32_MIN + 1, INT32_MAX));
  }
  // Widening: a rebased range can only shrink, step by step; drop it instead.
  if (widen && r.range != a.range) r.range = kNoRange;
  return r;
}

// The ghost of a join: the same link with the hull of the deltas (widening: the same link with
// the same deltas), else none.
Ghost join_ghost(const Ghost& a, const Ghost& b, const Thresholds* widen) {
  if (a.loop == 0 || a.loop != b.loop || a.loc != b.loc || (widen && !(a == b))) return Ghost{};
  Ghost g = a;
  g.dlo = std::min(a.dlo, b.dlo);
  g.dhi = std::max(a.dhi, b.dhi);
  return g;
}

RegValue join_values(const RegValue& a, const RegValue& b, const Thresholds* widen);

}  // namespace

RegValue join(const RegValue& a, const RegValue& b, const Thresholds* widen) {
  if (a == b) return a;
  RegValue r = join_values(a, b, widen);
  r.ghost = r.is_init() ? join_ghost(a.ghost, b.ghost, widen) : Ghost{};
  return r;
}

namespace {

RegValue join_values(const RegValue& a, const RegValue& b, const Thresholds* widen) {
  if (a.kind == RegKind::Uninit || b.kind == RegKind::Uninit) return RegValue{};
  if (a.kind == RegKind::Scalar && b.kind == RegKind::Scalar)
    return RegValue::scalar(join_scalar(a.v, b.v, widen));
  // A nullable pointer joined with NULL (or a checked pointer with NULL) is nullable.
  auto nullable = [](RegKind k) {
    return k == RegKind::MapValue || k == RegKind::Mem || k == RegKind::MapValueOrNull ||
           k == RegKind::MemOrNull || k == RegKind::MapPtr || k == RegKind::MapPtrOrNull ||
           k == RegKind::Sock || k == RegKind::SockOrNull;
  };
  if (is_null_scalar(b) && nullable(a.kind)) return join_values(b, a, widen);
  if (is_null_scalar(a) && nullable(b.kind)) {
    RegValue r = b;
    r.kind = or_null(b.kind);
    r.id = 0;
    return r;
  }
  RegKind ka = a.kind, kb = b.kind;
  if (ka != kb) {
    if (or_null(ka) == kb)
      ka = kb;
    else if (or_null(kb) == ka)
      kb = ka;
    else
      return RegValue{};
  }
  if (a.frame != b.frame || a.map != b.map || a.ref != b.ref) return RegValue{};
  if (ka == RegKind::Packet || ka == RegKind::PacketMeta) return join_packet(a, b, widen);
  RegValue r = a;
  r.kind = ka;
  r.v = join_scalar(a.v, b.v, widen);
  r.size = std::min(a.size, b.size);
  if (a.id != b.id) r.id = 0;
  if (a.base != b.base) r.base = RegKind::Uninit;  // truncated pointers of different origins
  return r;
}

}  // namespace

bool State::holds(uint32_t ref) const {
  return std::binary_search(refs_.begin(), refs_.end(), ref);
}

void State::acquire(uint32_t ref) {
  auto it = std::lower_bound(refs_.begin(), refs_.end(), ref);
  if (it == refs_.end() || *it != ref) refs_.insert(it, ref);
}

void State::release(uint32_t ref) {
  auto it = std::lower_bound(refs_.begin(), refs_.end(), ref);
  if (it != refs_.end() && *it == ref) refs_.erase(it);
}

void State::join_with(const State& o, const Thresholds* widen) {
  if (o.bottom()) return;
  if (bottom()) {
    *this = o;
    return;
  }
  size_t n = std::min(frames_.size(), o.frames_.size());
  frames_.resize(n);
  for (size_t f = 0; f < n; ++f) {
    Frame& a = frames_[f];
    const Frame& b = o.frames_[f];
    for (int r = 0; r < kNumRegs; ++r)
      a.regs[r] = join(a.regs[r], b.regs[r], widen);
    a.stack.join_with(b.stack, widen);
  }
  for (uint32_t r : o.refs_)
    acquire(r);
}

std::string BranchTrail::to_string() const {
  std::string s;
  uint32_t n = std::min<uint32_t>(count, kLen);
  for (uint32_t i = count - n; i < count; ++i) {
    uint32_t it = items[i % kLen];
    if (!s.empty()) s += " -> ";
    s += fmt::format("{}:{}", it >> 1, (it & 1) ? "taken" : "fallthrough");
  }
  return s;
}

}  // namespace bpfvm::verifier
