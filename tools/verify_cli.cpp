#include "tools/verify_cli.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/cli_util.h"
#include "tools/object_cli.h"
#include "vm/runtime/input.h"
#include "vm/runtime/object.h"

namespace po = boost::program_options;

namespace bpfvm::cli {

namespace {

using verifier::Diagnostic;
using verifier::VerifyResult;
using json = nlohmann::ordered_json;

// The source line of slot `pc`, when the object has line info: as in BTF, a line entry covers the
// instructions up to the next entry.
const LineInfo* line_for(const Program& code, const std::vector<LineInfo>& lines, uint32_t pc) {
  const LineInfo* last = nullptr;
  for (size_t k = 0; k < code.insns.size() && k < lines.size(); k++) {
    if (lines[k].line != 0) last = &lines[k];
    if (code.insns[k].pc == pc) return last;
  }
  return nullptr;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  size_t b = s.find_first_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b);
}

std::string source_text(const LineInfo& li) {
  return fmt::format("{}:{}: {}", std::filesystem::path(li.file).filename().string(), li.line,
                     trim(li.source));
}

double ms(double seconds) {
  return seconds * 1000.0;
}

json diag_json(const Diagnostic& d, const Program& code, const std::vector<LineInfo>& lines) {
  json j = {{"kind", verifier::error_kind_name(d.kind)},
            {"pc", d.pc},
            {"insn", d.insn},
            {"regs", d.regs},
            {"path", d.path},
            {"message", d.message},
            {"hint", d.hint}};
  if (const LineInfo* li = line_for(code, lines, d.pc))
    j["source"] = {
        {"file", li->file}, {"line", li->line}, {"column", li->column}, {"text", trim(li->source)}};
  else
    j["source"] = nullptr;
  return j;
}

struct Totals {
  size_t files = 0, programs = 0, accepted = 0, rejected = 0, not_linked = 0, unreadable = 0;
  // --stats: over the verified programs
  uint64_t insns = 0, steps = 0;
  double analysis_seconds = 0, max_seconds = 0;
  size_t max_bytes = 0;
  std::string slowest, largest;
};

std::string kib(size_t bytes) {
  return fmt::format("{:.1f} KiB", bytes / 1024.0);
}

struct VerifyArgs {
  std::optional<ProgType> type;
  std::string program, section;
  bool json = false, stats = false, log = false;
  std::optional<uint32_t> ctx_size;  // from --mem / --mem-file / --ctx-size
};

Result<std::optional<uint32_t>> ctx_size_option(const po::variables_map& vm) {
  int given = static_cast<int>(vm.count("mem") + vm.count("mem-file") + vm.count("ctx-size"));
  if (given > 1)
    return Error{ErrorCode::kBadInput, kNoPc, "--mem, --mem-file and --ctx-size are mutually exclusive"};
  if (vm.count("ctx-size")) return std::optional<uint32_t>(vm["ctx-size"].as<uint32_t>());
  if (vm.count("mem")) {
    auto m = parse_hex_bytes(vm["mem"].as<std::string>());
    if (!m) return m.error();
    return std::optional<uint32_t>(static_cast<uint32_t>(m->size()));
  }
  if (vm.count("mem-file")) {
    auto m = read_file(vm["mem-file"].as<std::string>());
    if (!m) return m.error();
    return std::optional<uint32_t>(static_cast<uint32_t>(m->size()));
  }
  return std::optional<uint32_t>{};
}

// Verifies the selected programs of one file: text on stdout (or into `out` as JSON), counts into `t`.
// Returns false when the file could not be read.
bool verify_file(const std::string& path, const VerifyArgs& a, Totals* t, json* out, size_t* selected) {
  t->files++;
  auto in = load_input_file(path, a.type);
  if (!in) {
    t->unreadable++;
    if (a.json) *out = {{"file", path}, {"error", in.error().to_string()}, {"programs", json::array()}};
    print_error(fmt::format("bpfvm verify: {}", path), in.error());
    return false;
  }
  const ObjectFile& file = in->file;
  if (a.json) *out = {{"file", path}, {"error", nullptr}, {"programs", json::array()}};
  for (size_t i = 0; i < file.programs.size(); i++) {
    const ElfProgram& ep = file.programs[i];
    const ProgType type = a.type.value_or(ep.type);
    if (!a.program.empty() && ep.name != a.program) continue;
    if (!a.section.empty() && ep.section != a.section) continue;
    ++*selected;
    t->programs++;
    const std::string label =
        in->format == InputFormat::Elf ? fmt::format("{} {}/{}", path, ep.section, ep.name) : path;
    const size_t insns = ep.code.insns.size();
    json pj;
    if (a.json)
      pj = {{"name", ep.name}, {"section", ep.section}, {"type", prog_type_name(type)}, {"insns", insns}};
    if (!ep.status) {
      t->not_linked++;
      const std::string why = ep.status.error().to_string();
      if (a.json) {
        pj["verdict"] = "not_linked";
        pj["link_error"] = why;
        (*out)["programs"].push_back(pj);
      } else {
        fmt::print("FAIL {} (not linked): {}\n", label, why);
      }
      continue;
    }
    verifier::VerifyOptions vo;
    vo.collect_log = a.log;
    if (type == ProgType::Raw)
      vo.raw_ctx_size = a.ctx_size.value_or(in->data_mem ? static_cast<uint32_t>(in->data_mem->size()) : 0);
    auto r = verify_program(file, i, type, vo);
    if (!r) {
      // Only an empty program is an error of the verifier: count it as a rejection.
      t->rejected++;
      if (a.json) {
        pj["verdict"] = "rejected";
        pj["error"] = r.error().to_string();
        (*out)["programs"].push_back(pj);
      } else {
        fmt::print("FAIL {}: {}\n", label, r.error().to_string());
      }
      continue;
    }
    (r->accepted ? t->accepted : t->rejected)++;
    t->insns += insns;
    t->steps += r->stats.insns_analysed;
    t->analysis_seconds += r->stats.seconds;
    if (r->stats.seconds >= t->max_seconds) t->max_seconds = r->stats.seconds, t->slowest = label;
    if (r->stats.peak_state_bytes >= t->max_bytes)
      t->max_bytes = r->stats.peak_state_bytes, t->largest = label;
    if (a.json) {
      pj["verdict"] = r->accepted ? "accepted" : "rejected";
      if (type == ProgType::Raw) pj["ctx_size"] = vo.raw_ctx_size;
      pj["errors"] = json::array();
      for (const Diagnostic& d : r->errors)
        pj["errors"].push_back(diag_json(d, ep.code, ep.line_info));
      pj["warnings"] = json::array();
      for (const Diagnostic& d : r->warnings)
        pj["warnings"].push_back(diag_json(d, ep.code, ep.line_info));
      if (a.stats)
        pj["stats"] = {{"seconds", r->stats.seconds},
                       {"steps", r->stats.insns_analysed},
                       {"peak_states", r->stats.peak_states},
                       {"peak_state_bytes", r->stats.peak_state_bytes},
                       {"max_loop_iterations", r->stats.max_loop_iterations},
                       {"loops_proven", r->stats.loops_proven},
                       {"max_loop_bound", r->stats.max_loop_bound}};
      if (a.log) pj["log"] = r->log;
      (*out)["programs"].push_back(pj);
      continue;
    }
    if (r->accepted)
      fmt::print("PASS {} ({} insns)\n", label, insns);
    else
      fmt::print("FAIL {} ({} insns): {}\n{}", label, insns, first_error(*r),
                 describe_errors(*r, ep.code, ep.line_info));
    if (!r->warnings.empty()) {
      std::string pcs;
      for (const Diagnostic& d : r->warnings)
        pcs += fmt::format("{}{}", pcs.empty() ? "" : ", ", d.pc);
      fmt::print("  warning: unreachable code at pc {}\n", pcs);
    }
    if (a.stats)
      fmt::print(
          "  stats: {:.3f} ms, {} steps, peak {} states ({} of abstract state), longest loop {} iterations "
          "analysed one by one, {} loop analyses proven by an invariant (largest bound {})\n",
          ms(r->stats.seconds), r->stats.insns_analysed, r->stats.peak_states, kib(r->stats.peak_state_bytes),
          r->stats.max_loop_iterations, r->stats.loops_proven, r->stats.max_loop_bound);
    if (a.log) fmt::print("  log:\n{}", r->log);
  }
  return true;
}

}  // namespace

