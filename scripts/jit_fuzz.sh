#!/usr/bin/env bash
# Open-ended differential campaign of the JIT against the interpreter: generated valid programs
# (tests/fuzz/diff_gen.h) run on the checked interpreter and on the JIT (unchecked with and without
# constant blinding, and checked), which must agree on r0, the input memory, the stack frames and
# the faults (tests/fuzz/diff_oracle.h). Prints programs per second and the mismatches; every
# mismatch is minimised and saved as a reproducer (.data format) under jit-fuzz-findings/ (replay
# one with `build/bin/bpfvm_jit_fuzz --replay FILE`; once fixed, move it to tests/fuzz/jit_repro/,
# which the test suite replays).
# Usage: scripts/jit_fuzz.sh [SECONDS] [START_SEED]
#   SECONDS: campaign length (default 600); START_SEED: first generator seed (default: from the
#   clock, so that campaigns explore new programs; the CI test covers seeds 0..99999).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
start=${2:-$(( $(date +%s) * 1000 ))}
case "$seconds$start" in
  ''|*[!0-9]*) echo "usage: scripts/jit_fuzz.sh [SECONDS] [START_SEED] (whole numbers)" >&2; exit 2 ;;
esac
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > build.configure.log
fi
cmake --build build --target bpfvm_jit_fuzz
echo "== JIT differential campaign: ${seconds}s from seed $start (findings in jit-fuzz-findings/)"
exec build/bin/bpfvm_jit_fuzz --seconds "$seconds" --start "$start" --out jit-fuzz-findings
