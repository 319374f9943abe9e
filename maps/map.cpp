#include "maps/map.h"

#include <cstring>

#include "maps/map_internal.h"

namespace bpfvm {

namespace {
thread_local uint32_t tl_current_cpu = 0;
}  // namespace

void set_current_cpu(uint32_t cpu) {
  tl_current_cpu = cpu;
}
uint32_t current_cpu() {
  return tl_current_cpu;
}

Map::Map(const MapDef& def, const MapOptions& opts)
    : def_(def), num_cpus_(opts.num_cpus == 0 ? 1 : opts.num_cpus) {}

bool Map::is_percpu() const {
  switch (def_.type) {
    case MapType::PercpuArray:
    case MapType::PercpuHash:
    case MapType::LruPercpuHash:
      return true;
    default:
      return false;
  }
}

uint32_t Map::copy_value_size() const {
  switch (def_.type) {
    case MapType::ProgArray:
    case MapType::ArrayOfMaps:
    case MapType::HashOfMaps:
      return 4;
    default:
      break;
  }
  return is_percpu() ? round_up8(def_.value_size) * num_cpus_ : def_.value_size;
}

int Map::lookup_copy(const void* key, void* out) {
  void* v = lookup(key);
  if (!v) return -ENOENT;
  std::memcpy(out, v, def_.value_size);
  return 0;
}

}  // namespace bpfvm
