#!/usr/bin/env bash
# bench/sampler/gpu_profile.sh — where the torch workload's time goes under locksan, on the GPU machine
# (no perf there): bench/gpu_bench.py torch natively and under locksan, each with the sampling profiler
# (bench/sampler/sampler.c) preloaded, then a flat profile per process (report.py); and the workers'
# per-item work alone (bench/torch_items.py), natively and under locksan.
# usage: bench/sampler/gpu_profile.sh LIBLOCKSAN LIBSAMPLER OUTDIR [STEPS]
set -u
LIB=$1; SAMP=$2; O=$3; STEPS=${4:-300}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PYTHON:-python3}
mkdir -p "$O"
for r in 1 2 3; do
  echo "items native: $("$PY" "$ROOT/bench/torch_items.py" --items 2000 2>&1 | tail -1)"
  echo "items locksan: $(LD_PRELOAD="$LIB" "$PY" "$ROOT/bench/torch_items.py" --items 2000 2>&1 | tail -1)"
done
echo "items locksan verbosity=1:"; LD_PRELOAD="$LIB" LOCKSAN_OPTIONS=verbosity=1 "$PY" "$ROOT/bench/torch_items.py" --items 2000 --rounds 1 2>&1 | tail -12
for cfg in native locksan; do
  d=/tmp/prof.$cfg; rm -rf "$d"; mkdir -p "$d"
  pre=$SAMP; [ $cfg = locksan ] && pre="$SAMP $LIB"
  SAMPLER_OUT=$d LD_PRELOAD="$pre" LOCKSAN_OPTIONS=verbosity=1 "$PY" "$ROOT/bench/gpu_bench.py" torch --steps "$STEPS" >"$O/run.$cfg.out" 2>"$O/run.$cfg.err"
  echo "torch $cfg rc=$?: $(grep RESULT "$O/run.$cfg.out")"
  "$PY" "$ROOT/bench/sampler/report.py" "$d" --top 25 >"$O/prof.$cfg.txt" 2>&1
done
