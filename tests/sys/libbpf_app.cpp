// A small libbpf application, unmodified: opens and loads a BPF object, test-runs one program on a
// packet and prints the result and one map's first value. The preload test runs it under
// LD_PRELOAD=libbpfvm-preload.so as an ordinary user.
//   bpfvm_sys_libbpf_app OBJECT PROGRAM PACKET REPEAT MAP
// Output: "retval N" "duration_set B" "data_out N" "map MAP key0: <hex>", one per line.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s OBJECT PROGRAM PACKET REPEAT MAP\n", argv[0]);
    return 2;
  }
  std::ifstream f(argv[3], std::ios::binary);
  std::vector<unsigned char> pkt((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  bpf_object* obj = bpf_object__open_file(argv[1], nullptr);
  if (obj == nullptr) {
    std::perror("bpf_object__open_file");
    return 1;
  }
  if (int err = bpf_object__load(obj)) {
    std::fprintf(stderr, "bpf_object__load: %d\n", err);
    return 1;
  }
  bpf_program* prog = bpf_object__find_program_by_name(obj, argv[2]);
  bpf_map* map = bpf_object__find_map_by_name(obj, argv[5]);
  if (prog == nullptr || map == nullptr) {
    std::fprintf(stderr, "program or map not found\n");
    return 1;
  }
  std::vector<unsigned char> out(pkt.size() + 512);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(), .data_out = out.data(),
              .data_size_in = static_cast<__u32>(pkt.size()), .data_size_out = static_cast<__u32>(out.size()),
              .repeat = std::atoi(argv[4]));
  if (int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts)) {
    std::fprintf(stderr, "bpf_prog_test_run_opts: %d\n", err);
    return 1;
  }
  std::printf("retval %u\nduration_set %d\ndata_out %u\n", opts.retval, opts.duration > 0,
              opts.data_size_out);
  std::vector<unsigned char> value(bpf_map__value_size(map));
  unsigned key = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(map), &key, value.data()) != 0) {
    std::perror("bpf_map_lookup_elem");
    return 1;
  }
  std::printf("map %s key0:", argv[5]);
  for (unsigned char b : value)
    std::printf(" %02x", b);
  std::printf("\n");
  bpf_object__close(obj);
  return 0;
}
