#include "verifier/cfg.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>

namespace bpfvm::verifier {
namespace {

bool ends_block(const Insn& in) {
  Form f = in.info().form;
  return f == Form::Ja || f == Form::Ja32 || f == Form::JmpImm || f == Form::JmpReg || f == Form::Exit;
}

// Bourdoncle's recursive WTO construction on one function's blocks.
class WtoBuilder {
 public:
  WtoBuilder(const Cfg& cfg, const Function& f) : cfg_(cfg), f_(f), dfn_(f.num_blocks, 0) {}

  std::vector<WtoItem> run() {
    std::vector<Node> top;
    visit(f_.first_block, top);
    std::reverse(top.begin(), top.end());
    std::vector<WtoItem> out;
    flatten(top, out);
    return out;
  }
  bool visited(uint32_t b) const { return dfn_[b - f_.first_block] != 0; }

 private:
  struct Node {
    uint32_t block;
    bool comp;
    std::vector<Node> children;
  };

  uint32_t& dfn(uint32_t b) { return dfn_[b - f_.first_block]; }

  uint32_t visit(uint32_t v, std::vector<Node>& partition) {
    stack_.push_back(v);
    dfn(v) = ++num_;
    uint32_t head = dfn(v);
    bool loop = false;
    for (uint32_t w : cfg_.blocks[v].succs) {
      uint32_t min = dfn(w) == 0 ? visit(w, partition) : dfn(w);
      if (min <= head) {
        head = min;
        loop = true;
      }
    }
    if (head == dfn(v)) {
      dfn(v) = UINT32_MAX;
      uint32_t e = stack_.back();
      stack_.pop_back();
      if (loop) {
        while (e != v) {
          dfn(e) = 0;
          e = stack_.back();
          stack_.pop_back();
        }
        partition.push_back(component(v));
      } else {
        partition.push_back(Node{v, false, {}});
      }
    }
    return head;
  }

  Node component(uint32_t v) {
    std::vector<Node> part;
    for (uint32_t w : cfg_.blocks[v].succs)
      if (dfn(w) == 0) visit(w, part);
    std::reverse(part.begin(), part.end());
    return Node{v, true, std::move(part)};
  }

  void flatten(const std::vector<Node>& nodes, std::vector<WtoItem>& out) {
    for (const Node& n : nodes) {
      size_t at = out.size();
      out.push_back(WtoItem{n.block, 0, n.comp});
      flatten(n.children, out);
      out[at].end = static_cast<uint32_t>(out.size());
    }
  }

  const Cfg& cfg_;
  const Function& f_;
  std::vector<uint32_t> dfn_;
  std::vector<uint32_t> stack_;
  uint32_t num_ = 0;
};

}  // namespace

Result<Cfg> build_cfg(const Program& program, uint32_t max_blocks) {
  Cfg cfg;
  const auto& insns = program.insns;
  size_t n = insns.size();
  if (n == 0) return make_error(ErrorCode::kVerifier, kNoPc, "empty program");
  std::vector<uint8_t> leader(n + 1, 0);
  leader[0] = 1;
  std::vector<uint32_t> entries = program.subprogs;
  if (entries.empty() || entries[0] != 0) entries.insert(entries.begin(), 0);
  for (uint32_t e : entries)
    if (e < n) leader[e] = 1;
  for (size_t i = 0; i < n; ++i) {
    const Insn& in = insns[i];
    if (ends_block(in)) {
      leader[i + 1] = 1;
      if (in.target >= 0 && static_cast<size_t>(in.target) < n) leader[in.target] = 1;
    }
  }
  cfg.block_of.assign(n, 0);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && !leader[j + 1])
      ++j;
    BasicBlock b;
    b.first = static_cast<uint32_t>(i);
    b.last = static_cast<uint32_t>(j);
    for (size_t k = i; k <= j; ++k)
      cfg.block_of[k] = static_cast<uint32_t>(cfg.blocks.size());
    cfg.blocks.push_back(std::move(b));
    i = j + 1;
  }
  // Functions.
  for (size_t k = 0; k < entries.size(); ++k) {
    Function f;
    f.entry = entries[k];
    f.end = k + 1 < entries.size() ? entries[k + 1] : static_cast<uint32_t>(n);
    f.first_block = cfg.block_of[f.entry];
    f.num_blocks =
        (f.end >= n ? static_cast<uint32_t>(cfg.blocks.size()) : cfg.block_of[f.end]) - f.first_block;
    for (uint32_t b = f.first_block; b < f.first_block + f.num_blocks; ++b)
      cfg.blocks[b].func = static_cast<uint32_t>(k);
    cfg.funcs.push_back(std::move(f));
  }
  // Successors (the decoder guarantees targets inside the same function).
  for (size_t b = 0; b < cfg.blocks.size(); ++b) {
    BasicBlock& bb = cfg.blocks[b];
    const Insn& in = insns[bb.last];
    const Function& f = cfg.funcs[bb.func];
    Form form = in.info().form;
    auto add = [&](size_t insn) {
      if (insn >= f.entry && insn < f.end) {
        uint32_t s = cfg.block_of[insn];
        if (std::find(bb.succs.begin(), bb.succs.end(), s) == bb.succs.end()) bb.succs.push_back(s);
      }
    };
    if (form == Form::Exit) continue;
    if (form == Form::Ja || form == Form::Ja32) {
      add(static_cast<size_t>(in.target));
      continue;
    }
    add(bb.last + 1);
    if (form == Form::JmpImm || form == Form::JmpReg) add(static_cast<size_t>(in.target));
  }
  for (Function& f : cfg.funcs) {
    if (f.num_blocks > max_blocks)
      return make_error(ErrorCode::kVerifier, insns[f.entry].pc,
                        fmt::format("function has {} basic blocks (limit {})", f.num_blocks, max_blocks));
    WtoBuilder w(cfg, f);
    f.wto = w.run();
    bool prev_unreached = false;
    for (uint32_t b = f.first_block; b < f.first_block + f.num_blocks; ++b) {
      bool un = !w.visited(b);
      if (un && !prev_unreached) f.unreachable.push_back(cfg.blocks[b].first);
      prev_unreached = un;
    }
  }
  return cfg;
}

}  // namespace bpfvm::verifier
