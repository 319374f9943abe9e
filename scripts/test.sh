#!/usr/bin/env bash
# Builds bpfvm twice (release, and AddressSanitizer + UndefinedBehaviorSanitizer) and runs the whole
# test suite on both. Usage: scripts/test.sh [--no-sanitizers]
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
sanitizers=1
for a in "$@"; do
  case "$a" in
    --no-sanitizers) sanitizers=0 ;;
    *) echo "usage: scripts/test.sh [--no-sanitizers]" >&2; exit 2 ;;
  esac
done

run_suite() {
  local dir=$1; shift
  echo "== configure $dir ($*)"
  cmake -S . -B "$dir" -G Ninja "$@" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
  echo "== build $dir"
  cmake --build "$dir" -j "$jobs"
  echo "== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 900
}

mkdir -p build
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "$sanitizers" = 1 ]; then
  # The sanitizer build skips the benchmarks (they measure nothing useful under ASan). It is
  # optimized a little (-O1, as the sanitizers' docs advise): -O0 made the fuzz and loop tests
  # 50-100x slower than the release build, -O1 keeps the checks and the line numbers.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DBPFVM_SANITIZE=ON -DBPFVM_BUILD_BENCH=OFF \
    "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" "-DCMAKE_C_FLAGS_DEBUG=-g -O1"
fi
echo "== all tests passed"
