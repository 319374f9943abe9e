#!/usr/bin/env bash
# Open-ended verifier soundness campaign: generated programs (tests/fuzz/program_gen.h) go through
# the verifier; every accepted one runs in the checked interpreter on random inputs and must not
# fault (tests/fuzz/soundness_oracle.h). Reports programs per second, the acceptance rate and the
# faults found; every finding is saved as a reproducer under soundness-findings/ (replay one with
# `build/bin/bpfvm_soundness_fuzz --replay FILE`; once fixed, move it to tests/fuzz/soundness_repro/
# and add a regression case to tests/verifier/cases/).
# Usage: scripts/soundness.sh [SECONDS] [START_SEED]
#   SECONDS: campaign length (default 600); START_SEED: first generator seed (default: from the
#   clock, so that campaigns explore new programs; the CI test covers seeds 0..99999).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
start=${2:-$(( $(date +%s) * 1000 ))}
case "$seconds$start" in
  ''|*[!0-9]*) echo "usage: scripts/soundness.sh [SECONDS] [START_SEED] (whole numbers)" >&2; exit 2 ;;
esac
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > build.configure.log
fi
cmake --build build --target bpfvm_soundness_fuzz
echo "== soundness campaign: ${seconds}s from seed $start (findings in soundness-findings/)"
exec build/bin/bpfvm_soundness_fuzz --seconds "$seconds" --start "$start" --out soundness-findings
