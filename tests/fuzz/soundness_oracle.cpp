#include "tests/fuzz/soundness_oracle.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cstring>
#include <random>
#include <sstream>

#include "helpers/context.h"
#include "helpers/environment.h"
#include "helpers/kernel_helpers.h"
#include "maps/map_set.h"
#include "verifier/verifier.h"
#include "vm/asm.h"
#include "vm/disasm.h"
#include "vm/interp.h"

namespace bpfvm::fuzz {
namespace {

constexpr size_t kLowSize = 8192;  // xdp_md at 0, metadata + packet from 4096 + 64 - meta
constexpr uint32_t kMaxPacket = 1600;

// Deterministic clock and PRNG; trace_printk output is dropped.
class QuietEnvironment : public DefaultEnvironment {
 public:
  QuietEnvironment() : DefaultEnvironment(opts()) {}
  void trace(std::string_view) override {}

 private:
  static EnvironmentOptions opts() {
    EnvironmentOptions o;
    o.trace_file = nullptr;
    o.seed = 1;
    return o;
  }
};

// Input bytes biased towards edge values: per run, either uniform random bytes, one pattern byte
// everywhere (0x00, 0xff, 0x80, 0x7f, 0x01), or a mix of both per byte.
class ByteSource {
 public:
  explicit ByteSource(std::mt19937_64& rng) : rng_(rng), mode_(static_cast<int>(rng() % 4)) {
    pattern_ = kEdges[rng() % std::size(kEdges)];
  }
  uint8_t next() {
    switch (mode_) {
      case 0:
      case 1:
        return static_cast<uint8_t>(rng_());
      case 2:
        return pattern_;
      default:
        return rng_() % 2 ? static_cast<uint8_t>(rng_()) : kEdges[rng_() % std::size(kEdges)];
    }
  }

 private:
  static constexpr uint8_t kEdges[] = {0x00, 0xff, 0x80, 0x7f, 0x01};
  std::mt19937_64& rng_;
  int mode_;
  uint8_t pattern_;
};

}  // namespace

struct SoundnessOracle::Impl {
  OracleOptions opts;
  HelperTable helpers;
  QuietEnvironment env;
  uint8_t* low = nullptr;  // kLowSize bytes in the low 4 GiB

  ~Impl() {
    if (low) munmap(low, kLowSize);
  }

