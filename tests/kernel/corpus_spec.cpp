#include "tests/kernel/corpus_spec.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace bpfvm::kernel {
namespace {

using json = nlohmann::json;

Error bad(std::string msg) {
  return Error{ErrorCode::kBadInput, kNoPc, std::move(msg)};
}

// Small checked accessors: they throw SpecError, caught in load_spec (never crosses the header).
struct SpecError {
  std::string msg;
};

Bytes hex_field(const json& j, const char* what) {
  if (!j.is_string()) throw SpecError{fmt::format("{}: expected a hex string", what)};
  auto r = parse_hex(j.get<std::string>());
  if (!r) throw SpecError{fmt::format("{}: {}", what, r.error().msg)};
  return *r;
}

const json& need(const json& obj, const char* key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key)) throw SpecError{fmt::format("{}: missing \"{}\"", where, key)};
  return obj.at(key);
}

void check_keys(const json& obj, std::initializer_list<const char*> allowed, const std::string& where) {
  if (!obj.is_object()) throw SpecError{fmt::format("{}: expected an object", where)};
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed)
      ok |= it.key() == a;
    if (!ok) throw SpecError{fmt::format("{}: unknown field \"{}\"", where, it.key())};
  }
}

uint32_t u32_field(const json& j, const std::string& where) {
  if (!j.is_number_integer() || j.get<int64_t>() < INT32_MIN || j.get<int64_t>() > UINT32_MAX)
    throw SpecError{fmt::format("{}: expected a 32-bit integer", where)};
  return static_cast<uint32_t>(j.get<int64_t>());
}

std::vector<ExpectEntry> entry_list(const json& j, const std::string& where) {
  if (!j.is_array()) throw SpecError{fmt::format("{}: expected an array of {{key, value}}", where)};
  std::vector<ExpectEntry> out;
  for (size_t i = 0; i < j.size(); i++) {
    const std::string w = fmt::format("{}[{}]", where, i);
    check_keys(j[i], {"key", "value"}, w);
    out.push_back({hex_field(need(j[i], "key", w), (w + ".key").c_str()),
                   hex_field(need(j[i], "value", w), (w + ".value").c_str())});
  }
  return out;
}

std::vector<CtxPatch> patches(const json& j, const std::string& where) {
  if (!j.is_array()) throw SpecError{fmt::format("{}: expected an array of {{offset, hex}}", where)};
  std::vector<CtxPatch> out;
  for (size_t i = 0; i < j.size(); i++) {
    const std::string w = fmt::format("{}[{}]", where, i);
    check_keys(j[i], {"offset", "hex", "field"}, w);
    out.push_back(
        {u32_field(need(j[i], "offset", w), w + ".offset"), hex_field(need(j[i], "hex", w), w.c_str())});
  }
  return out;
}

