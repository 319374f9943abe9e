#include "maps/lpm_trie.h"
#include "maps/map_internal.h"

#include <cstring>

namespace bpfvm {

namespace {
constexpr uint32_t kNoSlot = UINT32_MAX;

int extract_bit(const uint8_t* data, size_t index) {
  return (data[index / 8] >> (7 - index % 8)) & 1;
}

uint32_t key_prefixlen(const void* key) {
  uint32_t p;
  std::memcpy(&p, key, 4);
  return p;
}
const uint8_t* key_data(const void* key) {
  return static_cast<const uint8_t*>(key) + 4;
}
}  // namespace

struct LpmTrieMap::Node {
  Node* child[2] = {nullptr, nullptr};
  uint32_t prefixlen = 0;
  uint32_t slot = kNoSlot;  // kNoSlot: intermediate node (no value)
  std::vector<uint8_t> data;
  bool intermediate() const { return slot == kNoSlot; }
};

LpmTrieMap::LpmTrieMap(const MapDef& def, const MapOptions& opts)
    : Map(def, opts),
      data_size_(def.key_size - 4),
      max_prefixlen_(8 * (def.key_size - 4)),
      stride_(round_up8(def.value_size)),
      values_(new uint8_t[uint64_t(stride_) * def.max_entries]()) {}

LpmTrieMap::~LpmTrieMap() {
  std::vector<Node*> stack;
  if (root_) stack.push_back(root_);
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (Node* c : n->child) {
      if (c) stack.push_back(c);
    }
    delete n;
  }
}

uint32_t LpmTrieMap::count() const {
  std::lock_guard<std::mutex> g(mu_);
  return n_entries_;
}

// Values live in one preallocated array, so pointers handed to programs stay valid.
uint64_t LpmTrieMap::value_bytes_from(const void* p) const {
  return slot_value_bytes_from(values_.get(), p, stride_, def().max_entries, def().value_size);
}

uint8_t* LpmTrieMap::value_of(const Node* n) const {
  return values_.get() + uint64_t(n->slot) * stride_;
}

uint32_t LpmTrieMap::alloc_slot() {
  if (!free_slots_.empty()) {
    uint32_t s = free_slots_.back();
    free_slots_.pop_back();
    return s;
  }
  return fresh_++;  // callers check n_entries_ < max_entries first
}

// longest_prefix_match(): common leading bits of the node and the key, limited by both prefixlens.
size_t LpmTrieMap::match_len(const Node* n, uint32_t key_plen, const uint8_t* kd) const {
  uint32_t limit = std::min(n->prefixlen, key_plen);
  size_t prefixlen = 0;
  for (size_t i = 0; i < data_size_ && prefixlen < limit; ++i) {
    uint8_t diff = n->data[i] ^ kd[i];
    if (diff) {
      prefixlen += __builtin_clz(uint32_t(diff)) - 24;
      break;
    }
    prefixlen += 8;
  }
  return std::min<size_t>(prefixlen, limit);
}

LpmTrieMap::Node* LpmTrieMap::lookup_locked(const uint8_t* key) const {
  uint32_t plen = key_prefixlen(key);
  const uint8_t* kd = key_data(key);
  Node* found = nullptr;
  for (Node* node = root_; node;) {
    size_t m = match_len(node, plen, kd);
    if (m == max_prefixlen_) {
      if (!node->intermediate()) found = node;
      break;
    }
    if (m < node->prefixlen) break;
    if (!node->intermediate()) found = node;
    if (node->prefixlen >= max_prefixlen_) break;
    node = node->child[extract_bit(kd, node->prefixlen)];
  }
  return found;
}

void* LpmTrieMap::lookup(const void* key) {
  std::lock_guard<std::mutex> g(mu_);
  Node* n = lookup_locked(static_cast<const uint8_t*>(key));
  return n ? value_of(n) : nullptr;
}

int LpmTrieMap::lookup_copy(const void* key, void* out) {
  std::lock_guard<std::mutex> g(mu_);
  Node* n = lookup_locked(static_cast<const uint8_t*>(key));
  if (!n) return -ENOENT;
  std::memcpy(out, value_of(n), def().value_size);
  return 0;
}