  // One run of the linked program on the input of `seed`. Returns the fault, if any.
  std::optional<Error> run_once(const GeneratedProgram& p, const Program& prog, uint64_t seed) {
    std::mt19937_64 rng(seed);
    ByteSource bytes(rng);
    MapSet maps;
    std::vector<Map*> ptrs;
    for (const MapDef& def : p.maps) {
      auto m = maps.create(def);
      if (!m) return make_error(ErrorCode::kInternal, kNoPc, "map creation: " + m.error().to_string());
      ptrs.push_back(*m);
      std::vector<uint8_t> value(def.value_size);
      const uint32_t n = static_cast<uint32_t>(rng() % (def.max_entries + 1));
      for (uint32_t i = 0; i < n; ++i) {
        for (auto& b : value)
          b = bytes.next();
        uint32_t key = def.type == MapType::Array ? i : static_cast<uint32_t>(rng() % (rng() % 2 ? 8 : 64));
        (*m)->update(&key, value.data(), 0);
      }
    }
    Program linked = prog;
    for (Insn& in : linked.insns) {
      if (in.op != Op::LddwMapFd && in.op != Op::LddwMapIdx) continue;
      const uint32_t idx = static_cast<uint32_t>(in.imm);
      if (idx >= ptrs.size()) return make_error(ErrorCode::kInternal, in.pc, "map index out of range");
      const uint64_t addr = reinterpret_cast<uint64_t>(ptrs[idx]);
      in.op = Op::Lddw;
      in.src = 0;
      in.imm = static_cast<int32_t>(static_cast<uint32_t>(addr));
      in.imm64 = addr;
    }
    auto interp = Interpreter::create(linked, &helpers);
    if (!interp) return interp.error();

    RunInput in;
    in.resolver = &maps;
    HelperContext hc;
    hc.maps = &maps;
    hc.prog_type = static_cast<uint32_t>(p.type);
    hc.deterministic = true;
    hc.gpl = true;
    PacketState pkt;
    std::vector<uint8_t> raw;
    if (p.type == ProgType::Xdp) {
      uint32_t len = static_cast<uint32_t>(rng() % (rng() % 4 == 0 ? kMaxPacket + 1 : 80));
      const uint32_t meta = rng() % 2 ? static_cast<uint32_t>(rng() % 33) : 0;
      uint8_t* data = low + 4096 + 64;
      for (uint32_t i = 0; i < meta + len; ++i)
        (data - meta)[i] = bytes.next();
      auto addr = [](const uint8_t* ptr) { return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(ptr)); };
      uint32_t ctx[6] = {addr(data), addr(data + len), addr(data - meta), 1, 0, 0};
      std::memcpy(low, ctx, sizeof(ctx));
      pkt.buf = data - meta;
      pkt.capacity = meta + len;
      pkt.data = meta;
      pkt.data_end = meta + len;
      pkt.ctx_data = reinterpret_cast<uint32_t*>(low);
      pkt.ctx_data_end = reinterpret_cast<uint32_t*>(low) + 1;
      pkt.ctx_data_meta = reinterpret_cast<uint32_t*>(low) + 2;
      hc.packet = &pkt;
      in.args[0] = reinterpret_cast<uintptr_t>(low);
      in.regions.push_back(MemRegion{reinterpret_cast<uintptr_t>(low), sizeof(ctx), true, "ctx"});
      if (meta + len > 0)
        in.regions.push_back(MemRegion{reinterpret_cast<uintptr_t>(data - meta), meta + len, true, "packet"});
    } else {
      raw.resize(p.raw_ctx_size);
      for (auto& b : raw)
        b = bytes.next();
      in.args[0] = reinterpret_cast<uintptr_t>(raw.data());
      in.args[1] = raw.size();
      if (!raw.empty())
        in.regions.push_back(MemRegion{reinterpret_cast<uintptr_t>(raw.data()), raw.size(), true, "input"});
    }
    in.context = &hc;
    RunOptions ro;
    ro.checked = true;
    ro.budget = opts.budget;
    auto r = (*interp)->run(in, ro, env);
    if (!r) return r.error();
    return std::nullopt;
  }

  // Assembles and verifies; fills `o` and returns the program when accepted (or, with `always`,
  // whenever it assembles).
  std::optional<Program> verify(const GeneratedProgram& p, OracleOutcome* o, bool always = false) {
    auto as = assemble(p.asm_text);
    if (!as) {
      o->assemble_error = as.error().to_string();
      return std::nullopt;
    }
    o->assembled = true;
    verifier::VerifyOptions vo;
    vo.type = p.type;
    vo.maps = p.maps;
    vo.raw_ctx_size = p.raw_ctx_size;
    vo.max_steps = opts.max_steps;
    auto v = verifier::verify(as->program, vo);
    if (v) o->loops_proven = v->stats.loops_proven;
    if (!v) {
      o->reject_kind = "Error";
      if (!always) return std::nullopt;
    } else if (!v->accepted) {
      o->reject_kind = v->errors.empty() ? "?" : verifier::error_kind_name(v->errors.front().kind);
      if (!always) return std::nullopt;
    }
    if (always) {
      o->accepted = v && v->accepted;
      return std::move(as->program);
    }
    o->accepted = true;
    return std::move(as->program);
  }
};

SoundnessOracle::SoundnessOracle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SoundnessOracle::~SoundnessOracle() = default;

Result<std::unique_ptr<SoundnessOracle>> SoundnessOracle::create(const OracleOptions& opts) {
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  void* low = mmap(nullptr, kLowSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low == MAP_FAILED) return make_error(ErrorCode::kInternal, kNoPc, "no low memory (MAP_32BIT)");
  impl->low = static_cast<uint8_t*>(low);
  register_kernel_helpers(impl->helpers);
  return std::unique_ptr<SoundnessOracle>(new SoundnessOracle(std::move(impl)));
}

OracleOutcome SoundnessOracle::check(const GeneratedProgram& p, uint64_t input_seed) {
  OracleOutcome o;
  auto prog = impl_->verify(p, &o);
  if (!prog) return o;
  for (uint32_t i = 0; i < impl_->opts.runs; ++i) {
    const uint64_t seed = input_seed * 1000003 + i;
    ++o.runs;
    if (auto f = impl_->run_once(p, *prog, seed)) {
      o.fault = std::move(f);
      o.fault_input_seed = seed;
      break;
    }
  }
  return o;
}

