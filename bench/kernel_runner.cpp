#include "bench/kernel_runner.h"

#include "vm/runtime/backend.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

namespace bpfvm::bench {

namespace {

Error sys_error(std::string what, int err) {
  return Error{ErrorCode::kIo, kNoPc, fmt::format("{}: {}", what, std::strerror(err < 0 ? -err : err))};
}

}  // namespace

Status kernel_available() {
  if (Status st = bpfvm::kernel_available(); !st)
    return Error{ErrorCode::kUnsupported, kNoPc,
                 fmt::format("{}: the kernel column is skipped", st.error().msg)};
  return Ok{};
}

Result<std::unique_ptr<KernelRunner>> KernelRunner::open(const std::string& object_path,
                                                         const std::string& function,
                                                         const std::vector<MapFill>& fills) {
  std::unique_ptr<KernelRunner> r(new KernelRunner());
  // The verifier's log of a failed load (libbpf asks for it when the load fails); its end says why.
  r->log_.assign(256 * 1024, '\0');
  LIBBPF_OPTS(bpf_object_open_opts, oo, .kernel_log_buf = r->log_.data(), .kernel_log_size = r->log_.size());
  r->obj_ = bpf_object__open_file(object_path.c_str(), &oo);
  if (!r->obj_) {
    int err = errno;
    r->obj_ = nullptr;
    return sys_error(fmt::format("libbpf cannot open {}", object_path), err);
  }
  struct bpf_program* prog = bpf_object__find_program_by_name(r->obj_, function.c_str());
  if (!prog)
    return Error{ErrorCode::kBadInput, kNoPc, fmt::format("{}: no program {}", object_path, function)};
  // Only the benchmarked program: the object holds one, but be explicit.
  struct bpf_program* p = nullptr;
  bpf_object__for_each_program(p, r->obj_) bpf_program__set_autoload(p, p == prog);
  if (int err = bpf_object__load(r->obj_); err != 0) {
    std::string log(r->log_.c_str());
    if (log.size() > 1500) log = "..." + log.substr(log.size() - 1500);
    return Error{ErrorCode::kVerifier, kNoPc,
                 fmt::format("the kernel refuses {} ({}): {}", object_path, std::strerror(-err), log)};
  }
  r->prog_fd_ = bpf_program__fd(prog);
  for (const MapFill& f : fills) {
    struct bpf_map* m = bpf_object__find_map_by_name(r->obj_, f.map);
    if (!m) return Error{ErrorCode::kBadInput, kNoPc, fmt::format("{}: no map {}", object_path, f.map)};
    for (const MapEntry& e : f.entries)
      if (int err =
              bpf_map__update_elem(m, e.key.data(), e.key.size(), e.value.data(), e.value.size(), BPF_ANY);
          err != 0)
        return sys_error(fmt::format("{}: updating map {}", object_path, f.map), err);
  }
  struct bpf_prog_info info;
  std::memset(&info, 0, sizeof info);
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(r->prog_fd_, &info, &len) == 0) r->xlated_insns_ = info.xlated_prog_len / 8;
  return r;
}

KernelRunner::~KernelRunner() {
  if (obj_) bpf_object__close(obj_);
}

Result<Timing> KernelRunner::run(const std::vector<uint8_t>& packet, uint32_t repeat) {
  if (repeat > static_cast<uint32_t>(INT32_MAX))
    return Error{ErrorCode::kBadInput, kNoPc, "BPF_PROG_TEST_RUN: repeat above INT_MAX"};
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet.data(),
              .data_size_in = static_cast<uint32_t>(packet.size()), .repeat = static_cast<int>(repeat));
  if (int err = bpf_prog_test_run_opts(prog_fd_, &opts); err != 0)
    return sys_error("BPF_PROG_TEST_RUN", err == -1 ? errno : err);
  // opts.duration: the kernel's ns per run (its clock around the batch, divided by repeat).
  return Timing{opts.retval, static_cast<double>(opts.duration)};
}

}  // namespace bpfvm::bench
