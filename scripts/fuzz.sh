#!/usr/bin/env bash
# Open-ended fuzz campaigns with libFuzzer (clang, ASan + UBSan), separate from the test suite.
# Usage: scripts/fuzz.sh [TARGET] [SECONDS]
#   TARGET: decode_and_run (default), assemble_text, parse_data, or all
#   SECONDS: time per target (default 600)
# Crashes are saved as reproducer files under fuzz-findings/<target>/; add them to the regression
# inputs of tests/fuzz so the test suite replays them.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-decode_and_run}
seconds=${2:-600}
targets=(decode_and_run assemble_text parse_data)
if [ "$target" != all ]; then
  case " ${targets[*]} " in
    *" $target "*) targets=("$target") ;;
    *) echo "usage: scripts/fuzz.sh [decode_and_run|assemble_text|parse_data|all] [SECONDS]" >&2; exit 2 ;;
  esac
fi
case "$seconds" in
  ''|*[!0-9]*) echo "scripts/fuzz.sh: SECONDS must be a whole number" >&2; exit 2 ;;
esac

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DBPFVM_SANITIZE=ON -DBPFVM_LIBFUZZER=ON -DBPFVM_BUILD_BENCH=OFF > build-fuzz.configure.log
for t in "${targets[@]}"; do
  cmake --build build-fuzz --target "fuzz_$t"
  mkdir -p "fuzz-findings/$t" "build-fuzz/corpus/$t"
  echo "== fuzzing $t for ${seconds}s (findings in fuzz-findings/$t)"
  "build-fuzz/bin/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="fuzz-findings/$t/" "build-fuzz/corpus/$t"
done
