// The corpus spec format (tests/corpus/README.md): one JSON file per object describing runs
// and their expected outcome. Parsing turns a run into a RunRequest (what to run) and a
// RunExpect (what must come out); check_run compares a RunResult - from the kernel or from
// bpfvm - against the expectations.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "tests/kernel/kernel_runner.h"
#include "vm/result.h"

namespace bpfvm::kernel {

struct ExpectEntry {
  Bytes key;
  Bytes value;  // per-CPU maps: the value on the run's CPU
};

struct MapExpect {
  std::string map;
  std::optional<std::vector<ExpectEntry>> entries;  // the map holds exactly these
  std::vector<ExpectEntry> contains;                // the map holds at least these
  std::vector<Bytes> absent;                        // keys that must not be present
  std::optional<size_t> count;
  std::optional<size_t> max_count;
  bool other_cpus_any = false;  // per-CPU: do not require zeros on the other CPUs
};

struct RingbufExpect {
  std::string map;
  std::vector<Bytes> records;
};

struct CtxPatch {
  uint32_t offset = 0;
  Bytes bytes;
};

struct RunExpect {
  std::optional<uint32_t> retval;
  std::optional<Bytes> data_out;
  std::vector<CtxPatch> ctx_out;  // byte ranges of the context that must match
  std::vector<MapExpect> maps;
  std::vector<RingbufExpect> ringbufs;
};

struct RunSpec {
  std::string name;
  std::string prog_type;  // "xdp", "sched_cls", "socket_filter", "raw_tracepoint"
  RunRequest request;     // object_path filled in from the spec's object and the object folder
  RunExpect expect;
};

struct ObjectSpec {
  std::string spec_path;
  std::string object;  // basename: tests/corpus/<object>.c -> <object_dir>/<object>.o
  std::vector<RunSpec> runs;
};

// Reads and validates one spec file. Errors name the file and the run.
Result<ObjectSpec> load_spec(const std::string& json_path, const std::string& object_dir);

// Every *.json in a folder, sorted by name.
std::vector<std::string> list_specs(const std::string& dir);

// Hex text to bytes; whitespace and '|' are ignored so specs can show header boundaries.
Result<Bytes> parse_hex(const std::string& text);

// enum bpf_prog_type for a spec's prog_type, or nullopt if unknown.
std::optional<uint32_t> prog_type_number(const std::string& name);

// A list of runs with a reason each (expected_failures.txt, expected_differences.txt): lines
// "<object>__<run>" or "<object>", white space, the reason; '#' starts a comment line. Empty when
// the file is missing.
std::map<std::string, std::string> load_reason_list(const std::string& path);
// The reason listed for run `label` (<object>__<run>) or for its whole object; nullptr if none.
const std::string* find_reason(const std::map<std::string, std::string>& list, const std::string& label);
// A run label usable as a GoogleTest name: every character but letters and digits becomes '_'.
std::string sanitize_label(std::string s);

// Every difference between the expectations and a result, one message each (empty: all match).
std::vector<std::string> check_run(const RunSpec& spec, const RunResult& result);

// One run of one corpus spec: the parameter of the suites that run the whole corpus (the kernel
// oracle, the user-space runtime, the backends, the JIT).
struct CorpusRun {
  std::string spec_path;
  size_t run_index = 0;
  std::string label;  // <object>__<run>, gtest-safe (sanitize_label)
};
void PrintTo(const CorpusRun& r, std::ostream* os);
// Every run of every spec in BPFVM_CORPUS_SRC_DIR, in spec and run order. Specs that do not parse
// are left out: CorpusSpecs.AllSpecsParse and the suites' own list tests report them.
std::vector<CorpusRun> corpus_runs();
// The test name of a CorpusRun parameter (the name generator of INSTANTIATE_TEST_SUITE_P).
struct CorpusRunName {
  template <class ParamInfo>
  std::string operator()(const ParamInfo& info) const {
    return info.param.label;
  }
};

}  // namespace bpfvm::kernel
