#!/usr/bin/env bash
# Open-ended fuzz campaigns with libFuzzer (clang, ASan + UBSan), separate from the test suite.
# Usage: scripts/fuzz.sh [TARGET] [SECONDS]
#   TARGET: decode_and_run (default), assemble_text, parse_data, jit_vs_interp (the checked JIT against
#           the checked interpreter), or all
#   SECONDS: time per target (default 600)
# Crashes are saved as reproducer files under fuzz-findings/<target>/; add them to the regression
# inputs of tests/fuzz so the test suite replays them.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-decode_and_run}
seconds=${2:-600}
targets=(decode_and_run assemble_text parse_data jit_vs_interp)
if [ "$target" != all ]; then
  case " ${targets[*]} " in
    *" $target "*) targets=("$target") ;;
    *) echo "usage: scripts/fuzz.sh [decode_and_run|assemble_text|parse_data|jit_vs_interp|all] [SECONDS]" >&2; exit 2 ;;
  esac
fi
case "$seconds" in
  ''|*[!0-9]*) echo "scripts/fuzz.sh: SECONDS must be a whole number" >&2; exit 2 ;;
esac

# Everything is compiled with libFuzzer's coverage instrumentation (fuzzer-no-link); the fuzz
# binaries link libFuzzer itself (tests/CMakeLists.txt, BPFVM_LIBFUZZER).
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache \
  -DBPFVM_SANITIZE=ON -DBPFVM_LIBFUZZER=ON -DBPFVM_BUILD_BENCH=OFF > build-fuzz.configure.log
for t in "${targets[@]}"; do
  cmake --build build-fuzz --target "fuzz_$t"
  mkdir -p "fuzz-findings/$t" "build-fuzz/corpus/$t"
  echo "== fuzzing $t for ${seconds}s (findings in fuzz-findings/$t)"
  "build-fuzz/bin/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="fuzz-findings/$t/" "build-fuzz/corpus/$t"
done
