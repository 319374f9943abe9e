// bpfvm diff: every program of an object loaded by bpfvm (user space, deterministic mode) and by the
// kernel; verdicts compared, then the programs both accept and that can be test-run are run on the
// same input in both and r0, the output packet, the context and every map compared.
//
// A difference is a disagreement unless it falls in a documented policy class (docs/DIFF_POLICY.md;
// kPolicies below lists the classes, and a test checks that the document describes each one).
// Exit codes: 0 no undocumented disagreement, 1 at least one, 2 usage, unreadable input or no kernel.
#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/backend_cli.h"
#include "tools/cli_util.h"
#include "tools/object_cli.h"
#include "vm/elf/elf_loader.h"
#include "vm/runtime/input.h"

namespace po = boost::program_options;

namespace bpfvm::cli {

namespace {

using json = nlohmann::ordered_json;

// Helpers whose result depends on randomness or time (bpfvm: seeded generator, virtual clock).
const std::map<int32_t, const char*> kNondeterministicHelpers = {
    {5, "ktime_get_ns"},        {7, "get_prandom_u32"},       {118, "jiffies64"},
    {125, "ktime_get_boot_ns"}, {160, "ktime_get_coarse_ns"}, {208, "ktime_get_tai_ns"},
};
// Helpers that read the calling task, its cgroup or the packet's socket: the kernel answers for the
// process running the test; bpfvm gives fixed values in deterministic mode.
const std::map<int32_t, const char*> kKernelStateHelpers = {
    {14, "get_current_pid_tgid"},  {15, "get_current_uid_gid"}, {16, "get_current_comm"},
    {17, "get_cgroup_classid"},    {35, "get_current_task"},    {42, "get_numa_node_id"},
    {46, "get_socket_cookie"},     {47, "get_socket_uid"},      {80, "get_current_cgroup_id"},
    {158, "get_current_task_btf"},
};

// A 64-byte Ethernet + IPv4 + UDP packet (10.0.0.1:1234 -> 10.0.0.2:80), the input of programs run
// without --packet.
const std::vector<uint8_t> kSamplePacket = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00,  // Ethernet
    0x45, 0x00, 0x00, 0x32, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x66, 0xb8,              // IPv4, len 50, UDP
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,  // 10.0.0.1 -> 10.0.0.2
    0x04, 0xd2, 0x00, 0x50, 0x00, 0x1e, 0x00, 0x00,  // UDP 1234 -> 80, len 30
    'b',  'p',  'f',  'v',  'm',  ' ',  'd',  'i',  'f',  'f',  ' ',  's',  'a',  'm',
    'p',  'l',  'e',  ' ',  'p',  'a',  'c',  'k'};

bool packet_type(ProgType t) {
  return t == ProgType::Xdp || t == ProgType::SchedCls || t == ProgType::SchedAct ||
         t == ProgType::SocketFilter;
}

struct Args {
  std::string program, section;
  std::optional<ProgType> type;
  std::optional<std::vector<uint8_t>> packet, ctx;
  uint32_t repeat = 1;
  uint64_t seed = 1;
  bool json = false, verbose = false;
};

struct Side {
  bool loaded = false;  // the backend opened the object (kernel: libbpf could open it)
  ProgramVerdict verdict;
  std::optional<TestRunOutput> run;
  std::string run_error;
};

struct ProgDiff {
  std::string name, section;
  ProgType type = ProgType::Unspec;
  Side user, kernel;
  std::string agreement;  // both_accept, both_reject, only_user, only_kernel, kernel_not_loaded
  std::string verdict_class;
  std::string run_status;  // "", "not_run: why", "agree", "differ"
  std::vector<std::string> run_diffs;
  std::string run_class;
  std::vector<std::string> helpers;  // nondeterministic / kernel-state helpers the program calls
  std::set<int32_t> calls;           // every helper the program calls
  bool undocumented() const {
    const bool verdicts_differ =
        agreement == "only_user" || agreement == "only_kernel" || agreement == "kernel_not_loaded";
    return (verdicts_differ && verdict_class.empty()) || (!run_diffs.empty() && run_class.empty());
  }
};

// Helper ids a linked program calls.
std::set<int32_t> helper_calls(const ElfProgram& p) {
  std::set<int32_t> ids;
  for (const Insn& in : p.code.insns)
    if (in.op == Op::Call && in.src == 0) ids.insert(in.imm);
  return ids;
}

constexpr const char* kNotListed = "libbpf does not list this program";

bool contains(const std::string& s, std::initializer_list<std::string_view> parts) {
  return std::any_of(parts.begin(), parts.end(),
                     [&](std::string_view p) { return s.find(p) != std::string::npos; });
}
// The rejecting side's message when only the kernel accepts (bpfvm's) or only bpfvm does (the
// kernel's); nullptr otherwise.
const std::string* user_rejection(const ProgDiff& d) {
  return d.agreement == "only_kernel" ? &d.user.verdict.error : nullptr;
}
const std::string* kernel_rejection(const ProgDiff& d) {
  return d.agreement == "only_user" ? &d.kernel.verdict.error : nullptr;
}
bool user_rejects(const ProgDiff& d, std::string_view prefix) {
  const std::string* e = user_rejection(d);
  return e && e->starts_with(prefix);
}
bool not_listed(const ProgDiff& d) {
  return d.agreement == "kernel_not_loaded" && d.kernel.verdict.error == kNotListed;
}
// The error arose while the kernel validated a global function on its own ("Validating f()
// func#N"), where a pointer argument may be NULL.
bool global_function_args(const ProgDiff& d) {
  const std::string* e = kernel_rejection(d);
  return e && contains(*e, {"_or_null'"}) && d.kernel.verdict.log.find("() func#") != std::string::npos;
}

// The documented policy classes (docs/DIFF_POLICY.md has one section per id), in the order
// `--policies` lists them. `verdict` tells whether a verdict difference is of the class, from the
// program and the rejecting side's message; a verdict difference takes the first class that
// matches. Classes of run differences have none: diff_object assigns them.
struct Policy {
  const char* id;
  const char* summary;
  bool (*verdict)(const ProgDiff&);
};
constexpr Policy kPolicies[] = {
    {"kernel-cannot-open",
     "neither libbpf nor bpfvm's ELF loader can hand the object or program to the kernel",
     // libbpf lists one program per function symbol outside .text: a section without one (older
     // objects) is not a program for it (a .text function is subprogram-listed).
     [](const ProgDiff& d) {
       return (not_listed(d) && d.section != ".text") ||
              (d.agreement == "kernel_not_loaded" &&
               contains(d.kernel.verdict.error, {"libbpf cannot open"}));
     }},
    {"nondeterministic-helper", "the program reads random numbers or clocks (bpfvm's are seeded/virtual)",
     nullptr},
    {"kernel-state-helper", "the program reads the calling task or socket (pid, uid, comm, cgroup, cookie)",
     nullptr},
    {"map-not-in-bpfvm",
     "bpfvm does not implement a map type of the object (cpumap, devmap, stack_trace, ...)",
     [](const ProgDiff& d) {
       return user_rejects(d, "bpfvm cannot create") &&
              contains(d.user.verdict.error, {"is not supported by bpfvm"});
     }},
    {"context-not-in-bpfvm", "bpfvm has no context model for the program type (sock_ops, cgroup_sock, ...)",
     // bpfvm's verifier gives program types without a context model a context of 0 bytes.
     [](const ProgDiff& d) {
       return user_rejects(d, "InvalidCtxAccess") && contains(d.user.verdict.error, {"outside the 0 bytes"});
     }},
    {"helper-not-in-bpfvm",
     "bpfvm does not implement a helper the program calls (rejected as UnknownHelper, or, for helpers "
     "the verifier knows, the run ends at the call)",
     [](const ProgDiff& d) { return user_rejects(d, "UnknownHelper"); }},
    {"bpfvm-unsupported", "bpfvm's verifier does not model an instruction or feature (Unsupported)",
     [](const ProgDiff& d) { return user_rejects(d, "Unsupported"); }},
    {"kernel-program-type-rules",
     "the kernel refuses a helper, context field or return value for the program type",
     [](const ProgDiff& d) {
       const std::string* e = kernel_rejection(d);
       return e &&
              contains(*e, {"unknown func", "not supported for this program type",
                            "invalid bpf_context access", "should have been in", "cannot call GPL-restricted",
                            "program of this type cannot use helper"});  // 6.x's "unknown func"
     }},
    {"kernel-only-map-feature",
     "a map or BTF feature the kernel checks and bpfvm does not model (spin locks, kptrs)",
     // A global function's error may name BTF too: it is global-function-args.
     [](const ProgDiff& d) {
       const std::string* e = kernel_rejection(d);
       return e && contains(*e, {"spin_lock", "kptr", "BTF"}) && !global_function_args(d);
     }},
    {"subprogram-listed",
     "a .text function bpfvm lists as a program; libbpf loads it only inside its callers",
     [](const ProgDiff& d) { return not_listed(d) && d.section == ".text"; }},
    {"unreachable-code", "the kernel rejects unreachable instructions; bpfvm accepts them with a warning",
     [](const ProgDiff& d) {
       const std::string* e = kernel_rejection(d);
       return e && e->starts_with("unreachable insn");
     }},
    {"lru-eviction", "which entries an LRU map evicts (the kernel's LRU is approximate, per-CPU lists)",
     nullptr},
    {"privileged-kernel-rules",
     "the kernel lets a privileged loader leak pointers and read uninitialized stack; bpfvm never does",
     // The kernel relaxes these for CAP_PERFMON (allow_ptr_leaks, allow_uninit_stack); bpfvm keeps
     // the unprivileged rules.
     [](const ProgDiff& d) { return user_rejects(d, "PointerLeak") || user_rejects(d, "UninitStack"); }},
    {"global-function-args",
     "the kernel verifies a global function alone, for any arguments its BTF prototype allows (pointers "
     "may be NULL); bpfvm verifies it at each call",
     global_function_args},
    {"tail-call-result", "bpfvm gives r0 a value after a failed bpf_tail_call; the kernel forbids reading it",
     [](const ProgDiff& d) {
       const std::string* e = kernel_rejection(d);
       return e && *e == "R0 !read_ok" && d.calls.count(12);
     }},
};

const char* policy_summary(const std::string& id) {
  for (const Policy& p : kPolicies)
    if (id == p.id) return p.summary;
  return "";
}

// The policy class of a verdict difference; "" when none fits.
std::string classify_verdict(const ProgDiff& d) {
  for (const Policy& p : kPolicies)
    if (p.verdict != nullptr && p.verdict(d)) return p.id;
  return "";
}

// Maps are matched by name: libbpf names global data "<object>.bss", bpfvm ".bss".
std::string map_key(const std::string& name) {
  size_t dot = name.find('.');
  return dot != std::string::npos && dot > 0 ? name.substr(dot) : name;
}

// Differences of every map after the runs; `lru_only` stays true when all of them are in LRU maps.
void compare_maps(Backend& u, Backend& k, std::vector<std::string>* diffs, bool* lru_only) {
  std::map<std::string, size_t> kmaps;
  for (size_t m = 0; m < k.num_maps(); m++)
    kmaps[map_key(k.map(m).name)] = m;
  for (size_t m = 0; m < u.num_maps(); m++) {
    const BackendMap& um = u.map(m);
    if (!map_has_data(um.type) && um.type != MapType::Ringbuf) continue;
    auto it = kmaps.find(map_key(um.name));
    if (it == kmaps.end()) {
      // libbpf truncates long internal names ("<obj>.rodata.str1.1"): match on the prefix too.
      for (auto kit = kmaps.begin(); kit != kmaps.end(); ++kit)
        if (map_key(um.name).starts_with(kit->first) && kit->first.size() > 4) it = kit;
      if (it == kmaps.end()) {
        diffs->push_back(fmt::format("map {}: only in bpfvm", um.name));
        continue;
      }
    }
    const size_t km = it->second;
    const size_t before = diffs->size();
    struct LruCheck {
      const std::vector<std::string>* d;
      size_t before;
      bool lru;
      bool* only;
      ~LruCheck() {
        if (d->size() > before && !lru) *only = false;
      }
    } lru_check{diffs, before, um.type == MapType::LruHash || um.type == MapType::LruPercpuHash, lru_only};
    if (um.type == MapType::Ringbuf) {
      auto ur = u.drain_ringbuf(m);
      auto kr = k.drain_ringbuf(km);
      if (ur && kr && *ur != *kr)
        diffs->push_back(fmt::format("ringbuf {}: {} records in bpfvm, {} in the kernel{}", um.name,
                                     ur->size(), kr->size(),
                                     ur->size() == kr->size() ? " (contents differ)" : ""));
      continue;
    }
    auto ue = u.read_map(m);
    auto ke = k.read_map(km);
    if (!ue || !ke) {
      diffs->push_back(fmt::format("map {}: cannot read: {}", um.name,
                                   !ue ? ue.error().to_string() : ke.error().to_string()));
      continue;
    }
    std::map<std::vector<uint8_t>, const MapEntryData*> kk;
    for (const MapEntryData& e : *ke)
      kk[e.key] = &e;
    size_t shown = 0;
    for (const MapEntryData& e : *ue) {
      auto f = kk.find(e.key);
      if (f == kk.end()) {
        if (shown++ < 4)
          diffs->push_back(fmt::format("map {}: key {} only in bpfvm", um.name, hex_bytes(e.key)));
        continue;
      }
      if (f->second->values != e.values && shown++ < 4)
        diffs->push_back(fmt::format(
            "map {}: key {}: bpfvm {} kernel {}", um.name, hex_bytes(e.key),
            hex_bytes(e.values.empty() ? std::vector<uint8_t>{} : e.values[0]),
            hex_bytes(f->second->values.empty() ? std::vector<uint8_t>{} : f->second->values[0])));
      kk.erase(f);
    }
    for (const auto& [key, e] : kk)
      if (shown++ < 4)
        diffs->push_back(fmt::format("map {}: key {} only in the kernel", um.name, hex_bytes(key)));
  }
}

// Diffs one object; appends a ProgDiff per selected program. Errors: unreadable object (bpfvm side).
Status diff_object(const std::string& path, const Args& a, std::vector<ProgDiff>* out) {
  BackendOptions uo;
  uo.object.seed = a.seed;
  uo.object.trace_out = nullptr;
  uo.object.type_override = a.type;
  uo.object.num_cpus = std::max<uint32_t>(1, kernel_num_possible_cpus());
  auto ub = open_backend(BackendKind::User, path, uo);
  if (!ub) return ub.error();
  Backend& u = **ub;
  BackendOptions ko;
  ko.object.type_override = a.type;
  auto kb = open_backend(BackendKind::Kernel, path, ko);  // kernel_available() was checked before
  LoadOptions lo;
  lo.type_override = a.type;
  auto file = load_object_file(path, lo);  // for the helper calls of each program
  if (!file) return file.error();

  if (Status st = u.load(); !st) return st.error();
  std::string kernel_error;
  Backend* k = kb ? kb->get() : nullptr;
  if (!kb) {
    kernel_error = kb.error().msg;
  } else if (Status st = k->load(); !st) {
    // Per-program verdicts are still there; the object as a whole did not load (a map, BTF).
    kernel_error = st.error().msg;
  }
  const size_t first = out->size();
  for (size_t i = 0; i < u.num_programs(); i++) {
    const BackendProgram& p = u.program(i);
    if (!a.program.empty() && p.name != a.program) continue;
    if (!a.section.empty() && p.section != a.section) continue;
    ProgDiff d;
    d.name = p.name;
    d.section = p.section;
    d.type = p.type;
    d.user.loaded = true;
    d.user.verdict = u.verdict(i);
    if (const std::string why = u.object_error(); !why.empty()) {
      // Verified from the definitions, but bpfvm cannot create a map: the object does not load.
      d.user.verdict.accepted = false;
      d.user.verdict.error = why;
    }
    int fi = file->find_program(p.name);
    if (fi >= 0)
      for (int32_t id : helper_calls(file->programs[fi])) {
        d.calls.insert(id);
        if (auto it = kNondeterministicHelpers.find(id); it != kNondeterministicHelpers.end())
          d.helpers.push_back(it->second);
        if (auto it = kKernelStateHelpers.find(id); it != kKernelStateHelpers.end())
          d.helpers.push_back(it->second);
      }
    int ki = k ? k->find_program(p.name) : -1;
    if (!k || ki < 0) {
      d.kernel.verdict.error = k ? kNotListed : kernel_error;
      d.agreement = "kernel_not_loaded";
    } else {
      d.kernel.loaded = true;
      d.kernel.verdict = k->verdict(static_cast<size_t>(ki));
      const bool ua = d.user.verdict.accepted, ka = d.kernel.verdict.accepted;
      d.agreement = ua && ka ? "both_accept" : !ua && !ka ? "both_reject" : ua ? "only_user" : "only_kernel";
    }
    d.verdict_class = classify_verdict(d);
    out->push_back(std::move(d));
  }
  if (out->size() == first && (!a.program.empty() || !a.section.empty()))
    return Error{
        ErrorCode::kBadInput, kNoPc,
        fmt::format("{}: no program matches{}{}", path, a.program.empty() ? "" : " --program " + a.program,
                    a.section.empty() ? "" : " --section " + a.section)};

  // Runs, in object order, against the same maps on both sides.
  for (size_t n = first; n < out->size(); n++) {
    ProgDiff& d = (*out)[n];
    if (d.agreement != "both_accept") continue;
    TestRunInput in;
    in.repeat = a.repeat;
    if (packet_type(d.type)) {
      in.data_in = a.packet.value_or(kSamplePacket);
    } else if (!a.ctx) {
      d.run_status =
          fmt::format("not_run: {} programs need --mem (context); the kernel cannot test-run some types",
                      prog_type_name(d.type));
      continue;
    }
    if (a.ctx) in.ctx_in = *a.ctx;
    auto ur = u.test_run(static_cast<size_t>(u.find_program(d.name)), in);
    auto kr = k->test_run(static_cast<size_t>(k->find_program(d.name)), in);
    if (!ur)
      d.user.run_error = ur.error().to_string();
    else
      d.user.run = *ur;
    if (!kr)
      d.kernel.run_error = kr.error().to_string();
    else
      d.kernel.run = *kr;
    if (!ur && !kr) {
      d.run_status = "not_run: both failed to run";
      continue;
    }
    if (!ur || !kr) {
      d.run_diffs.push_back(!ur ? "bpfvm failed: " + d.user.run_error
                                : "the kernel failed: " + d.kernel.run_error);
    } else {
      if (static_cast<uint32_t>(ur->retval) != static_cast<uint32_t>(kr->retval))
        d.run_diffs.push_back(fmt::format("r0: bpfvm {:#x} kernel {:#x}", ur->retval, kr->retval));
      if (ur->data_out != kr->data_out)
        d.run_diffs.push_back(fmt::format("packet: bpfvm {} bytes {} kernel {} bytes {}", ur->data_out.size(),
                                          hex_bytes(ur->data_out).substr(0, 64), kr->data_out.size(),
                                          hex_bytes(kr->data_out).substr(0, 64)));
      if (a.ctx && ur->ctx_out != kr->ctx_out)
        d.run_diffs.push_back(
            fmt::format("ctx: bpfvm {} kernel {}", hex_bytes(ur->ctx_out), hex_bytes(kr->ctx_out)));
    }
    d.run_status = d.run_diffs.empty() ? "agree" : "differ";
    // The verifier knows helpers the runtime does not implement yet: such a run ends at the call.
    if (!ur && d.user.run_error.find("is not implemented by bpfvm") != std::string::npos)
      d.run_class = "helper-not-in-bpfvm";
  }
  // Maps after all the runs (one comparison per object, reported on every program that ran).
  bool any_run = false;
  for (size_t n = first; n < out->size(); n++)
    any_run |= (*out)[n].user.run || (*out)[n].kernel.run;
  if (any_run && k) {
    std::vector<std::string> map_diffs;
    bool lru_only = true;
    compare_maps(u, *k, &map_diffs, &lru_only);
    // A run that ended at a helper bpfvm does not implement left the object's maps as they were
    // then: every map difference of the object may come from it.
    bool helper_missing = false;
    for (size_t n = first; n < out->size(); n++)
      helper_missing |= (*out)[n].run_class == "helper-not-in-bpfvm";
    for (size_t n = first; n < out->size(); n++) {
      ProgDiff& d = (*out)[n];
      if (!d.user.run && !d.kernel.run) continue;
      if (d.run_diffs.empty() && !map_diffs.empty() && lru_only) d.run_class = "lru-eviction";
      if (d.run_diffs.empty() && !map_diffs.empty() && helper_missing) d.run_class = "helper-not-in-bpfvm";
      for (const std::string& m : map_diffs)
        d.run_diffs.push_back(m);
      if (!d.run_diffs.empty()) d.run_status = "differ";
    }
  }
  for (size_t n = first; n < out->size(); n++) {
    ProgDiff& d = (*out)[n];
    if (d.run_diffs.empty() || d.helpers.empty() || !d.run_class.empty()) continue;
    bool random = false;
    for (const std::string& h : d.helpers)
      for (const auto& [id, name] : kNondeterministicHelpers)
        random |= h == name;
    d.run_class = random ? "nondeterministic-helper" : "kernel-state-helper";
  }
  return Ok{};
}

json side_json(const Side& s) {
  json j = {{"verdict", s.verdict.accepted ? "accepted" : "rejected"},
            {"error", s.verdict.error},
            {"errno", s.verdict.err_no},
            {"insns_processed", s.verdict.insns_processed},
            {"load_ms", s.verdict.load_seconds * 1000}};
  if (s.run)
    j["run"] = {{"r0", s.run->retval},
                {"packet", hex_bytes(s.run->data_out)},
                {"ctx", hex_bytes(s.run->ctx_out)},
                {"duration_ns", s.run->duration_ns}};
  else if (!s.run_error.empty())
    j["run"] = {{"error", s.run_error}};
  return j;
}

void print_text(const std::string& path, const std::vector<ProgDiff>& diffs, bool verbose) {
  for (const ProgDiff& d : diffs) {
    fmt::print("{} {}/{} ({}): {}{}\n", path, d.section, d.name, prog_type_name(d.type), d.agreement,
               d.verdict_class.empty() ? "" : " [policy: " + d.verdict_class + "]");
    auto verdict = [](const Side& s) {
      if (!s.loaded) return "not loaded: " + s.verdict.error;
      if (s.verdict.accepted)
        return fmt::format("accepted ({} insns processed, {:.2f} ms)", s.verdict.insns_processed,
                           s.verdict.load_seconds * 1000);
      return fmt::format("rejected: {}", s.verdict.error);
    };
    if (d.agreement != "both_accept" || verbose) {
      fmt::print("  bpfvm:  {}\n  kernel: {}\n", verdict(d.user), verdict(d.kernel));
    }
    if (d.user.run && d.kernel.run)
      fmt::print("  r0: bpfvm {:#x} kernel {:#x}; packet {} / {} bytes; time bpfvm {} ns kernel {} ns\n",
                 d.user.run->retval, d.kernel.run->retval, d.user.run->data_out.size(),
                 d.kernel.run->data_out.size(), d.user.run->duration_ns, d.kernel.run->duration_ns);
    if (d.run_status.starts_with("not_run") && verbose) fmt::print("  run: {}\n", d.run_status);
    for (const std::string& r : d.run_diffs)
      fmt::print("  differs: {}{}\n", r, d.run_class.empty() ? "" : " [policy: " + d.run_class + "]");
    if (!d.helpers.empty() && !d.run_diffs.empty()) {
      std::string hs;
      for (const std::string& h : d.helpers)
        hs += (hs.empty() ? "" : ", ") + h;
      fmt::print("  helpers: {}\n", hs);
    }
  }
}

}  // namespace