std::string first_error(const VerifyResult& r) {
  if (r.errors.empty()) return "no error";
  const Diagnostic& d = r.errors.front();
  return fmt::format("{} at pc {}: {}", verifier::error_kind_name(d.kind), d.pc, d.message);
}

std::string describe_errors(const VerifyResult& r, const Program& code, const std::vector<LineInfo>& lines) {
  std::string s;
  for (size_t i = 0; i < r.errors.size(); i++) {
    const Diagnostic& d = r.errors[i];
    s += fmt::format("  error {}/{}: {} at pc {}: {}\n", i + 1, r.errors.size(),
                     verifier::error_kind_name(d.kind), d.pc, d.message);
    s += fmt::format("    insn:   {}: {}\n", d.pc, d.insn);
    if (const LineInfo* li = line_for(code, lines, d.pc))
      s += fmt::format("    source: {}\n", source_text(*li));
    if (!d.regs.empty()) s += fmt::format("    regs:   {}\n", d.regs);
    if (!d.path.empty()) s += fmt::format("    path:   {}\n", d.path);
    if (!d.hint.empty()) s += fmt::format("    hint:   {}\n", d.hint);
  }
  return s;
}

std::string verdict_line(const VerifyResult& r, size_t insns) {
  if (r.accepted) return fmt::format("verifier: accepted ({} insns, {:.2f} ms)", insns, ms(r.stats.seconds));
  return fmt::format("verifier: rejected ({} insns, {:.2f} ms): {}", insns, ms(r.stats.seconds),
                     first_error(r));
}

