#include "bench/corpus.h"

#include <time.h>

#include <cstring>

#include <fmt/format.h>

#ifndef BPFVM_BENCH_OBJECTS
#error "BPFVM_BENCH_OBJECTS must name the folder of the corpus objects"
#endif

// The native builds of the corpus programs and their shim maps (bench/programs/*.c, BENCH_NATIVE).
extern "C" {
int bench_nop(bench_xdp_md*);
int bench_int_loop(bench_xdp_md*);
int bench_fnv1a(bench_xdp_md*);
int bench_crc32(bench_xdp_md*);
int bench_parse_tcp(bench_xdp_md*);
int bench_sort(bench_xdp_md*);
int bench_calls(bench_xdp_md*);
int bench_muldiv(bench_xdp_md*);
int bench_array_lookup(bench_xdp_md*);
int bench_hash_lookup(bench_xdp_md*);
extern shim_map bench_array;
extern shim_map bench_hash;
}

namespace bpfvm::bench {

namespace {

const CorpusProgram kCorpus[] = {
    {"nop", "bench_nop", false, bench_nop, nullptr, "returns XDP_PASS: per-run overhead"},
    {"int_loop", "bench_int_loop", true, bench_int_loop, nullptr,
     "xorshift64 and Collatz loops, 2 x 1000 iterations"},
    {"fnv1a", "bench_fnv1a", true, bench_fnv1a, nullptr, "FNV-1a 64 over the 1500-byte packet"},
    {"crc32", "bench_crc32", true, bench_crc32, nullptr,
     "table-driven CRC32 over the packet (.rodata table)"},
    {"parse_tcp", "bench_parse_tcp", true, bench_parse_tcp, nullptr,
     "Ethernet/IPv4/TCP parse, IPv4 and TCP checksums"},
    {"sort", "bench_sort", true, bench_sort, nullptr, "bubble sort of 64 u32 on the stack (2016 steps)"},
    {"calls", "bench_calls", true, bench_calls, nullptr,
     "MurmurHash3 with a bpf-to-bpf call per step (1125 calls)"},
    {"muldiv", "bench_muldiv", true, bench_muldiv, nullptr, "64/32-bit mul, div, mod mix, 500 iterations"},
    {"array_lookup", "bench_array_lookup", false, bench_array_lookup, &bench_array,
     "256 array-map lookups (256 entries)"},
    {"hash_lookup", "bench_hash_lookup", false, bench_hash_lookup, &bench_hash,
     "128 hash-map lookups (512 of 1024 keys present)"},
};

template <class T>
std::vector<uint8_t> bytes_of(T v) {
  std::vector<uint8_t> b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}

void put16(std::vector<uint8_t>& p, size_t at, uint16_t v) {
  p[at] = static_cast<uint8_t>(v >> 8);
  p[at + 1] = static_cast<uint8_t>(v);
}

// The Internet checksum (RFC 1071) of `n` bytes at `at`, plus `sum`.
uint16_t inet_checksum(const std::vector<uint8_t>& p, size_t at, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2)
    sum += static_cast<uint32_t>(p[at + i] << 8 | p[at + i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[at + n - 1]) << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

Error bad(std::string msg) {
  return Error{ErrorCode::kBadInput, kNoPc, std::move(msg)};
}

}  // namespace

double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

std::span<const CorpusProgram> corpus() {
  return kCorpus;
}

const CorpusProgram* find_program(std::string_view name) {
  for (const CorpusProgram& p : kCorpus)
    if (name == p.name) return &p;
  return nullptr;
}

std::string objects_dir() {
  return BPFVM_BENCH_OBJECTS;
}

std::string object_path(const CorpusProgram& p) {
  return objects_dir() + "/" + p.name + ".o";
}

std::vector<uint8_t> bench_packet() {
  constexpr size_t kLen = 1500, kEth = 14, kIp = 20;
  std::vector<uint8_t> p(kLen);
  uint32_t x = 12345;
  for (auto& b : p) {
    x = x * 1103515245 + 12345;
    b = static_cast<uint8_t>(x >> 16);
  }
  // Ethernet: destination, source, type IPv4.
  const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};
  std::memcpy(p.data(), macs, sizeof macs);
  put16(p, 12, 0x0800);
  // IPv4: version 4, IHL 5, total length, id, DF, TTL 64, TCP, 10.0.0.1 -> 10.0.0.2.
  const size_t ip = kEth;
  p[ip] = 0x45;
  p[ip + 1] = 0;
  put16(p, ip + 2, static_cast<uint16_t>(kLen - kEth));
  put16(p, ip + 4, 0x1234);
  put16(p, ip + 6, 0x4000);
  p[ip + 8] = 64;
  p[ip + 9] = 6;
  put16(p, ip + 10, 0);
  const uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
  std::memcpy(&p[ip + 12], addrs, sizeof addrs);
  put16(p, ip + 10, inet_checksum(p, ip, kIp, 0));
  // TCP: ports 40000 -> 80, data offset 5, ACK|PSH, checksum over the pseudo-header and segment.
  const size_t tcp = ip + kIp, seg = kLen - tcp;
  put16(p, tcp, 40000);
  put16(p, tcp + 2, 80);
  p[tcp + 12] = 5 << 4;
  p[tcp + 13] = 0x18;
  put16(p, tcp + 16, 0);
  put16(p, tcp + 18, 0);
  uint32_t pseudo = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + static_cast<uint32_t>(seg);
  put16(p, tcp + 16, inet_checksum(p, tcp, seg, pseudo));
  return p;
}

std::vector<MapFill> map_fills(const CorpusProgram& p) {
  std::vector<MapFill> fills;
  if (std::string_view(p.name) == "array_lookup") {
    MapFill f{"bench_array", {}};
    for (uint32_t k = 0; k < 256; k++)
      f.entries.push_back({bytes_of(k), bytes_of(uint64_t{k} * 0x9e3779b97f4a7c15ull)});
    fills.push_back(std::move(f));
  } else if (std::string_view(p.name) == "hash_lookup") {
    // Every other key of 0..1023: about half of the lookups hit.
    MapFill f{"bench_hash", {}};
    for (uint32_t k = 0; k < 1024; k += 2)
      f.entries.push_back({bytes_of(k), bytes_of(uint64_t{k} * 1000003 + 7)});
    fills.push_back(std::move(f));
  }
  return fills;
}

// ---- bpfvm ----

Result<std::unique_ptr<VmRunner>> VmRunner::open(const CorpusProgram& p, const ObjectOptions& opts) {
  auto r = std::unique_ptr<VmRunner>(new VmRunner());
  ObjectOptions o = opts;
  o.trace_out = nullptr;
  auto obj = Object::open(object_path(p), o);
  if (!obj) return obj.error();
  r->obj_ = std::move(*obj);
  int idx = r->obj_->find_program(p.function);
  if (idx < 0) return bad(fmt::format("{}: no program {}", object_path(p), p.function));
  r->index_ = static_cast<size_t>(idx);
  if (!r->obj_->program_status(r->index_)) return r->obj_->program_status(r->index_).error();
  for (const MapFill& f : map_fills(p)) {
    Map* m = r->obj_->find_map(f.map);
    if (!m) return bad(fmt::format("{}: no map {}", object_path(p), f.map));
    for (const MapEntry& e : f.entries)
      if (auto st = r->obj_->update(*m, e.key, e.value); !st) return st.error();
  }
  auto v = r->obj_->verify(r->index_);
  if (!v) return v.error();
  if (!v->accepted)
    return Error{ErrorCode::kVerifier, v->errors.empty() ? kNoPc : v->errors[0].pc,
                 fmt::format("{}: bpfvm's verifier rejects {}: {}", object_path(p), p.function,
                             v->errors.empty() ? "" : v->errors[0].to_string())};
  r->in_.packet = bench_packet();
  r->in_.reuse_context = true;
  return r;
}

size_t VmRunner::insns() const {
  return obj_->program(index_).code.insns.size();
}

Result<Timing> VmRunner::run(uint32_t repeat) {
  in_.repeat = repeat;
  // Timed around the call: the context is built once per batch (reuse_context), which `repeat`
  // amortises; no clock read between runs.
  const double t0 = thread_cpu_ns();
  auto out = obj_->run(index_, in_);
  const double t1 = thread_cpu_ns();
  if (!out) return out.error();
  if (out->checked) return Error{ErrorCode::kInternal, kNoPc, "the verified program ran in checked mode"};
  return Timing{static_cast<uint32_t>(out->r0), (t1 - t0) / static_cast<double>(repeat)};
}

// ---- native ----

Result<std::unique_ptr<NativeRunner>> NativeRunner::open(const CorpusProgram& p) {
  auto r = std::unique_ptr<NativeRunner>(new NativeRunner());
  r->fn_ = p.native;
  for (const MapFill& f : map_fills(p)) {
    if (!p.native_map) return bad(fmt::format("{}: map {} has no native shim map", p.name, f.map));
    for (const MapEntry& e : f.entries)
      if (e.key.size() != p.native_map->key_size || e.value.size() != p.native_map->value_size ||
          shim_map_update(p.native_map, e.key.data(), e.value.data()) != 0)
        return bad(fmt::format("{}: filling the shim map {} failed", p.name, f.map));
  }
  r->packet_ = bench_packet();
  r->ctx_.data = reinterpret_cast<uint64_t>(r->packet_.data());
  r->ctx_.data_end = r->ctx_.data + r->packet_.size();
  r->ctx_.data_meta = r->ctx_.data;
  r->ctx_.ingress_ifindex = 1;
  return r;
}

Timing NativeRunner::run(uint64_t repeat) {
  // The program lives in another translation unit (no LTO): every call is a real call.
  bench_native_fn fn = fn_;
  int r = 0;
  const double t0 = thread_cpu_ns();
  for (uint64_t i = 0; i < repeat; i++) {
    asm volatile("" : "+r"(fn) : : "memory");
    r = fn(&ctx_);
  }
  return Timing{static_cast<uint32_t>(r), (thread_cpu_ns() - t0) / static_cast<double>(repeat)};
}

}  // namespace bpfvm::bench
