// Test helper: a runtime Object holding one program assembled from text (tests/runtime, tests/jit).
#pragma once

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "vm/runtime/object.h"

namespace bpfvm {

// An object with one program "prog" of `type` assembled from `text` (a failure to assemble or to
// create fails the test and gives nullptr), with `maps` and license GPL.
inline std::unique_ptr<Object> one_program_object(std::string_view text,
                                                  ProgType type,
                                                  std::vector<MapDef> maps = {},
                                                  const ObjectOptions& opts = {}) {
  ObjectFile f;
  ElfProgram p;
  p.name = "prog";
  p.type = type;
  p.type_known = true;
  p.code = assemble_or_fail(text);
  f.programs.push_back(std::move(p));
  f.maps = std::move(maps);
  f.license = "GPL";
  auto o = Object::create(std::move(f), opts);
  EXPECT_TRUE(o.ok()) << o.error().to_string();
  return o ? std::move(*o) : nullptr;
}

}  // namespace bpfvm
