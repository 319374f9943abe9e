#include "tools/backend_cli.h"

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/cli_util.h"
#include "tools/object_cli.h"
#include "vm/runtime/input.h"

namespace po = boost::program_options;

namespace bpfvm::cli {

namespace {

using json = nlohmann::ordered_json;

Result<BackendKind> backend_option(const po::variables_map& vm) {
  return parse_backend(vm.count("backend") ? vm["backend"].as<std::string>() : "user");
}

// Opens `path` with the --backend backend and the options every command shares.
Result<std::unique_ptr<Backend>> open_for(const std::string& cmd,
                                          const po::variables_map& vm,
                                          const std::string& path,
                                          bool full_log) {
  auto kind = backend_option(vm);
  if (!kind) return kind.error();
  if (!is_elf_file(path)) {
    auto bytes = read_file(path);  // unreadable: kIo
    if (!bytes) return bytes.error();
    return Error{ErrorCode::kBadInput, kNoPc,
                 fmt::format("{}: the {} backend loads ELF objects (raw bytecode, .asm and .data files run "
                             "with --backend user)",
                             path, backend_name(*kind))};
  }
  auto type = type_option(vm);
  if (!type) return type.error();
  BackendOptions bo;
  bo.object.type_override = *type;
  bo.object.trace_out = nullptr;
  bo.full_log = full_log;
  if (vm.count("seed")) bo.object.seed = vm["seed"].as<uint64_t>();
  return open_backend(*kind, path, bo);
}

std::string verdict_text(const ProgramVerdict& v) {
  if (v.accepted)
    return fmt::format("accepted ({} insns processed, {:.2f} ms)", v.insns_processed, v.load_seconds * 1000);
  return fmt::format("rejected ({}): {}", v.err_no ? strerror(v.err_no) : "verifier", v.error);
}

json maps_json(Backend& b) {
  json maps = json::array();
  for (size_t m = 0; m < b.num_maps(); m++) {
    const BackendMap& d = b.map(m);
    json j = {{"name", d.name},
              {"type", map_type_name(d.type)},
              {"key_size", d.key_size},
              {"value_size", d.value_size},
              {"max_entries", d.max_entries},
              {"entries", json::array()}};
    auto entries = b.read_map(m);
    if (!entries) {
      j["error"] = entries.error().to_string();
    } else {
      for (const MapEntryData& e : *entries) {
        if (e.values.size() == 1) {
          j["entries"].push_back({{"key", hex_bytes(e.key)}, {"value", hex_bytes(e.values[0])}});
        } else {
          json vals = json::array();
          for (const auto& v : e.values)
            vals.push_back(hex_bytes(v));
          j["entries"].push_back({{"key", hex_bytes(e.key)}, {"values", vals}});
        }
      }
    }
    auto recs = b.drain_ringbuf(m);
    if (recs && !recs->empty()) {
      j["records"] = json::array();
      for (const auto& r : *recs)
        j["records"].push_back(hex_bytes(r));
    }
    maps.push_back(j);
  }
  return {{"maps", maps}};
}

}  // namespace

std::string hex_bytes(const std::vector<uint8_t>& v) {
  std::string s;
  s.reserve(v.size() * 2);
  for (uint8_t b : v)
    s += fmt::format("{:02x}", b);
  return s;
}

std::string dump_backend_maps_text(Backend& b) {
  std::string s;
  for (size_t m = 0; m < b.num_maps(); m++) {
    const BackendMap& d = b.map(m);
    s += fmt::format("map {} ({}, key {} B, value {} B, max_entries {})\n", d.name, map_type_name(d.type),
                     d.key_size, d.value_size, d.max_entries);
    auto entries = b.read_map(m);
    if (!entries) {
      s += "  error: " + entries.error().to_string() + "\n";
      continue;
    }
    for (const MapEntryData& e : *entries) {
      if (e.values.size() == 1) {
        s += fmt::format("  {} => {}\n", e.key.empty() ? "-" : hex_bytes(e.key), hex_bytes(e.values[0]));
        continue;
      }
      s += fmt::format("  {} =>", hex_bytes(e.key));
      for (size_t c = 0; c < e.values.size(); c++)
        s += fmt::format(" cpu{}: {}", c, hex_bytes(e.values[c]));
      s += "\n";
    }
    auto recs = b.drain_ringbuf(m);
    if (recs)
      for (const auto& r : *recs)
        s += fmt::format("  record {}\n", hex_bytes(r));
  }
  return s;
}

void add_backend_option(po::options_description& d) {
  d.add_options()("backend", po::value<std::string>()->default_value("user"),
                  "user (bpfvm) or kernel (the Linux kernel through bpf(2); needs root)");
}

bool uses_backend(const po::variables_map& vm) {
  return vm.count("backend") && vm["backend"].as<std::string>() != "user";
}

int backend_run(const po::variables_map& vm, bool bench) {
  const std::string cmd = bench ? "bpfvm bench" : "bpfvm run";
  if (vm.count("no-verify"))
    return fail(cmd, Error{ErrorCode::kBadInput, kNoPc,
                           "--no-verify: the kernel verifies every program it loads (use --backend user)"});
  const std::string path = vm["file"].as<std::string>();
  auto b = open_for(cmd, vm, path, false);
  if (!b) return fail(cmd, b.error());
  Backend& be = **b;
  if (Status st = be.load(); !st) print_error(cmd, st.error());  // the verdicts say which programs loaded
  auto idx = be.select_program(vm.count("program") ? vm["program"].as<std::string>() : "",
                               vm.count("section") ? vm["section"].as<std::string>() : "");
  if (!idx) return fail(cmd, idx.error());
  const ProgramVerdict& v = be.verdict(*idx);
  fmt::print(stderr, "{} verifier: {}\n", backend_name(be.kind()), verdict_text(v));
  if (!v.accepted) {
    fmt::print(stderr, "{}{}: the {} verifier rejected program '{}'; not running it\n", v.log, cmd,
               backend_name(be.kind()), be.program(*idx).name);
    return kExitRejected;
  }
  auto inputs = run_inputs(vm);
  if (!inputs) return fail(cmd, inputs.error());
  TestRunInput in;
  in.data_in = std::move(inputs->packet);
  in.ctx_in = std::move(inputs->mem).value_or(std::vector<uint8_t>{});
  in.cpu = inputs->cpu;
  in.repeat = inputs->repeat;
  auto out = be.test_run(*idx, in);
  if (!out) return fail(cmd, out.error());
  if (!write_packet_out(cmd, vm, out->data_out)) return kExitUsage;
  if (vm.count("dump-maps")) {
    std::string dump = vm.count("json") ? maps_json(be).dump(2) + "\n" : dump_backend_maps_text(be);
    std::fputs(dump.c_str(), stderr);
    std::fflush(stderr);
  }
  if (bench)
    fmt::print("backend: {}\nprogram: {} ({})\nruns: {}\nns/run: {}\n", backend_name(be.kind()),
               be.program(*idx).name, prog_type_name(be.program(*idx).type), in.repeat, out->duration_ns);
  fmt::print("{:#x}\n", out->retval);
  return kExitOk;
}

int backend_verify(const po::variables_map& vm) {
  const std::string cmd = "bpfvm verify";
  const std::string format = vm["format"].as<std::string>();
  if (format != "text" && format != "json") {
    fmt::print(stderr, "{}: unknown format '{}' (text or json)\n", cmd, format);
    return kExitUsage;
  }
  const bool as_json = format == "json", log = vm.count("log") > 0;
  const std::string only_prog = vm.count("program") ? vm["program"].as<std::string>() : "";
  const std::string only_sec = vm.count("section") ? vm["section"].as<std::string>() : "";
  size_t selected = 0, rejected = 0, unreadable = 0;
  json doc = {{"files", json::array()}};
  for (const std::string& path : vm["file"].as<std::vector<std::string>>()) {
    auto b = open_for(cmd, vm, path, log);
    if (!b) {
      if (b.error().code == ErrorCode::kUnsupported) return fail(cmd, b.error());  // kernel not reachable
      print_error(fmt::format("{}: {}", cmd, path), b.error());
      unreadable++;
      if (as_json)
        doc["files"].push_back(
            {{"file", path}, {"error", b.error().to_string()}, {"programs", json::array()}});
      continue;
    }
    Backend& be = **b;
    Status st = be.load();
    json fj = {{"file", path},
               {"backend", backend_name(be.kind())},
               {"error", st ? json(nullptr) : json(st.error().to_string())},
               {"programs", json::array()}};
    for (size_t i = 0; i < be.num_programs(); i++) {
      const BackendProgram& p = be.program(i);
      if ((!only_prog.empty() && p.name != only_prog) || (!only_sec.empty() && p.section != only_sec))
        continue;
      selected++;
      const ProgramVerdict& v = be.verdict(i);
      if (!v.accepted) rejected++;
      if (as_json) {
        json pj = {{"name", p.name},
                   {"section", p.section},
                   {"type", prog_type_name(p.type)},
                   {"insns", p.insns},
                   {"verdict", v.accepted ? "accepted" : "rejected"},
                   {"errno", v.err_no},
                   {"error", v.error},
                   {"insns_processed", v.insns_processed}};
        if (log || !v.accepted) pj["log"] = v.log;
        fj["programs"].push_back(pj);
        continue;
      }
      fmt::print("{} {} {}/{} ({} insns): {} verifier: {}\n", v.accepted ? "PASS" : "FAIL", path, p.section,
                 p.name, p.insns, backend_name(be.kind()), verdict_text(v));
      if (log || !v.accepted) {
        fmt::print("  log:\n");
        size_t pos = 0;
        while (pos < v.log.size()) {
          size_t nl = v.log.find('\n', pos);
          if (nl == std::string::npos) nl = v.log.size();
          fmt::print("    {}\n", v.log.substr(pos, nl - pos));
          pos = nl + 1;
        }
      }
    }
    if (as_json) doc["files"].push_back(std::move(fj));
  }
  if (as_json) {
    doc["summary"] = {{"programs", selected},
                      {"accepted", selected - rejected},
                      {"rejected", rejected},
                      {"unreadable", unreadable}};
    fmt::print("{}\n", doc.dump(2));
  }
  if (unreadable) return kExitUsage;
  if (selected == 0) {
    fmt::print(stderr, "{}: no program selected\n", cmd);
    return kExitUsage;
  }
  return rejected ? kExitRejected : kExitOk;
}

int backend_inspect(const po::variables_map& vm) {
  const std::string cmd = "bpfvm inspect";
  const std::string path = vm["file"].as<std::string>();
  auto b = open_for(cmd, vm, path, false);
  if (!b) return fail(cmd, b.error());
  Backend& be = **b;
  Status st = be.load();
  fmt::print("object: {}\nbackend: {}\n", path, backend_name(be.kind()));
  if (!st) fmt::print("load error: {}\n", st.error().to_string());
  fmt::print("programs: {}\n", be.num_programs());
  for (size_t i = 0; i < be.num_programs(); i++) {
    const BackendProgram& p = be.program(i);
    fmt::print("  {}: section '{}', type {}, {} insns, {}\n", p.name, p.section, prog_type_name(p.type),
               p.insns, verdict_text(be.verdict(i)));
  }
  fmt::print("maps: {}\n", be.num_maps());
  for (size_t m = 0; m < be.num_maps(); m++) {
    const BackendMap& d = be.map(m);
    fmt::print("  {}: {}, key {} B, value {} B, max_entries {}, flags {:#x}\n", d.name, map_type_name(d.type),
               d.key_size, d.value_size, d.max_entries, d.map_flags);
  }
  return kExitOk;
}

}  // namespace bpfvm::cli