RunSpec parse_run(const json& j, const std::string& where, const std::string& object_path) {
  check_keys(j,
             {"name", "program", "prog_type", "comment", "data_in", "ctx_in", "data_size_out", "repeat",
              "cpu", "maps_before", "expect"},
             where);
  RunSpec run;
  run.name = need(j, "name", where).get<std::string>();
  const std::string w = fmt::format("{} run '{}'", where, run.name);
  run.request.object_path = object_path;
  run.request.program = need(j, "program", w).get<std::string>();
  run.prog_type = need(j, "prog_type", w).get<std::string>();
  if (!prog_type_number(run.prog_type))
    throw SpecError{fmt::format("{}: unknown prog_type '{}'", w, run.prog_type)};
  if (j.contains("data_in")) run.request.data_in = hex_field(j["data_in"], (w + ".data_in").c_str());
  if (j.contains("ctx_in")) {
    const json& c = j["ctx_in"];
    if (c.is_string()) {
      run.request.ctx_in = hex_field(c, (w + ".ctx_in").c_str());
    } else {
      check_keys(c, {"size", "at"}, w + ".ctx_in");
      run.request.ctx_in.assign(u32_field(need(c, "size", w + ".ctx_in"), w + ".ctx_in.size"), 0);
      if (run.request.ctx_in.size() > 4096) throw SpecError{w + ".ctx_in.size: above 4096"};
      if (c.contains("at")) {
        for (const CtxPatch& p : patches(c["at"], w + ".ctx_in.at")) {
          if (p.offset + p.bytes.size() > run.request.ctx_in.size())
            throw SpecError{
                fmt::format("{}.ctx_in.at: offset {} + {} bytes past size", w, p.offset, p.bytes.size())};
          std::copy(p.bytes.begin(), p.bytes.end(), run.request.ctx_in.begin() + p.offset);
        }
      }
    }
  }
  if (j.contains("data_size_out"))
    run.request.data_size_out = u32_field(j["data_size_out"], w + ".data_size_out");
  if (j.contains("repeat")) run.request.repeat = u32_field(j["repeat"], w + ".repeat");
  if (j.contains("cpu")) run.request.cpu = static_cast<int>(u32_field(j["cpu"], w + ".cpu"));
  if (j.contains("maps_before")) {
    const json& mb = j["maps_before"];
    if (!mb.is_array()) throw SpecError{w + ".maps_before: expected an array"};
    for (size_t i = 0; i < mb.size(); i++) {
      const std::string wi = fmt::format("{}.maps_before[{}]", w, i);
      check_keys(mb[i], {"map", "key", "value", "values"}, wi);
      MapInit init;
      init.map = need(mb[i], "map", wi).get<std::string>();
      if (mb[i].contains("key")) init.key = hex_field(mb[i]["key"], (wi + ".key").c_str());
      if (mb[i].contains("value")) init.values.push_back(hex_field(mb[i]["value"], (wi + ".value").c_str()));
      if (mb[i].contains("values")) {
        for (const json& v : mb[i]["values"])
          init.values.push_back(hex_field(v, (wi + ".values").c_str()));
      }
      if (init.values.empty()) throw SpecError{wi + ": needs \"value\" or \"values\""};
      run.request.maps_before.push_back(std::move(init));
    }
  }
  const json& e = need(j, "expect", w);
  const std::string we = w + ".expect";
  check_keys(e, {"retval", "data_out", "ctx_out", "maps", "ringbufs", "comment"}, we);
  if (e.contains("retval")) run.expect.retval = u32_field(e["retval"], we + ".retval");
  if (e.contains("data_out")) run.expect.data_out = hex_field(e["data_out"], (we + ".data_out").c_str());
  if (e.contains("ctx_out")) run.expect.ctx_out = patches(e["ctx_out"], we + ".ctx_out");
  if (e.contains("maps")) {
    for (size_t i = 0; i < e["maps"].size(); i++) {
      const json& m = e["maps"][i];
      const std::string wm = fmt::format("{}.maps[{}]", we, i);
      check_keys(m, {"map", "entries", "contains", "absent", "count", "max_count", "other_cpus", "comment"},
                 wm);
      MapExpect me;
      me.map = need(m, "map", wm).get<std::string>();
      if (m.contains("entries")) me.entries = entry_list(m["entries"], wm + ".entries");
      if (m.contains("contains")) me.contains = entry_list(m["contains"], wm + ".contains");
      if (m.contains("absent")) {
        for (const json& k : m["absent"])
          me.absent.push_back(hex_field(k, (wm + ".absent").c_str()));
      }
      if (m.contains("count")) me.count = u32_field(m["count"], wm + ".count");
      if (m.contains("max_count")) me.max_count = u32_field(m["max_count"], wm + ".max_count");
      if (m.contains("other_cpus")) {
        const std::string oc = m["other_cpus"].get<std::string>();
        if (oc != "any" && oc != "zero") throw SpecError{wm + ".other_cpus: \"zero\" or \"any\""};
        me.other_cpus_any = oc == "any";
      }
      run.expect.maps.push_back(std::move(me));
    }
  }
  if (e.contains("ringbufs")) {
    for (size_t i = 0; i < e["ringbufs"].size(); i++) {
      const json& r = e["ringbufs"][i];
      const std::string wr = fmt::format("{}.ringbufs[{}]", we, i);
      check_keys(r, {"map", "records"}, wr);
      RingbufExpect re;
      re.map = need(r, "map", wr).get<std::string>();
      for (const json& rec : need(r, "records", wr))
        re.records.push_back(hex_field(rec, (wr + ".records").c_str()));
      run.expect.ringbufs.push_back(std::move(re));
    }
  }
  return run;
}

std::string show(const Bytes& b) {
  return b.empty() ? "(empty)" : to_hex(b);
}

}  // namespace

