// libFuzzer entry point; BPFVM_FUZZ_TARGET names the function of targets.h this binary drives.
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bpfvm::fuzz::BPFVM_FUZZ_TARGET(data, size);
  return 0;
}
