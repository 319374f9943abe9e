// The ELF/maps/helpers corpus (tests/corpus/*.json) through the backend interface
// (vm/runtime/backend.h): every run goes through the user backend and, when bpf(2) is usable, the
// kernel backend; both must satisfy the spec (kernel::check_run) and give the same r0, output packet,
// context and map contents (except where the spec itself allows values to vary: random and time
// helpers).
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tests/kernel/corpus_spec.h"
#include "vm/runtime/backend.h"

namespace bpfvm {
namespace {

using kernel::Bytes;

// Applies one maps_before entry: global data before load (set_initial_value), the rest after.
Status apply_init(Backend& b, size_t m, const kernel::MapInit& init, uint32_t cpu) {
  const BackendMap& d = b.map(m);
  std::vector<uint8_t> buf;
  if (d.per_cpu) {
    const uint32_t stride = (d.value_size + 7) / 8 * 8;
    buf.assign(static_cast<size_t>(stride) * b.num_cpus(), 0);
    if (init.values.size() == 1) {
      std::memcpy(buf.data() + stride * cpu, init.values[0].data(),
                  std::min<size_t>(d.value_size, init.values[0].size()));
    } else {
      for (size_t c = 0; c < init.values.size() && c < b.num_cpus(); c++)
        std::memcpy(buf.data() + stride * c, init.values[c].data(),
                    std::min<size_t>(d.value_size, init.values[c].size()));
    }
  } else {
    if (init.values.size() != 1) return Error{ErrorCode::kBadInput, kNoPc, "one value expected"};
    buf = init.values[0];
  }
  return b.map_update(m, init.key, buf, 0);
}

// One corpus run through a backend, reported as the kernel oracle's RunResult so check_run judges it.
Result<kernel::RunResult> backend_run(BackendKind kind, const kernel::RunRequest& req, uint32_t num_cpus) {
  BackendOptions bo;
  bo.object.seed = 1;
  bo.object.trace_out = nullptr;
  bo.object.num_cpus = num_cpus;
  auto ob = open_backend(kind, req.object_path, bo);
  if (!ob) return ob.error();
  Backend& b = **ob;
  std::vector<const kernel::MapInit*> after;
  for (const kernel::MapInit& init : req.maps_before) {
    int m = b.find_map(init.map);
    if (m < 0) return Error{ErrorCode::kBadInput, kNoPc, "no map " + init.map};
    // .rodata is frozen at load in the kernel: its value goes in before.
    if (init.map.find(".rodata") != std::string::npos && init.values.size() == 1) {
      BPFVM_TRY(b.set_initial_value(static_cast<size_t>(m), init.values[0]));
    } else {
      after.push_back(&init);
    }
  }
  BPFVM_TRY(b.load());
  for (const kernel::MapInit* init : after)
    BPFVM_TRY(
        apply_init(b, static_cast<size_t>(b.find_map(init->map)), *init, static_cast<uint32_t>(req.cpu)));
  int p = b.find_program(req.program);
  if (p < 0) return Error{ErrorCode::kBadInput, kNoPc, "no program " + req.program};
  if (!b.verdict(p).accepted) return Error{ErrorCode::kVerifier, kNoPc, "rejected: " + b.verdict(p).error};
  TestRunInput in;
  in.data_in = req.data_in;
  in.ctx_in = req.ctx_in;
  in.repeat = req.repeat;
  in.cpu = static_cast<uint32_t>(req.cpu);
  auto out = b.test_run(static_cast<size_t>(p), in);
  if (!out) return out.error();
  kernel::RunResult r;
  r.retval = static_cast<uint32_t>(out->retval);
  r.prog_type = static_cast<uint32_t>(b.program(p).type);
  r.cpu = req.cpu;
  r.num_cpus = static_cast<int>(b.num_cpus());
  r.data_out = out->data_out;
  r.ctx_out = out->ctx_out;
  if (r.ctx_out.size() > req.ctx_in.size()) r.ctx_out.resize(req.ctx_in.size());
  for (size_t m = 0; m < b.num_maps(); m++) {
    const BackendMap& d = b.map(m);
    if (d.type == MapType::Ringbuf) {
      auto recs = b.drain_ringbuf(m);
      if (!recs) return recs.error();
      r.ringbufs.emplace_back(d.name, std::move(*recs));
      continue;
    }
    if (!map_has_data(d.type)) continue;
    auto entries = b.read_map(m);
    if (!entries) return entries.error();
    kernel::MapContents mc;
    mc.name = d.name;
    mc.type = static_cast<uint32_t>(d.type);
    mc.key_size = d.key_size;
    mc.value_size = d.value_size;
    mc.max_entries = d.max_entries;
    mc.per_cpu = d.per_cpu;
    for (MapEntryData& e : *entries)
      mc.entries.push_back(kernel::MapEntry{std::move(e.key), std::move(e.values)});
    r.maps.push_back(std::move(mc));
  }
  return r;
}

// Objects whose spec allows run-to-run variation (random numbers, clocks): only the spec is checked.
bool nondeterministic(const std::string& object) {
  return object == "helpers_nondet";
}

// expected_differences.txt: runs the user backend cannot run (bpfvm's verifier rejects what the
// kernel accepts), each with the reason.
std::map<std::string, std::string> expected_differences() {
  return kernel::load_reason_list(std::string(BPFVM_SOURCE_DIR) + "/tests/backend/expected_differences.txt");
}

const std::string* expected_difference(const std::string& label) {
  static const auto list = expected_differences();
  return kernel::find_reason(list, label);
}

class BackendCorpus : public ::testing::TestWithParam<kernel::CorpusRun> {};

TEST_P(BackendCorpus, BothBackendsMatchTheSpecAndEachOther) {
  const kernel::CorpusRun& p = GetParam();
  auto spec = kernel::load_spec(p.spec_path, BPFVM_CORPUS_OBJ_DIR);
  ASSERT_TRUE(spec.ok()) << spec.error().msg;
  const kernel::RunSpec& run = spec->runs.at(p.run_index);
  const Status kernel_ok = kernel_available();
  // The same number of per-CPU values on both sides: the kernel's possible CPUs.
  const uint32_t ncpus = kernel_ok ? kernel_num_possible_cpus() : 4;

  auto user = backend_run(BackendKind::User, run.request, ncpus);
  if (const std::string* why = expected_difference(p.label)) {
    EXPECT_FALSE(user.ok()) << p.label << " is listed in tests/backend/expected_differences.txt (" << *why
                            << ") but the user backend now runs it: remove it from the list";
    if (user.ok()) return;
    EXPECT_EQ(user.error().code, ErrorCode::kVerifier) << user.error().to_string();
    if (!kernel_ok) GTEST_SKIP() << "kernel backend not checked: " << kernel_ok.error().msg;
    auto kern = backend_run(BackendKind::Kernel, run.request, ncpus);
    ASSERT_TRUE(kern.ok()) << "kernel backend: " << kern.error().to_string();
    for (const std::string& d : kernel::check_run(run, *kern))
      ADD_FAILURE() << "kernel backend: " << d;
    return;
  }
  ASSERT_TRUE(user.ok()) << "user backend: " << user.error().to_string();
  for (const std::string& d : kernel::check_run(run, *user))
    ADD_FAILURE() << "user backend: " << d;

  if (!kernel_ok) GTEST_SKIP() << "kernel backend not checked: " << kernel_ok.error().msg;
  auto kern = backend_run(BackendKind::Kernel, run.request, ncpus);
  ASSERT_TRUE(kern.ok()) << "kernel backend: " << kern.error().to_string();
  for (const std::string& d : kernel::check_run(run, *kern))
    ADD_FAILURE() << "kernel backend: " << d;

  if (nondeterministic(spec->object)) return;
  EXPECT_EQ(user->retval, kern->retval);
  EXPECT_EQ(kernel::to_hex(user->data_out), kernel::to_hex(kern->data_out));
  EXPECT_EQ(kernel::to_hex(user->ctx_out), kernel::to_hex(kern->ctx_out));
  for (const kernel::MapContents& um : user->maps) {
    const kernel::MapContents* km = kern->find_map(um.name);  // ".bss" matches libbpf's "<obj>.bss"
    ASSERT_NE(km, nullptr) << "map " << um.name << " missing in the kernel backend";
    ASSERT_EQ(um.entries.size(), km->entries.size()) << "map " << um.name;
    for (size_t i = 0; i < um.entries.size(); i++) {
      EXPECT_EQ(kernel::to_hex(um.entries[i].key), kernel::to_hex(km->entries[i].key)) << "map " << um.name;
      EXPECT_EQ(um.entries[i].values, km->entries[i].values)
          << "map " << um.name << " key " << kernel::to_hex(um.entries[i].key);
    }
  }
  ASSERT_EQ(user->ringbufs.size(), kern->ringbufs.size());
  for (size_t i = 0; i < user->ringbufs.size(); i++)
    EXPECT_EQ(user->ringbufs[i].second, kern->ringbufs[i].second)
        << "ring buffer " << user->ringbufs[i].first;
}

INSTANTIATE_TEST_SUITE_P(Corpus,
                         BackendCorpus,
                         ::testing::ValuesIn(kernel::corpus_runs()),
                         kernel::CorpusRunName());

TEST(BackendCorpusList, TheCorpusHasItsSpecsAndTheListNamesRealRuns) {
  const auto runs = kernel::corpus_runs();
  EXPECT_GE(runs.size(), 28u) << "corpus specs missing in " << BPFVM_CORPUS_SRC_DIR;
  for (const auto& [key, reason] : expected_differences()) {
    const bool known = std::any_of(runs.begin(), runs.end(), [&](const kernel::CorpusRun& r) {
      return r.label == key || r.label.starts_with(key + "__");
    });
    EXPECT_TRUE(known) << "expected_differences.txt: unknown run or object " << key;
    EXPECT_NE(reason.find_first_not_of(" \t"), std::string::npos) << key << " has no reason";
  }
}

}  // namespace
}  // namespace bpfvm