int LpmTrieMap::update(const void* key, const void* value, uint64_t flags) {
  if (flags > kBpfExist) return -EINVAL;
  uint32_t plen = key_prefixlen(key);
  if (plen > max_prefixlen_) return -EINVAL;
  const uint8_t* kd = key_data(key);
  std::lock_guard<std::mutex> g(mu_);

  Node** slot = &root_;
  Node* node;
  size_t m = 0;
  while ((node = *slot)) {
    m = match_len(node, plen, kd);
    if (node->prefixlen != m || node->prefixlen == plen || node->prefixlen == max_prefixlen_) break;
    slot = &node->child[extract_bit(kd, node->prefixlen)];
  }
  // Same prefix already present (as an element or an intermediate node).
  if (node && node->prefixlen == m && m == plen) {
    if (!node->intermediate()) {
      if (flags == kBpfNoExist) return -EEXIST;
      std::memcpy(value_of(node), value, def().value_size);
      return 0;
    }
    if (flags == kBpfExist) return -ENOENT;
    if (n_entries_ >= def().max_entries) return -ENOSPC;
    node->slot = alloc_slot();
    node->data.assign(kd, kd + data_size_);
    ++n_entries_;
    std::memcpy(value_of(node), value, def().value_size);
    return 0;
  }
  if (flags == kBpfExist) return -ENOENT;
  if (n_entries_ >= def().max_entries) return -ENOSPC;

  auto* fresh = new Node;
  fresh->prefixlen = plen;
  fresh->data.assign(kd, kd + data_size_);
  fresh->slot = alloc_slot();
  ++n_entries_;
  std::memcpy(value_of(fresh), value, def().value_size);

  if (!node) {
    *slot = fresh;
  } else if (m == plen) {
    // The new prefix contains the node: it becomes the node's parent.
    fresh->child[extract_bit(node->data.data(), m)] = node;
    *slot = fresh;
  } else {
    // They diverge at bit m: an intermediate node of prefix m holds both.
    auto* im = new Node;
    im->prefixlen = uint32_t(m);
    im->data = node->data;
    if (extract_bit(kd, m)) {
      im->child[0] = node;
      im->child[1] = fresh;
    } else {
      im->child[0] = fresh;
      im->child[1] = node;
    }
    *slot = im;
  }
  return 0;
}

int LpmTrieMap::remove(const void* key) {
  uint32_t plen = key_prefixlen(key);
  if (plen > max_prefixlen_) return -EINVAL;
  const uint8_t* kd = key_data(key);
  std::lock_guard<std::mutex> g(mu_);

  Node** trim = &root_;
  Node** trim2 = trim;
  Node* parent = nullptr;
  Node* node;
  size_t m = 0;
  while ((node = *trim)) {
    m = match_len(node, plen, kd);
    if (node->prefixlen != m || node->prefixlen == plen) break;
    parent = node;
    trim2 = trim;
    trim = &node->child[extract_bit(kd, node->prefixlen)];
  }
  if (!node || node->prefixlen != plen || node->prefixlen != m || node->intermediate()) return -ENOENT;

  --n_entries_;
  free_slots_.push_back(node->slot);
  // Two children: the node stays as an intermediate node.
  if (node->child[0] && node->child[1]) {
    node->slot = kNoSlot;
    return 0;
  }
  // A leaf under an intermediate parent: the parent goes too, replaced by the sibling.
  if (parent && parent->intermediate() && !node->child[0] && !node->child[1]) {
    *trim2 = node == parent->child[0] ? parent->child[1] : parent->child[0];
    delete parent;
    delete node;
    return 0;
  }
  *trim = node->child[0] ? node->child[0] : node->child[1];
  delete node;
  return 0;
}

void LpmTrieMap::copy_key(const Node* n, void* out) const {
  std::memcpy(out, &n->prefixlen, 4);
  std::memcpy(static_cast<uint8_t*>(out) + 4, n->data.data(), data_size_);
}

int LpmTrieMap::get_next_key(const void* key, void* next) {
  std::lock_guard<std::mutex> g(mu_);
  if (!root_) return -ENOENT;
  auto leftmost = [&](Node* from) {
    // Post-order first element under `from`: intermediate nodes always have two children.
    Node* found = nullptr;
    for (Node* n = from; n;) {
      if (n->intermediate()) {
        n = n->child[0];
      } else {
        found = n;
        n = n->child[0] ? n->child[0] : n->child[1];
      }
    }
    return found;
  };
  if (!key) {
    copy_key(leftmost(root_), next);
    return 0;
  }
  uint32_t plen = key_prefixlen(key);
  const uint8_t* kd = key_data(key);
  std::vector<Node*> stack;
  Node* node = root_;
  while (node) {
    stack.push_back(node);
    size_t m = match_len(node, plen, kd);
    if (node->prefixlen != m || node->prefixlen == plen) break;
    if (node->prefixlen >= max_prefixlen_) {
      node = nullptr;
      break;
    }
    node = node->child[extract_bit(kd, node->prefixlen)];
  }
  if (!node || node->prefixlen != plen || node->intermediate() || match_len(node, plen, kd) != plen) {
    copy_key(leftmost(root_), next);
    return 0;
  }
  // The exact key is stack.back(); climb to the next node in post-order.
  stack.pop_back();
  while (!stack.empty()) {
    Node* parent = stack.back();
    if (parent->child[0] == node && parent->child[1]) {
      copy_key(leftmost(parent->child[1]), next);
      return 0;
    }
    if (!parent->intermediate()) {
      copy_key(parent, next);
      return 0;
    }
    node = parent;
    stack.pop_back();
  }
  return -ENOENT;
}

}  // namespace bpfvm