Result<Bytes> parse_hex(const std::string& text) {
  Bytes out;
  int pending = -1;
  for (size_t i = 0; i < text.size(); i++) {
    const char c = text[i];
    if (c == ' ' || c == '\n' || c == '\t' || c == '|') continue;
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      return bad(fmt::format("bad hex character '{}' at offset {}", c, i));
    if (pending < 0) {
      pending = v;
    } else {
      out.push_back(static_cast<uint8_t>(pending << 4 | v));
      pending = -1;
    }
  }
  if (pending >= 0) return bad("odd number of hex digits");
  return out;
}

std::optional<uint32_t> prog_type_number(const std::string& name) {
  if (name == "socket_filter") return 1;
  if (name == "sched_cls") return 3;
  if (name == "xdp") return 6;
  if (name == "raw_tracepoint") return 17;
  return std::nullopt;
}

std::vector<std::string> list_specs(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".json") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<ObjectSpec> load_spec(const std::string& json_path, const std::string& object_dir) {
  std::ifstream in(json_path);
  if (!in) return Error{ErrorCode::kIo, kNoPc, fmt::format("{}: cannot open", json_path)};
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (j.is_discarded()) return bad(fmt::format("{}: not valid JSON", json_path));
  try {
    check_keys(j, {"object", "description", "runs"}, json_path);
    ObjectSpec spec;
    spec.spec_path = json_path;
    spec.object = need(j, "object", json_path).get<std::string>();
    const std::string obj_path = object_dir + "/" + spec.object + ".o";
    const json& runs = need(j, "runs", json_path);
    if (!runs.is_array() || runs.empty())
      return bad(fmt::format("{}: \"runs\" must be a non-empty array", json_path));
    std::set<std::string> names;
    for (size_t i = 0; i < runs.size(); i++) {
      RunSpec r = parse_run(runs[i], fmt::format("{} runs[{}]", json_path, i), obj_path);
      if (!names.insert(r.name).second)
        return bad(fmt::format("{}: duplicate run name '{}'", json_path, r.name));
      spec.runs.push_back(std::move(r));
    }
    return spec;
  } catch (const SpecError& e) {
    return bad(e.msg);
  } catch (const json::exception& e) {
    return bad(fmt::format("{}: {}", json_path, e.what()));
  }
}