OracleOutcome SoundnessOracle::check_unverified(const GeneratedProgram& p, uint64_t input_seed) {
  OracleOutcome o;
  auto prog = impl_->verify(p, &o, /*always=*/true);
  if (!prog) return o;
  for (uint32_t i = 0; i < impl_->opts.runs && !o.fault; ++i) {
    const uint64_t seed = input_seed * 1000003 + i;
    ++o.runs;
    if (auto f = impl_->run_once(p, *prog, seed)) {
      o.fault = std::move(f);
      o.fault_input_seed = seed;
    }
  }
  return o;
}

OracleOutcome SoundnessOracle::check_one(const GeneratedProgram& p, uint64_t input_seed) {
  OracleOutcome o;
  auto prog = impl_->verify(p, &o);
  if (!prog) return o;
  ++o.runs;
  if (auto f = impl_->run_once(p, *prog, input_seed)) {
    o.fault = std::move(f);
    o.fault_input_seed = input_seed;
  }
  return o;
}

std::string reproducer_text(const GeneratedProgram& p, const OracleOutcome& o) {
  std::string s = "# bpfvm verifier soundness fuzzer finding (tests/fuzz/soundness_oracle.h)\n";
  s += fmt::format("# seed {}\n# input_seed {}\n", p.seed, o.fault_input_seed);
  if (o.fault) s += fmt::format("# fault: {} {}\n", error_code_name(o.fault->code), o.fault->to_string());
  s += fmt::format("-- case soundfuzz_{}\n", p.seed);
  s += fmt::format("-- type {}\n", p.type == ProgType::Xdp ? "xdp" : "raw");
  if (p.type == ProgType::Raw) s += fmt::format("-- ctx_size {}\n", p.raw_ctx_size);
  for (const MapDef& m : p.maps)
    s += fmt::format("-- map {} {} key {} value {} entries {}\n", m.name, map_type_name(m.type), m.key_size,
                     m.value_size, m.max_entries);
  s += "-- asm\n";
  auto as = assemble(p.asm_text);
  s += as ? disassemble(as->program) : p.asm_text;
  return s;
}

Result<GeneratedProgram> parse_reproducer(const std::string& text, uint64_t* input_seed) {
  GeneratedProgram p;
  std::istringstream in(text);
  std::string line;
  bool in_asm = false, seen_asm = false;
  int n = 0;
  *input_seed = 0;
  auto bad = [&](const std::string& why) { return make_error(ErrorCode::kBadInput, n, why); };
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("-- ", 0) != 0) {
      if (in_asm) {
        p.asm_text += line + "\n";
      } else if (line.rfind("# input_seed ", 0) == 0) {
        *input_seed = std::stoull(line.substr(13));
      } else if (line.rfind("# seed ", 0) == 0) {
        p.seed = std::stoull(line.substr(7));
      }
      continue;
    }
    in_asm = false;
    std::istringstream ls(line.substr(3));
    std::string key;
    ls >> key;
    if (key == "case" || key == "expect") continue;
    if (key == "type") {
      std::string t;
      ls >> t;
      if (t == "xdp")
        p.type = ProgType::Xdp;
      else if (t == "raw")
        p.type = ProgType::Raw;
      else
        return bad("unknown type " + t);
    } else if (key == "ctx_size") {
      ls >> p.raw_ctx_size;
    } else if (key == "map") {
      MapDef m;
      std::string type, k1, k2, k3;
      ls >> m.name >> type >> k1 >> m.key_size >> k2 >> m.value_size >> k3 >> m.max_entries;
      if (type == "array")
        m.type = MapType::Array;
      else if (type == "hash")
        m.type = MapType::Hash;
      else
        return bad("unsupported map type " + type);
      if (k1 != "key" || k2 != "value" || k3 != "entries") return bad("bad map line");
      p.maps.push_back(m);
    } else if (key == "asm") {
      in_asm = seen_asm = true;
    } else {
      return bad("unknown section " + key);
    }
  }
  if (!seen_asm) return bad("no -- asm section");
  return p;
}

}  // namespace bpfvm::fuzz
