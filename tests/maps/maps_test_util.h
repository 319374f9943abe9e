// Helpers for the maps tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "maps/map_set.h"

namespace bpfvm::testing {

inline MapDef make_def(MapType type,
                       uint32_t key_size,
                       uint32_t value_size,
                       uint32_t max_entries,
                       uint32_t flags = 0,
                       std::string name = "m") {
  MapDef d;
  d.name = std::move(name);
  d.type = type;
  d.key_size = key_size;
  d.value_size = value_size;
  d.max_entries = max_entries;
  d.map_flags = flags;
  return d;
}

// Creates the map or fails the test with the error message.
inline std::unique_ptr<Map> must_create(const MapDef& d, const MapOptions& opts = {}) {
  auto r = create_map(d, opts);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? std::move(r.value()) : nullptr;
}

template <class T>
T* as(const std::unique_ptr<Map>& m) {
  return static_cast<T*>(m.get());
}

}  // namespace bpfvm::testing