std::vector<std::string> check_run(const RunSpec& spec, const RunResult& res) {
  std::vector<std::string> out;
  const RunExpect& e = spec.expect;
  if (auto t = prog_type_number(spec.prog_type); t && *t != res.prog_type)
    out.push_back(fmt::format("prog_type: spec says {} ({}), the object's section gives {}", spec.prog_type,
                              *t, res.prog_type));
  if (e.retval && *e.retval != res.retval)
    out.push_back(fmt::format("retval: expected {} (0x{:x}), got {} (0x{:x})", *e.retval, *e.retval,
                              res.retval, res.retval));
  if (e.data_out && *e.data_out != res.data_out)
    out.push_back(
        fmt::format("data_out:\n  expected {}\n  got      {}", show(*e.data_out), show(res.data_out)));
  for (const CtxPatch& p : e.ctx_out) {
    if (p.offset + p.bytes.size() > res.ctx_out.size()) {
      out.push_back(fmt::format("ctx_out: offset {} + {} bytes past the {}-byte context", p.offset,
                                p.bytes.size(), res.ctx_out.size()));
      continue;
    }
    Bytes got(res.ctx_out.begin() + p.offset, res.ctx_out.begin() + p.offset + p.bytes.size());
    if (got != p.bytes)
      out.push_back(fmt::format("ctx_out at {}: expected {}, got {}", p.offset, show(p.bytes), show(got)));
  }
  for (const MapExpect& me : e.maps) {
    const MapContents* mc = res.find_map(me.map);
    if (!mc) {
      out.push_back(fmt::format("map '{}': not in the result", me.map));
      continue;
    }
    const int cpu = mc->per_cpu ? res.cpu : 0;
    auto value_of = [&](const MapEntry& ent) -> Bytes {
      return static_cast<size_t>(cpu) < ent.values.size() ? ent.values[cpu] : Bytes{};
    };
    auto find = [&](const Bytes& key) -> const MapEntry* {
      for (const MapEntry& ent : mc->entries)
        if (ent.key == key) return &ent;
      return nullptr;
    };
    auto check_entries = [&](const std::vector<ExpectEntry>& list) {
      for (size_t i = 0; i < list.size(); i++) {
        const ExpectEntry& x = list[i];
        if (x.key.empty()) {  // queue/stack: positional
          if (i >= mc->entries.size()) {
            out.push_back(fmt::format("map '{}' [{}]: expected {}, the map has only {} elements", me.map, i,
                                      show(x.value), mc->entries.size()));
          } else if (value_of(mc->entries[i]) != x.value) {
            out.push_back(fmt::format("map '{}' [{}]: expected {}, got {}", me.map, i, show(x.value),
                                      show(value_of(mc->entries[i]))));
          }
          continue;
        }
        const MapEntry* ent = find(x.key);
        if (!ent)
          out.push_back(
              fmt::format("map '{}' key {}: missing (expected {})", me.map, show(x.key), show(x.value)));
        else if (value_of(*ent) != x.value)
          out.push_back(fmt::format("map '{}' key {}: expected {}, got {}", me.map, show(x.key),
                                    show(x.value), show(value_of(*ent))));
      }
    };
    if (me.entries) {
      check_entries(*me.entries);
      if (mc->entries.size() != me.entries->size()) {
        std::string keys;
        for (const MapEntry& ent : mc->entries)
          keys += " " + show(ent.key) + "=" + show(value_of(ent));
        out.push_back(fmt::format("map '{}': expected exactly {} entries, got {}:{}", me.map,
                                  me.entries->size(), mc->entries.size(), keys));
      }
    }
    check_entries(me.contains);
    for (const Bytes& k : me.absent) {
      if (find(k)) out.push_back(fmt::format("map '{}' key {}: present, expected absent", me.map, show(k)));
    }
    if (me.count && mc->entries.size() != *me.count)
      out.push_back(
          fmt::format("map '{}': expected {} entries, got {}", me.map, *me.count, mc->entries.size()));
    if (me.max_count && mc->entries.size() > *me.max_count)
      out.push_back(fmt::format("map '{}': expected at most {} entries, got {}", me.map, *me.max_count,
                                mc->entries.size()));
    if (mc->per_cpu && !me.other_cpus_any) {
      for (const MapEntry& ent : mc->entries) {
        for (size_t c = 0; c < ent.values.size(); c++) {
          if (static_cast<int>(c) == res.cpu) continue;
          if (std::any_of(ent.values[c].begin(), ent.values[c].end(), [](uint8_t b) { return b != 0; }))
            out.push_back(
                fmt::format("map '{}' key {}: cpu {} (not the run's cpu {}) holds {}, expected zeros", me.map,
                            show(ent.key), c, res.cpu, show(ent.values[c])));
        }
      }
    }
  }
  for (const RingbufExpect& re : e.ringbufs) {
    auto it = std::find_if(res.ringbufs.begin(), res.ringbufs.end(),
                           [&](const auto& p) { return p.first == re.map; });
    if (it == res.ringbufs.end()) {
      out.push_back(fmt::format("ring buffer '{}': not in the result", re.map));
      continue;
    }
    const auto& got = it->second;
    if (got.size() != re.records.size())
      out.push_back(fmt::format("ring buffer '{}': expected {} records, got {}", re.map, re.records.size(),
                                got.size()));
    for (size_t i = 0; i < std::min(got.size(), re.records.size()); i++) {
      if (got[i] != re.records[i])
        out.push_back(fmt::format("ring buffer '{}' record {}: expected {}, got {}", re.map, i,
                                  show(re.records[i]), show(got[i])));
    }
  }
  return out;
}

std::map<std::string, std::string> load_reason_list(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string key, reason;
    ss >> key;
    std::getline(ss, reason);
    if (!key.empty()) out[key] = reason;
  }
  return out;
}

const std::string* find_reason(const std::map<std::string, std::string>& list, const std::string& label) {
  auto it = list.find(label);
  if (it == list.end()) it = list.find(label.substr(0, label.find("__")));
  return it == list.end() ? nullptr : &it->second;
}

std::string sanitize_label(std::string s) {
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

void PrintTo(const CorpusRun& r, std::ostream* os) {
  *os << r.label;
}

std::vector<CorpusRun> corpus_runs() {
  std::vector<CorpusRun> out;
  for (const std::string& path : list_specs(BPFVM_CORPUS_SRC_DIR)) {
    auto spec = load_spec(path, BPFVM_CORPUS_OBJ_DIR);
    if (!spec) continue;
    for (size_t i = 0; i < spec->runs.size(); i++)
      out.push_back({path, i, sanitize_label(spec->object + "__" + spec->runs[i].name)});
  }
  return out;
}

}  // namespace bpfvm::kernel
