// The kernel as oracle (issue #4 item 6): every verifier case is also loaded into the running Linux
// kernel and the verdicts are compared. Every disagreement is listed, with its reason, in
// tests/verifier/kernel_disagreements.tsv; a new disagreement, or a listed one that no longer
// holds, fails the test with the kernel's verifier log. Rows of the category "not comparable"
// (a case loaded as a program type whose rules differ, e.g. raw programs as kprobe) hold on some
// kernels only: their verdict is the kernel build's choice (seen: kprobe programs' private
// per-frame stacks on one 6.18 build, the 512-byte combined limit on 6.18.44), so such a row that no
// longer holds is reported, not failed. Skipped when bpf(2) does not work.
//
// How a case is loaded:
// - assembly cases: bpf_prog_load with the case's program type (raw programs have no kernel
//   equivalent: they are loaded as kprobe, which has the same helpers and a read-only context),
//   one map created per `-- map` line (bpf_map_create; `readonly` = BPF_F_RDONLY_PROG), map fds
//   patched into the lddw instructions, license GPL;
// - restricted C cases: libbpf opens the object (maps with their BTF, needed e.g. for spin
//   locks) and loads only the case's program.
// BPFVM_UPDATE_DISAGREEMENTS=1 rewrites the table, keeping the reasons of rows that still hold;
// new rows get the category "unreviewed", which fails until a person gives the reason.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>

#include "tests/kernel/kernel_runner.h"
#include "tests/verifier/case_file.h"
#include "vm/decode.h"

