#!/usr/bin/env bash
# bench/gpu_count.sh — how many calls of each function locksan interposes a workload's main process
# makes per step: bench/passthrough_preload.c built with -DPASSTHROUGH_COUNT, preloaded into
# bench/gpu_bench.py at two step counts; the difference of the counts over the difference of the
# steps is the steady loop's calls per step (start-up and teardown cancel out). These weigh locksan's
# per-call costs (callgrind, on the CPU machine) against its measured overhead on the GPU machine.
# REUSE=1: the counting preload also models locksan's in-place reuse of a held slot, and wider
# per-depth caches (-DPASSTHROUGH_REUSE: rows acq, reuse1, reuse2, reuse4, reuse8 per step).
# usage: [REUSE=1] bench/gpu_count.sh [WORKLOAD [STEPS_A STEPS_B]]     (defaults: torch 20 120)
set -eu
W=${1:-torch}; A=${2:-20}; B=${3:-120}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
T=$(mktemp -d)
EXTRA=""; [ "${REUSE:-0}" = 1 ] && EXTRA=-DPASSTHROUGH_REUSE
cc -O2 -shared -fPIC -DPASSTHROUGH_COUNT $EXTRA "$ROOT/bench/passthrough_preload.c" -o "$T/count.so" -ldl
for n in "$A" "$B"; do
  LD_PRELOAD="$T/count.so" "$PY" "$ROOT/bench/gpu_bench.py" "$W" --steps "$n" >"$T/out.$n" 2>"$T/err.$n" &
  pid=$!
  wait $pid
  grep "passthrough counts pid=$pid:" "$T/err.$n" >"$T/counts.$n" || { echo "no counts from pid $pid"; tail -5 "$T/err.$n"; exit 1; }
done
"$PY" - "$T/counts.$A" "$T/counts.$B" "$A" "$B" <<'PYEOF'
import sys
def counts(path):
    words = open(path).read().split(":", 1)[1].split()
    return {k: int(v) for k, v in (w.split("=") for w in words)}
a, b = counts(sys.argv[1]), counts(sys.argv[2])
steps = int(sys.argv[4]) - int(sys.argv[3])
print("main process, calls per step (%s steps minus %s):" % (sys.argv[4], sys.argv[3]))
for k in sorted(b, key=lambda k: -(b[k] - a.get(k, 0))):
    print("  %-26s %10.1f" % (k, (b[k] - a.get(k, 0)) / steps))
PYEOF
rm -rf "$T"
