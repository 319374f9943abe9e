/* The empty program: what a call costs on each backend (per-run overhead). */
#include "bench_prog.h"

BENCH_PROG(bench_nop) {
  return XDP_PASS;
}

BENCH_LICENSE;
