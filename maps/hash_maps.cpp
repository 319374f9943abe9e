#include "maps/hash_maps.h"

#include <random>

#include "maps/map_internal.h"

namespace bpfvm {

namespace {

uint64_t pick_seed(const MapDef& def) {
  if (def.map_flags & kBpfFZeroSeed) return 0;
  std::random_device rd;
  return (uint64_t(rd()) << 32) | rd();
}

bool lru_type(MapType t) {
  return t == MapType::LruHash || t == MapType::LruPercpuHash;
}

uint32_t storage_bytes(const MapDef& def, uint32_t num_cpus) {
  bool percpu = def.type == MapType::PercpuHash || def.type == MapType::LruPercpuHash;
  return percpu ? round_up8(def.value_size) * num_cpus : def.value_size;
}

}  // namespace

HashMap::HashMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts),
      stride_(round_up8(def.value_size)),
      table_(def.key_size,
             storage_bytes(def, num_cpus()),
             def.max_entries,
             lru_type(def.type),
             pick_seed(def)) {}

void* HashMap::lookup(const void* key) {
  uint8_t* v = table_.lookup(key);
  if (v && is_percpu()) v += uint64_t(cpu()) * stride_;
  return v;
}

MapLookupPlan HashMap::lookup_plan() {
  MapLookupPlan p;
  if (is_percpu() || is_lru()) return p;
  p.kind = MapLookupPlan::Kind::Direct;
  p.fn = &HashTable::lookup_fn;
  p.obj = &table_;
  return p;
}

int HashMap::do_update(const void* key, const void* value, uint64_t flags, bool all_cpus) {
  if ((flags & ~kBpfFLock) > kBpfExist) return -EINVAL;
  if (flags & kBpfFLock) return -EINVAL;  // no bpf_spin_lock in the value (later work)
  const auto* src = static_cast<const uint8_t*>(value);
  const uint32_t vs = def().value_size;
  if (!is_percpu()) {
    auto copy = [&](uint8_t* dst) { std::memcpy(dst, src, vs); };
    return table_.upsert(key, flags, copy, copy);
  }
  const uint32_t c = cpu();
  auto copy_cpus = [&](uint8_t* dst) {
    if (all_cpus) {
      for (uint32_t i = 0; i < num_cpus(); ++i)
        std::memcpy(dst + uint64_t(i) * stride_, src + uint64_t(i) * stride_, vs);
    } else {
      std::memcpy(dst + uint64_t(c) * stride_, src, vs);
    }
  };
  // pcpu_init_value: a new element from a program gets zeros on the other CPUs.
  auto on_new = [&](uint8_t* dst) {
    if (!all_cpus) std::memset(dst, 0, uint64_t(stride_) * num_cpus());
    copy_cpus(dst);
  };
  return table_.upsert(key, flags, on_new, copy_cpus);
}

int HashMap::update(const void* key, const void* value, uint64_t flags) {
  return do_update(key, value, flags, false);
}

int HashMap::update_copy(const void* key, const void* values, uint64_t flags) {
  return do_update(key, values, flags, is_percpu());
}

int HashMap::remove(const void* key) {
  return table_.erase(key);
}

int HashMap::get_next_key(const void* key, void* next) {
  return table_.next_key(key, next);
}

int HashMap::lookup_copy(const void* key, void* out) {
  auto* dst = static_cast<uint8_t*>(out);
  const uint32_t vs = def().value_size;
  bool found = table_.find(key, /*touch=*/false, [&](uint8_t* value) {
    if (!is_percpu()) {
      std::memcpy(dst, value, vs);
      return;
    }
    for (uint32_t i = 0; i < num_cpus(); ++i) {
      std::memcpy(dst + uint64_t(i) * stride_, value + uint64_t(i) * stride_, vs);
      std::memset(dst + uint64_t(i) * stride_ + vs, 0, stride_ - vs);
    }
  });
  return found ? 0 : -ENOENT;
}

// ---- hash_of_maps ----

HashOfMapsMap::HashOfMapsMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts), table_(def.key_size, sizeof(Map*), def.max_entries, false, pick_seed(def)) {}

void* HashOfMapsMap::lookup(const void* key) {
  Map* m = nullptr;
  table_.find(key, false, [&](uint8_t* v) { std::memcpy(&m, v, sizeof m); });
  return m;
}

int HashOfMapsMap::update_map(const void* key, Map* inner, uint64_t flags) {
  if (flags > kBpfExist) return -EINVAL;
  if (!inner) return -EBADF;
  if (def().inner.empty() || !inner_map_matches(def().inner[0], inner->def())) return -EINVAL;
  auto store = [&](uint8_t* v) { std::memcpy(v, &inner, sizeof inner); };
  return table_.upsert(key, flags, store, store);
}

int HashOfMapsMap::remove(const void* key) {
  return table_.erase(key);
}

int HashOfMapsMap::get_next_key(const void* key, void* next) {
  return table_.next_key(key, next);
}

int HashOfMapsMap::lookup_copy(const void* key, void* out) {
  Map* m = static_cast<Map*>(lookup(key));
  if (!m) return -ENOENT;
  uint32_t id = m->id();
  std::memcpy(out, &id, 4);
  return 0;
}

}  // namespace bpfvm
