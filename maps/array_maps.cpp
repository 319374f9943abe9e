#include "maps/array_maps.h"

#include <algorithm>
#include <cstring>

#include "maps/map_internal.h"

namespace bpfvm {

// ---- array / percpu_array (kernel/bpf/arraymap.c) ----

ArrayMap::ArrayMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts), stride_(round_up8(def.value_size)) {
  uint64_t n = uint64_t(stride_) * def.max_entries * (is_percpu() ? num_cpus() : 1);
  data_.reset(new uint8_t[n]());
  layout_ = ArrayLayout{reinterpret_cast<uint64_t>(data_.get()), def.max_entries, stride_};
  // Global data (.data/.rodata/.bss) starts with the object's bytes.
  if (!def.initial_value.empty() && !is_percpu()) {
    std::memcpy(data_.get(), def.initial_value.data(),
                std::min<size_t>(def.initial_value.size(), def.value_size));
  }
}

uint64_t ArrayMap::value_bytes_from(const void* p) const {
  return slot_value_bytes_from(data_.get(), p, stride_,
                               uint64_t(def().max_entries) * (is_percpu() ? num_cpus() : 1),
                               def().value_size);
}

void* ArrayMap::value_ptr(uint32_t index, uint32_t cpu) {
  if (index >= def().max_entries) return nullptr;
  uint64_t slot = is_percpu() ? uint64_t(cpu % num_cpus()) * def().max_entries + index : index;
  return data_.get() + slot * stride_;
}

void* ArrayMap::lookup(const void* key) {
  return value_ptr(load_u32(key), cpu());
}

MapLookupPlan ArrayMap::lookup_plan() {
  MapLookupPlan p;
  if (is_percpu()) return p;
  p.kind = MapLookupPlan::Kind::Array;
  p.array = &layout_;
  return p;
}

int ArrayMap::check_update(const void* key, uint64_t flags, uint32_t* index) const {
  if ((flags & ~kBpfFLock) > kBpfExist) return -EINVAL;
  *index = load_u32(key);
  if (*index >= def().max_entries) return -E2BIG;  // all elements exist; cannot insert a new one
  if (flags & kBpfNoExist) return -EEXIST;
  if (flags & kBpfFLock) return -EINVAL;  // no bpf_spin_lock in the value (later work)
  return 0;
}

int ArrayMap::update(const void* key, const void* value, uint64_t flags) {
  uint32_t index;
  if (int err = check_update(key, flags, &index)) return err;
  std::memcpy(value_ptr(index, cpu()), value, def().value_size);
  return 0;
}

int ArrayMap::update_copy(const void* key, const void* values, uint64_t flags) {
  if (!is_percpu()) return update(key, values, flags);
  uint32_t index;
  if (int err = check_update(key, flags, &index)) return err;
  for (uint32_t c = 0; c < num_cpus(); ++c) {
    std::memcpy(value_ptr(index, c), static_cast<const uint8_t*>(values) + uint64_t(c) * stride_,
                def().value_size);
  }
  return 0;
}

int ArrayMap::lookup_copy(const void* key, void* out) {
  uint32_t index = load_u32(key);
  if (index >= def().max_entries) return -ENOENT;
  if (!is_percpu()) {
    std::memcpy(out, value_ptr(index, 0), def().value_size);
    return 0;
  }
  for (uint32_t c = 0; c < num_cpus(); ++c) {
    uint8_t* dst = static_cast<uint8_t*>(out) + uint64_t(c) * stride_;
    std::memcpy(dst, value_ptr(index, c), def().value_size);
    std::memset(dst + def().value_size, 0, stride_ - def().value_size);
  }
  return 0;
}

int ArrayMap::get_next_key(const void* key, void* next) {
  return array_get_next_key(def().max_entries, key, next);
}

// ---- prog_array (fd_array_map_* in arraymap.c) ----

ProgArrayMap::ProgArrayMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts), slots_(new std::atomic<uint64_t>[def.max_entries]) {
  for (uint32_t i = 0; i < def.max_entries; ++i)
    slots_[i].store(0, std::memory_order_relaxed);
}

int ProgArrayMap::update(const void* key, const void* value, uint64_t flags) {
  if (flags != kBpfAny) return -EINVAL;
  uint32_t index = load_u32(key);
  if (index >= def().max_entries) return -E2BIG;
  slots_[index].store((1ULL << 32) | load_u32(value), std::memory_order_release);
  return 0;
}

int ProgArrayMap::remove(const void* key) {
  uint32_t index = load_u32(key);
  if (index >= def().max_entries) return -E2BIG;
  return slots_[index].exchange(0, std::memory_order_acq_rel) ? 0 : -ENOENT;
}

int ProgArrayMap::get_next_key(const void* key, void* next) {
  return array_get_next_key(def().max_entries, key, next);
}

std::optional<uint32_t> ProgArrayMap::get_prog(uint32_t index) const {
  if (index >= def().max_entries) return std::nullopt;
  uint64_t v = slots_[index].load(std::memory_order_acquire);
  if (!v) return std::nullopt;
  return uint32_t(v);
}

int ProgArrayMap::lookup_copy(const void* key, void* out) {
  auto id = get_prog(load_u32(key));
  if (!id) return -ENOENT;
  std::memcpy(out, &*id, 4);
  return 0;
}

// ---- array_of_maps (map_in_map.c, arraymap.c) ----

ArrayOfMapsMap::ArrayOfMapsMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts), slots_(new std::atomic<Map*>[def.max_entries]) {
  for (uint32_t i = 0; i < def.max_entries; ++i)
    slots_[i].store(nullptr, std::memory_order_relaxed);
}

void* ArrayOfMapsMap::lookup(const void* key) {
  return get_map(load_u32(key));
}

Map* ArrayOfMapsMap::get_map(uint32_t index) const {
  if (index >= def().max_entries) return nullptr;
  return slots_[index].load(std::memory_order_acquire);
}

int ArrayOfMapsMap::update_map(const void* key, Map* inner, uint64_t flags) {
  if (flags != kBpfAny) return -EINVAL;
  uint32_t index = load_u32(key);
  if (index >= def().max_entries) return -E2BIG;
  if (!inner) return -EBADF;
  if (def().inner.empty() || !inner_map_matches(def().inner[0], inner->def())) return -EINVAL;
  slots_[index].store(inner, std::memory_order_release);
  return 0;
}

int ArrayOfMapsMap::remove(const void* key) {
  uint32_t index = load_u32(key);
  if (index >= def().max_entries) return -E2BIG;
  return slots_[index].exchange(nullptr, std::memory_order_acq_rel) ? 0 : -ENOENT;
}

int ArrayOfMapsMap::get_next_key(const void* key, void* next) {
  return array_get_next_key(def().max_entries, key, next);
}

int ArrayOfMapsMap::lookup_copy(const void* key, void* out) {
  Map* m = get_map(load_u32(key));
  if (!m) return -ENOENT;
  uint32_t id = m->id();
  std::memcpy(out, &id, 4);
  return 0;
}

}  // namespace bpfvm
