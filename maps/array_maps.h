// Array-indexed maps: array, percpu_array, prog_array, array_of_maps. Keys are u32 indexes below
// max_entries; every slot always exists (delete is -EINVAL for plain arrays).
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "maps/map.h"

namespace bpfvm {

// array and percpu_array. Values are stored at a stride of round_up(value_size, 8), zero-initialised;
// lookup and update take no lock (programs write values in place).
class ArrayMap : public Map {
 public:
  ArrayMap(const MapDef& def, const MapOptions& opts);
  void* lookup(const void* key) override;
  MapLookupPlan lookup_plan() override;  // Array for plain arrays
  int update(const void* key, const void* value, uint64_t flags) override;
  int remove(const void* key) override { return -EINVAL; }
  int get_next_key(const void* key, void* next) override;
  int lookup_copy(const void* key, void* out) override;
  int update_copy(const void* key, const void* values, uint64_t flags) override;

  uint64_t value_bytes_from(const void* p) const override;
  // Value of `index` on `cpu` (cpu ignored for plain arrays); nullptr when out of range.
  void* value_ptr(uint32_t index, uint32_t cpu);

 private:
  int check_update(const void* key, uint64_t flags, uint32_t* index) const;
  uint32_t stride_;
  std::unique_ptr<uint8_t[]> data_;  // percpu: cpu-major [cpu][index]
  ArrayLayout layout_;               // of data_ (plain arrays' lookup_plan)
};

// prog_array: slots hold program handles (u32 ids or fds chosen by the runtime). Only tail calls
// read it (get_prog); lookup() from a program is nullptr. Updates must use BPF_ANY.
class ProgArrayMap : public Map {
 public:
  ProgArrayMap(const MapDef& def, const MapOptions& opts);
  int update(const void* key, const void* value, uint64_t flags) override;  // value: u32 program id
  int remove(const void* key) override;
  int get_next_key(const void* key, void* next) override;
  int lookup_copy(const void* key, void* out) override;
  std::optional<uint32_t> get_prog(uint32_t index) const;  // empty slot or out of range: nullopt

 private:
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;  // 0 = empty, else (1 << 32) | id
};

// array_of_maps: slots hold inner maps (not owned; an inner map must outlive its membership).
// lookup() returns the inner Map* (or nullptr). Insert with update_map(); the generic update() is
// -EINVAL because a value here is a map, not bytes.
class ArrayOfMapsMap : public Map {
 public:
  ArrayOfMapsMap(const MapDef& def, const MapOptions& opts);
  void* lookup(const void* key) override;
  int update(const void* key, const void* value, uint64_t flags) override { return -EINVAL; }
  // BPF_ANY only (else -EINVAL); index out of range: -E2BIG; null map: -EBADF; an inner map that
  // does not match def().inner[0] (type, key/value size, flags, max_entries unless BPF_F_INNER_MAP):
  // -EINVAL.
  int update_map(const void* key, Map* inner, uint64_t flags);
  int remove(const void* key) override;
  int get_next_key(const void* key, void* next) override;
  int lookup_copy(const void* key, void* out) override;  // the inner map's id()
  Map* get_map(uint32_t index) const;

 private:
  std::unique_ptr<std::atomic<Map*>[]> slots_;
};

}  // namespace bpfvm
