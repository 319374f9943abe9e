#include "tests/corpus_user/user_runner.h"

#include <cstring>

#include <fmt/format.h>

#include "vm/runtime/backend.h"
#include "vm/runtime/object.h"

namespace bpfvm::corpus_user {

namespace {

Error err(ErrorCode code, std::string msg) {
  return Error{code, kNoPc, std::move(msg)};
}

Status apply_init(const Object& obj, Map& map, const kernel::MapInit& init, uint32_t cpu) {
  const MapDef& d = map.def();
  for (const kernel::Bytes& v : init.values)
    if (v.size() != d.value_size)
      return err(ErrorCode::kBadInput, fmt::format("map '{}': value has {} bytes, the map's value_size is {}",
                                                   map.name(), v.size(), d.value_size));
  if (init.values.empty()) return err(ErrorCode::kBadInput, fmt::format("map '{}': no value", map.name()));
  std::vector<uint8_t> buf;
  if (map.is_percpu()) {
    const uint32_t stride = round_up8(d.value_size);
    buf.assign(static_cast<size_t>(stride) * map.num_cpus(), 0);
    if (init.values.size() == 1) {
      std::memcpy(buf.data() + stride * cpu, init.values[0].data(), d.value_size);
    } else if (init.values.size() == map.num_cpus()) {
      for (uint32_t c = 0; c < map.num_cpus(); c++)
        std::memcpy(buf.data() + stride * c, init.values[c].data(), d.value_size);
    } else {
      return err(ErrorCode::kBadInput, fmt::format("map '{}': {} per-CPU values for {} CPUs", map.name(),
                                                   init.values.size(), map.num_cpus()));
    }
  } else {
    if (init.values.size() != 1)
      return err(ErrorCode::kBadInput, fmt::format("map '{}' is not per-CPU: give one value", map.name()));
    buf = init.values[0];
  }
  return obj.update(map, init.key, buf, 0);
}

}  // namespace

Result<kernel::RunResult> user_run(const kernel::RunRequest& req, const UserRunOptions& opts) {
  const std::string where = fmt::format("{} ({})", req.object_path, req.program);
  ObjectOptions oo;
  oo.num_cpus = opts.num_cpus;
  oo.seed = 1;
  oo.trace_out = nullptr;
  oo.add_helpers = opts.add_helpers;
  oo.engine = opts.engine;
  auto obj = Object::open(req.object_path, oo);
  if (!obj) return err(obj.error().code, fmt::format("{}: {}", where, obj.error().to_string()));
  Object& o = **obj;
  if (opts.verify)
    for (size_t i = 0; i < o.num_programs(); i++)
      if (o.program_status(i)) (void)o.verify(i);
  int idx = o.find_program(req.program);
  if (idx < 0) return err(ErrorCode::kBadInput, fmt::format("{}: no program named '{}'", where, req.program));
  if (req.cpu < 0 || static_cast<uint32_t>(req.cpu) >= opts.num_cpus)
    return err(ErrorCode::kBadInput, fmt::format("{}: cpu {} out of range", where, req.cpu));
  for (const kernel::MapInit& init : req.maps_before) {
    Map* m = o.find_map(init.map);
    if (!m) return err(ErrorCode::kBadInput, fmt::format("{}: no map '{}'", where, init.map));
    auto st = apply_init(o, *m, init, static_cast<uint32_t>(req.cpu));
    if (!st) return err(st.error().code, fmt::format("{}: {}", where, st.error().msg));
  }

  kernel::RunResult res;
  const ProgType type = o.program_type(static_cast<size_t>(idx));
  res.prog_type = static_cast<uint32_t>(type);
  res.cpu = req.cpu;
  res.num_cpus = static_cast<int>(opts.num_cpus);
  ContextInput in;
  in.packet = req.data_in;
  in.ctx = req.ctx_in;
  in.cpu = static_cast<uint32_t>(req.cpu);
  in.repeat = req.repeat == 0 ? 1 : req.repeat;
  auto out = o.run(static_cast<size_t>(idx), in);
  if (!out) return err(out.error().code, fmt::format("{}: {}", where, out.error().to_string()));
  res.retval = static_cast<uint32_t>(out->r0);
  res.duration_ns = static_cast<uint32_t>(std::min<uint64_t>(out->duration_ns, UINT32_MAX));
  if (!req.data_in.empty()) res.data_out = out->packet;
  const bool raw_tp = type == ProgType::RawTracepoint || type == ProgType::RawTracepointWritable;
  if (!req.ctx_in.empty() && !raw_tp) {
    res.ctx_out = out->ctx;
    if (res.ctx_out.size() > req.ctx_in.size()) res.ctx_out.resize(req.ctx_in.size());
  }

  for (size_t i = 0; i < o.num_maps(); i++) {
    Map& m = *o.map(i);
    const MapDef& d = m.def();
    if (d.type == MapType::Ringbuf) {
      res.ringbufs.emplace_back(m.name(), drain_records(m));
      continue;
    }
    if (!map_has_data(d.type)) continue;
    auto entries = read_map_entries(m);
    if (!entries) return err(entries.error().code, fmt::format("{}: {}", where, entries.error().msg));
    kernel::MapContents mc;
    mc.name = m.name();
    mc.type = static_cast<uint32_t>(d.type);
    mc.key_size = d.key_size;
    mc.value_size = d.value_size;
    mc.max_entries = d.max_entries;
    mc.per_cpu = m.is_percpu();
    for (MapEntryData& e : *entries)
      mc.entries.push_back(kernel::MapEntry{std::move(e.key), std::move(e.values)});
    res.maps.push_back(std::move(mc));
  }
  return res;
}

}  // namespace bpfvm::corpus_user