void add_verify_options(po::options_description& d) {
  // clang-format off
  d.add_options()
      ("type", po::value<std::string>(), "program type of every program (libbpf's names, or raw)")
      ("section", po::value<std::string>(), "ELF: only the programs in this section")
      ("program", po::value<std::string>(), "ELF: only the program with this function name")
      ("format", po::value<std::string>()->default_value("text"), "output: text or json")
      ("stats", "print analysis time, steps, peak states and their bytes per program, and a summary")
      ("log", "print the verifier's log (the state at every block entry)")
      ("mem", po::value<std::string>(), "raw programs: input memory (hex); its size is the verified size")
      ("mem-file", po::value<std::string>(), "raw programs: input memory file; its size is the verified size")
      ("ctx-size", po::value<uint32_t>(), "raw programs: bytes of input memory (r1), also in r2");
  // clang-format on
}

int verify_command(const po::variables_map& vm) {
  const std::string cmd = "bpfvm verify";
  VerifyArgs a;
  auto type = type_option(vm);
  if (!type) {
    print_error(cmd, type.error());
    return kExitUsage;
  }
  a.type = *type;
  const std::string format = vm["format"].as<std::string>();
  if (format != "text" && format != "json") {
    fmt::print(stderr, "{}: unknown format '{}' (text or json)\n", cmd, format);
    return kExitUsage;
  }
  a.json = format == "json";
  a.stats = vm.count("stats") > 0;
  a.log = vm.count("log") > 0;
  if (vm.count("program")) a.program = vm["program"].as<std::string>();
  if (vm.count("section")) a.section = vm["section"].as<std::string>();
  auto ctx = ctx_size_option(vm);
  if (!ctx) {
    print_error(cmd, ctx.error());
    return kExitUsage;
  }
  a.ctx_size = *ctx;

  const auto files = vm["file"].as<std::vector<std::string>>();
  const bool many = files.size() > 1;
  Totals t;
  size_t selected = 0;
  json doc = {{"files", json::array()}};
  auto start = std::chrono::steady_clock::now();
  for (size_t f = 0; f < files.size(); f++) {
    Totals before = t;
    auto fstart = std::chrono::steady_clock::now();
    json fj;
    verify_file(files[f], a, &t, &fj, &selected);
    std::fflush(stdout);
    if (a.json) doc["files"].push_back(std::move(fj));
    if (many) {
      const double fms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - fstart).count();
      if (t.unreadable > before.unreadable)
        fmt::print(stderr, "[{}/{}] {}: unreadable\n", f + 1, files.size(), files[f]);
      else
        fmt::print(stderr, "[{}/{}] {}: {} programs, {} accepted, {} rejected, {} not linked ({:.1f} ms)\n",
                   f + 1, files.size(), files[f], t.programs - before.programs, t.accepted - before.accepted,
                   t.rejected - before.rejected, t.not_linked - before.not_linked, fms);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (a.json) {
    doc["summary"] = {{"files", t.files},       {"programs", t.programs},     {"accepted", t.accepted},
                      {"rejected", t.rejected}, {"not_linked", t.not_linked}, {"unreadable", t.unreadable},
                      {"seconds", secs}};
    if (a.stats)
      doc["summary"]["stats"] = {
          {"insns", t.insns},
          {"steps", t.steps},
          {"analysis_seconds", t.analysis_seconds},
          {"steps_per_second", t.analysis_seconds > 0 ? t.steps / t.analysis_seconds : 0},
          {"max_seconds", t.max_seconds},
          {"slowest", t.slowest},
          {"max_state_bytes", t.max_bytes},
          {"largest", t.largest}};
    fmt::print("{}\n", doc.dump(2));
  } else if (many) {
    fmt::print("\n{:>6} {:>9} {:>9} {:>9} {:>11} {:>11} {:>10}\n", "files", "programs", "accepted",
               "rejected", "not linked", "unreadable", "time");
    fmt::print("{:>6} {:>9} {:>9} {:>9} {:>11} {:>11} {:>8.2f} s\n", t.files, t.programs, t.accepted,
               t.rejected, t.not_linked, t.unreadable, secs);
  }
  if (a.stats && !a.json && t.accepted + t.rejected > 0) {
    fmt::print(
        "analysis: {} insns, {} steps in {:.3f} s ({:.0f} steps/s); slowest {:.3f} ms ({}); "
        "peak abstract state {} ({})\n",
        t.insns, t.steps, t.analysis_seconds, t.analysis_seconds > 0 ? t.steps / t.analysis_seconds : 0.0,
        ms(t.max_seconds), t.slowest, kib(t.max_bytes), t.largest);
  }
  if (t.unreadable > 0) return kExitUsage;
  if (selected == 0) {
    fmt::print(stderr, "{}: no program selected{}\n", cmd,
               a.program.empty() && a.section.empty() ? "" : " (check --program / --section)");
    return kExitUsage;
  }
  return t.rejected + t.not_linked > 0 ? kExitRejected : kExitOk;
}

}  // namespace bpfvm::cli