void add_diff_options(po::options_description& d) {
  // clang-format off
  d.add_options()
      ("program", po::value<std::string>(), "only the program with this function name")
      ("section", po::value<std::string>(), "only the programs in this section")
      ("type", po::value<std::string>(), "program type of every program (libbpf's names)")
      ("packet", po::value<std::string>(), "packet file for XDP and skb programs (default: a 64-byte UDP packet)")
      ("mem", po::value<std::string>(), "context bytes (hex) for the run")
      ("repeat", po::value<uint32_t>()->default_value(1), "BPF_PROG_TEST_RUN repeat count")
      ("seed", po::value<uint64_t>()->default_value(1), "bpfvm's deterministic mode seed")
      ("format", po::value<std::string>()->default_value("text"), "text or json")
      ("verbose,v", "print both verdicts and the run of every program")
      ("policies", "list the documented policy classes (docs/DIFF_POLICY.md) and exit");
  // clang-format on
}

int diff_command(const po::variables_map& vm) {
  const std::string cmd = "bpfvm diff";
  if (vm.count("policies")) {
    for (const Policy& p : kPolicies)
      fmt::print("{}\t{}\n", p.id, p.summary);
    return kExitOk;
  }
  Args a;
  auto type = type_option(vm);
  if (!type) return print_error(cmd, type.error()), kExitUsage;
  a.type = *type;
  if (vm.count("program")) a.program = vm["program"].as<std::string>();
  if (vm.count("section")) a.section = vm["section"].as<std::string>();
  if (vm.count("packet")) {
    auto p = read_file(vm["packet"].as<std::string>(), 1u << 20);
    if (!p) return print_error(cmd, p.error()), kExitUsage;
    a.packet = std::move(*p);
  }
  auto mem = mem_option(vm);  // --mem only: diff has no --mem-file
  if (!mem) return print_error(cmd, mem.error()), kExitUsage;
  a.ctx = std::move(*mem);
  a.repeat = vm["repeat"].as<uint32_t>();
  if (a.repeat == 0) return fmt::print(stderr, "{}: --repeat must be at least 1\n", cmd), kExitUsage;
  a.seed = vm["seed"].as<uint64_t>();
  const std::string format = vm["format"].as<std::string>();
  if (format != "text" && format != "json")
    return fmt::print(stderr, "{}: unknown format '{}' (text or json)\n", cmd, format), kExitUsage;
  a.json = format == "json";
  a.verbose = vm.count("verbose") > 0;
  if (Status st = kernel_available(); !st) return print_error(cmd, st.error()), kExitUsage;

  const auto files = vm["file"].as<std::vector<std::string>>();
  std::map<std::string, size_t> agreement, classes;
  size_t undocumented = 0, unreadable = 0, runs = 0, runs_agree = 0, runs_policy = 0, runs_not = 0;
  json doc = {{"files", json::array()}};
  for (const std::string& path : files) {
    std::vector<ProgDiff> diffs;
    Status st = diff_object(path, a, &diffs);
    if (!st) {
      print_error(fmt::format("{}: {}", cmd, path), st.error());
      unreadable++;
      if (a.json) doc["files"].push_back({{"file", path}, {"error", st.error().to_string()}});
      continue;
    }
    json fj = {{"file", path}, {"programs", json::array()}};
    for (const ProgDiff& d : diffs) {
      agreement[d.agreement]++;
      if (!d.verdict_class.empty())
        classes[d.agreement + " " + d.verdict_class]++;
      else if (d.agreement != "both_accept" && d.agreement != "both_reject")
        classes[d.agreement + " (undocumented)"]++;
      if (d.run_status == "agree" || d.run_status == "differ") {
        runs++;
        if (d.run_diffs.empty())
          runs_agree++;
        else if (!d.run_class.empty())
          runs_policy++;
      } else if (d.agreement == "both_accept") {
        runs_not++;
      }
      if (d.undocumented()) undocumented++;
      if (a.json) {
        json pj = {{"name", d.name},
                   {"section", d.section},
                   {"type", prog_type_name(d.type)},
                   {"agreement", d.agreement},
                   {"verdict_class", d.verdict_class},
                   {"user", side_json(d.user)},
                   {"kernel", side_json(d.kernel)},
                   {"run", d.run_status},
                   {"run_diffs", d.run_diffs},
                   {"run_class", d.run_class},
                   {"helpers", d.helpers},
                   {"undocumented", d.undocumented()}};
        fj["programs"].push_back(pj);
      }
    }
    if (a.json)
      doc["files"].push_back(std::move(fj));
    else
      print_text(path, diffs, a.verbose);
    std::fflush(stdout);
  }
  size_t programs = 0;
  for (const auto& [k, n] : agreement)
    programs += n;
  if (a.json) {
    doc["summary"] = {{"programs", programs},     {"agreement", agreement},
                      {"classes", classes},       {"runs", runs},
                      {"runs_agree", runs_agree}, {"runs_policy", runs_policy},
                      {"runs_not_run", runs_not}, {"undocumented", undocumented},
                      {"unreadable", unreadable}};
    fmt::print("{}\n", doc.dump(2));
  } else if (files.size() > 1 || programs > 1) {
    fmt::print("\nverdicts ({} programs):\n", programs);
    for (const char* k : {"both_accept", "both_reject", "only_user", "only_kernel", "kernel_not_loaded"})
      fmt::print("  {:<18} {}\n", k, agreement[k]);
    for (const auto& [k, n] : classes)
      fmt::print("    {:<48} {}{}\n", k, n,
                 k.find("(undocumented)") == std::string::npos
                     ? std::string("  ") + policy_summary(k.substr(k.find(' ') + 1))
                     : "");
    fmt::print(
        "runs (both accept, test-runnable): {} run, {} agree, {} differ by policy, {} differ; {} not run\n",
        runs, runs_agree, runs_policy, runs - runs_agree - runs_policy, runs_not);
    fmt::print("undocumented disagreements: {}\n", undocumented);
  }
  if (unreadable) return kExitUsage;
  return undocumented ? kExitRejected : kExitOk;
}

}  // namespace bpfvm::cli