namespace bpfvm::verifier::testing {
namespace {

const std::string kTable = BPFVM_SOURCE_DIR "/tests/verifier/kernel_disagreements.tsv";
const std::set<std::string> kCategories = {"stricter policy", "kernel imprecise", "bpfvm imprecise",
                                           "not comparable"};

struct KernelVerdict {
  bool accepted = false;
  std::string log;  // the verifier log (its tail) when rejected
};

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

std::string tail(const std::string& log, size_t max_lines = 25) {
  size_t pos = log.size();
  for (size_t n = 0; pos > 0 && n <= max_lines; ++n) {
    size_t p = log.rfind('\n', pos - 1);
    if (p == std::string::npos) return log;
    if (n < max_lines) pos = p;
  }
  return log.substr(pos);
}

// The kernel's program type for a case.
bpf_prog_type kernel_type(ProgType t) {
  return t == ProgType::Raw ? BPF_PROG_TYPE_KPROBE : static_cast<bpf_prog_type>(static_cast<uint32_t>(t));
}

// with_log: when rejected, load again with a log (slow for programs that exhaust the kernel's
// budget, so only done when the log will be shown).
Result<KernelVerdict> load_asm_case(const LoadedCase& lc, bool with_log) {
  std::vector<Fd> maps;
  for (const MapDef& m : lc.options.maps) {
    LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = m.map_flags | (m.read_only ? BPF_F_RDONLY_PROG : 0u));
    // A map of maps needs a template of its inner maps (inner_map_fd) while it is created.
    const MapDef* in_def = m.inner.empty() ? nullptr : &m.inner.front();
    LIBBPF_OPTS(bpf_map_create_opts, io, .map_flags = in_def ? in_def->map_flags : 0u);
    Fd inner(in_def ? bpf_map_create(static_cast<bpf_map_type>(static_cast<uint32_t>(in_def->type)),
                                     in_def->name.c_str(), in_def->key_size, in_def->value_size,
                                     in_def->max_entries, &io)
                    : -1);
    if (in_def && inner.fd < 0)
      return make_error(ErrorCode::kBadInput, 0,
                        fmt::format("inner map {}: {}", in_def->name, std::strerror(errno)));
    if (in_def) mo.inner_map_fd = inner.fd;
    int fd = bpf_map_create(static_cast<bpf_map_type>(static_cast<uint32_t>(m.type)), m.name.c_str(),
                            m.key_size, m.value_size, m.max_entries, &mo);
    if (fd < 0)
      return make_error(ErrorCode::kBadInput, 0, fmt::format("map {}: {}", m.name, std::strerror(errno)));
    maps.emplace_back(fd);
  }
  std::vector<uint8_t> bytes = encode(lc.program.insns);
  std::vector<bpf_insn> insns(bytes.size() / sizeof(bpf_insn));
  std::memcpy(insns.data(), bytes.data(), insns.size() * sizeof(bpf_insn));
  for (const Insn& in : lc.program.insns) {
    if (in.info().form != Form::Lddw) continue;
    bpf_insn& raw = insns[in.pc];
    uint8_t src = raw.src_reg;
    if (src != BPF_PSEUDO_MAP_FD && src != BPF_PSEUDO_MAP_VALUE && src != BPF_PSEUDO_MAP_IDX &&
        src != BPF_PSEUDO_MAP_IDX_VALUE)
      continue;
    // The map index is the instruction's imm (what the verifier reads; assemble_case sets it, the
    // encoded bytes may still hold the assembler's placeholder).
    if (in.imm < 0 || static_cast<size_t>(in.imm) >= maps.size()) continue;  // the kernel judges it
    raw.src_reg =
        (src == BPF_PSEUDO_MAP_FD || src == BPF_PSEUDO_MAP_IDX) ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE;
    raw.imm = maps[in.imm].fd;
  }
  const bpf_prog_type type = kernel_type(lc.options.type);
  // The attach point a section name implies (libbpf's table): sock_addr and sockopt programs
  // cannot be loaded without one.
  bpf_prog_type sec_type{};
  bpf_attach_type attach{};
  if (lc.options.section.empty() ||
      libbpf_prog_type_by_name(lc.options.section.c_str(), &sec_type, &attach) != 0)
    attach = bpf_attach_type{};
  LIBBPF_OPTS(bpf_prog_load_opts, po, .expected_attach_type = attach);
  KernelVerdict v;
  // Without a log first: a log buffer that fills up fails even an accepted load (ENOSPC).
  int fd = bpf_prog_load(type, "vcase", "GPL", insns.data(), insns.size(), &po);
  if (fd >= 0) {
    close(fd);
    v.accepted = true;
    return v;
  }
  if (!with_log) return v;
  std::string log(4 << 20, '\0');
  LIBBPF_OPTS(bpf_prog_load_opts, lo, .expected_attach_type = attach);
  lo.log_level = 1;
  lo.log_size = static_cast<uint32_t>(log.size());
  lo.log_buf = log.data();
  fd = bpf_prog_load(type, "vcase", "GPL", insns.data(), insns.size(), &lo);
  if (fd >= 0) {  // cannot happen for a deterministic verifier; report it rather than guess
    close(fd);
    v.accepted = true;
    return v;
  }
  log.resize(std::strlen(log.c_str()));
  v.log = tail(log);
  if (v.log.empty()) v.log = fmt::format("bpf(BPF_PROG_LOAD): {}", std::strerror(errno));
  return v;
}

std::mutex g_mu;
std::string* g_libbpf_log = nullptr;

int collect(enum libbpf_print_level, const char* fmt_str, va_list args) {
  char buf[4096];
  vsnprintf(buf, sizeof(buf), fmt_str, args);
  if (g_libbpf_log) *g_libbpf_log += buf;
  return 0;
}

Result<KernelVerdict> load_c_case(const Case& c) {
  std::lock_guard<std::mutex> lock(g_mu);
  std::string log;
  g_libbpf_log = &log;
  libbpf_print_fn_t old = libbpf_set_print(collect);
  std::unique_ptr<bpf_object, void (*)(bpf_object*)> obj(bpf_object__open_file(c.object.c_str(), nullptr),
                                                         bpf_object__close);
  KernelVerdict v;
  bool found = false;
  if (obj) {
    bpf_program* p;
    bpf_object__for_each_program(p, obj.get()) {
      bool mine = c.name == bpf_program__name(p);
      found |= mine;
      bpf_program__set_autoload(p, mine);
    }
    if (found) v.accepted = bpf_object__load(obj.get()) == 0;
  }
  libbpf_set_print(old);
  g_libbpf_log = nullptr;
  if (!obj) return make_error(ErrorCode::kBadInput, 0, "libbpf cannot open " + c.object);
  if (!found) return make_error(ErrorCode::kBadInput, 0, "no program " + c.name + " in " + c.object);
  if (!v.accepted) v.log = tail(log);
  return v;
}

struct Row {
  std::string ours, kernel, category, note;
};

// "6.18" of "6.18.0-1-amd64": verdicts change between kernel versions, not between builds.
std::string kernel_release() {
  utsname u{};
  if (uname(&u) != 0) return "unknown";
  std::string r = u.release;
  size_t dot = r.find('.');
  size_t end = dot == std::string::npos ? r.size() : r.find_first_not_of("0123456789", dot + 1);
  return r.substr(0, end);
}

// The table's first line is "# kernel <release>": the kernel it was made with.
std::map<std::string, Row> read_table(std::string* error, std::string* made_with) {
  std::map<std::string, Row> out;
  std::ifstream in(kTable);
  if (!in) {
    *error = "missing " + kTable + " (run with BPFVM_UPDATE_DISAGREEMENTS=1)";
    return out;
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("# kernel ", 0) == 0) *made_with = line.substr(9);
    if (line.empty() || line[0] == '#' || line.rfind("case\t", 0) == 0) continue;
    std::istringstream ls(line);
    std::string id;
    Row r;
    std::getline(ls, id, '\t');
    std::getline(ls, r.ours, '\t');
    std::getline(ls, r.kernel, '\t');
    std::getline(ls, r.category, '\t');
    std::getline(ls, r.note);
    if (id.empty() || r.ours.empty() || r.kernel.empty()) {
      *error = fmt::format("{}:{}: expected case, bpfvm, kernel, category, note", kTable, n);
      return out;
    }
    out[id] = r;
  }
  return out;
}

