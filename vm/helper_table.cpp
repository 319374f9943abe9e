#include "vm/helper_table.h"

#include <algorithm>

#include <fmt/format.h>

namespace bpfvm {

Status HelperTable::add(uint32_t id, std::string name, HelperFn fn, void* user, const HelperProto* proto) {
  if (name.empty())
    return make_error(ErrorCode::kBadInput, kNoPc, fmt::format("helper {} has an empty name", id));
  if (fn == nullptr)
    return make_error(ErrorCode::kBadInput, kNoPc, fmt::format("helper {} ({}) has no function", id, name));
  for (const auto& e : owned_) {
    if (e->name == name && e->id != id)
      return make_error(ErrorCode::kBadInput, kNoPc,
                        fmt::format("helper name '{}' is already used by helper {}", name, e->id));
  }
  // Replacing keeps the entry object, so that pointers handed out by find() stay valid.
  if (const HelperEntry* existing = find(id)) {
    for (auto& e : owned_) {
      if (e.get() == existing) {
        e->name = std::move(name);
        e->fn = fn;
        e->user = user;
        e->proto = proto;
        return Ok{};
      }
    }
  }
  auto entry = std::make_unique<HelperEntry>(HelperEntry{id, std::move(name), fn, user, proto});
  const HelperEntry* p = entry.get();
  owned_.push_back(std::move(entry));
  if (id < dense_.size())
    dense_[id] = p;
  else
    sparse_[id] = p;
  return Ok{};
}

const HelperEntry* HelperTable::find(std::string_view name) const {
  for (const auto& e : owned_)
    if (e->name == name) return e.get();
  return nullptr;
}

std::vector<const HelperEntry*> HelperTable::entries() const {
  std::vector<const HelperEntry*> out;
  out.reserve(owned_.size());
  for (const auto& e : owned_)
    out.push_back(e.get());
  std::sort(out.begin(), out.end(), [](const HelperEntry* a, const HelperEntry* b) { return a->id < b->id; });
  return out;
}

}  // namespace bpfvm
