#!/usr/bin/env bash
# Runs the performance corpus (bench/programs) on every backend and prints the markdown table of the
# README's Benchmarks section: ns per run on bpfvm's engines, the kernel's JIT (BPF_PROG_TEST_RUN,
# when bpf(2) works: root or CAP_BPF) and native code, the ratios and their geometric mean over the
# compute programs, and the per-run overhead (the no-op) apart.
# Usage: scripts/bench.sh [BUILD_DIR] [Google Benchmark options, e.g. --benchmark_filter=fnv1a]
# A release build (RelWithDebInfo, the default) is configured in BUILD_DIR (default: build) if needed.
# This is a measurement, not a test: numbers vary with the machine and its load.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
  dir=$1
  shift
fi
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
fi
if grep -q '^BPFVM_SANITIZE:BOOL=ON' "$dir/CMakeCache.txt"; then
  echo "bench.sh: $dir is a sanitizer build; benchmark a release build" >&2
  exit 2
fi
cmake --build "$dir" --target bpfvm_perf_bench > /dev/null
echo "== $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%d)"
# Three repetitions, interleaved in time; the table keeps the fastest of each (other processes only
# ever add time).
"$dir/bin/bpfvm_perf_bench" --table --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true "$@"