TEST(VerifierKernelOracle, EveryDisagreementWithTheKernelIsListedWithItsReason) {
  std::string why;
  if (!kernel::kernel_bpf_available(&why))
    GTEST_SKIP() << "the kernel oracle needs a working bpf(2): " << why;
  std::string err, made_with;
  std::map<std::string, Row> table = read_table(&err, &made_with);
  ASSERT_TRUE(err.empty()) << err;
  const bool update = std::getenv("BPFVM_UPDATE_DISAGREEMENTS") != nullptr;
  if (!update && made_with != kernel_release())
    GTEST_SKIP() << kTable << " lists the disagreements with Linux " << made_with << "; this is Linux "
                 << kernel_release()
                 << " (regenerate with BPFVM_UPDATE_DISAGREEMENTS=1 and review the reasons)";

  std::map<std::string, Row> now;
  std::map<std::string, std::string> logs;
  size_t compared = 0;
  for (const Case& c : all_cases()) {
    ASSERT_NE(c.name, "PARSE_ERROR") << c.expect_kind;
    const std::string id = case_id(c);
    auto lc = load_case(c);
    ASSERT_TRUE(lc.ok()) << id << ": " << lc.error().to_string();
    auto ours = verify(lc->program, lc->options);
    ASSERT_TRUE(ours.ok()) << id << ": " << ours.error().to_string();
    auto k = is_c_case(c) ? load_c_case(c) : load_asm_case(*lc, false);
    ASSERT_TRUE(k.ok()) << id << ": " << k.error().to_string();
    ++compared;
    if (ours->accepted == k->accepted) continue;
    Row r;
    r.ours = ours->accepted ? "accept" : "reject";
    r.kernel = k->accepted ? "accept" : "reject";
    if (!ours->accepted) r.note = error_kind_name(ours->errors.front().kind);
    now[id] = r;
    auto it = table.find(id);
    bool listed = it != table.end() && it->second.ours == r.ours && it->second.kernel == r.kernel &&
                  kCategories.count(it->second.category);
    if (!listed && !k->accepted) k = is_c_case(c) ? k : load_asm_case(*lc, true);
    logs[id] = k.ok() ? k->log : k.error().to_string();
  }
  EXPECT_GE(compared, 250u);

  if (update) {
    std::ofstream out(kTable);
    out << "# kernel " << kernel_release() << "\n";
    out << "case\tbpfvm\tkernel\tcategory\tnote\n";
    for (auto& [id, r] : now) {
      auto it = table.find(id);
      bool same = it != table.end() && it->second.ours == r.ours && it->second.kernel == r.kernel;
      out << id << "\t" << r.ours << "\t" << r.kernel << "\t" << (same ? it->second.category : "unreviewed")
          << "\t" << (same ? it->second.note : r.note) << "\n";
    }
    out.close();
    table = read_table(&err, &made_with);
  }

  for (const auto& [id, r] : now) {
    auto it = table.find(id);
    if (it == table.end() || it->second.ours != r.ours || it->second.kernel != r.kernel) {
      ADD_FAILURE() << "new disagreement with the kernel: " << id << ": bpfvm " << r.ours << "s (" << r.note
                    << "), the kernel " << r.kernel << "s; list it in " << kTable
                    << " with its reason, or fix it. Kernel log:\n"
                    << logs[id];
    } else if (!kCategories.count(it->second.category)) {
      ADD_FAILURE() << id << ": category '" << it->second.category << "' in " << kTable
                    << " is not one of: stricter policy, kernel imprecise, bpfvm imprecise, not comparable."
                    << " Kernel log:\n"
                    << logs[id];
    }
  }
  for (const auto& [id, r] : table) {
    if (now.count(id)) continue;
    if (r.category == "not comparable")
      std::cout << "listed disagreement does not hold on this kernel (not comparable, kept): " << id << "\n";
    else
      ADD_FAILURE() << "listed disagreement no longer holds: " << id << " (bpfvm " << r.ours << ", kernel "
                    << r.kernel << ": " << r.category << "); remove its row from " << kTable;
  }
  std::cout << "kernel oracle: " << compared << " cases compared, " << now.size() << " disagreements\n";
}

}  // namespace
}  // namespace bpfvm::verifier::testing
