#!/usr/bin/env bash
# bench/sampler/gpu_profile.sh — where the torch workload's time goes under locksan, on the GPU machine
# (no perf there): bench/gpu_bench.py torch natively and under each library, with the sampling
# profiler (bench/sampler/sampler.c) preloaded, then a flat profile per process of the steady loop
# only (report.py --window); before that, the workers' per-item work alone (bench/torch_items.py, with
# a worker's signal handlers), natively and under each library, interleaved.
# usage: bench/sampler/gpu_profile.sh OUTDIR LIBSAMPLER STEPS NAME=LIBLOCKSAN...
#   e.g. gpu_profile.sh $OUT .gpubuild/libsampler.so 300 new=$PWD/.gpubuild/liblocksan.so
# WORKLOAD=cupy profiles gpu_bench.py's CuPy loop instead (no worker items then; SKIP_ITEMS=1 skips them for torch). A NAME=LIB may carry
# options: off=LIB@cuda_tracking=off runs LIB with LOCKSAN_OPTIONS=verbosity=1:cuda_tracking=off.
set -u
O=$1; SAMP=$2; STEPS=$3; shift 3
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PYTHON:-python3}
WORKLOAD=${WORKLOAD:-torch}
mkdir -p "$O"
# split_cfg NAME=LIB[@OPTIONS] — sets name, lib and opts (the options without verbosity).
split_cfg() {
  name=${1%%=*}; lib=${1#*=}; opts=""
  case $lib in *@*) opts=${lib#*@}; lib=${lib%%@*} ;; esac
}
if [ "$WORKLOAD" = torch ] && [ -z "${SKIP_ITEMS:-}" ]; then
for r in 1 2 3; do
  echo "items native: $("$PY" "$ROOT/bench/torch_items.py" --items 2000 --worker-handlers 2>&1 | tail -1)"
  for cfg in "$@"; do
    split_cfg "$cfg"
    echo "items $name: $(LD_PRELOAD="$lib" LOCKSAN_OPTIONS="$opts" "$PY" "$ROOT/bench/torch_items.py" --items 2000 --worker-handlers 2>&1 | tail -1)"
  done
done
# Per item, from the verbosity=1 counters of two runs of different length (each runs 2N items).
for cfg in "$@"; do
  split_cfg "$cfg"
  for n in 500 1500; do
    LD_PRELOAD="$lib" LOCKSAN_OPTIONS="verbosity=1${opts:+:$opts}" "$PY" "$ROOT/bench/torch_items.py" --items $n --rounds 1 \
      --worker-handlers 2>&1 | grep -E "stats" >"/tmp/items.$n"
  done
  "$PY" - "$name" /tmp/items.500 /tmp/items.1500 <<'PYEOF'
import re, sys
def nums(path):
    line = open(path).read()
    keys = ["locks seen", "slow checks", "range searches", "signal-blocking"]
    pats = [r"\((\d+) seen\)", r"(\d+) slow checks", r"(\d+) range searches", r"(\d+) signal-blocking"]
    return {k: int(m.group(1)) for k, p in zip(keys, pats) for m in [re.search(p, line)] if m}
a, b = nums(sys.argv[2]), nums(sys.argv[3])
print("per item, %s: " % sys.argv[1] + ", ".join("%s %.2f" % (k, (b[k] - a[k]) / 2000.0) for k in b if k in a))
PYEOF
done
fi
for cfg in native "$@"; do
  split_cfg "$cfg"; opts=verbosity=1${opts:+:$opts}
  d=/tmp/prof.$name; rm -rf "$d"; mkdir -p "$d"
  pre=$SAMP; [ "$name" != native ] && pre="$SAMP $lib"
  SAMPLER_OUT=$d LD_PRELOAD="$pre" LOCKSAN_OPTIONS=$opts "$PY" "$ROOT/bench/gpu_bench.py" "$WORKLOAD" --steps "$STEPS" >"$d/out" 2>"$O/run.$name.err"
  res=$(grep RESULT "$d/out")
  echo "$WORKLOAD $name: $res"
  m0=$(sed -n 's/.*mono0=\([0-9.]*\).*/\1/p' <<<"$res"); m1=$(sed -n 's/.*mono1=\([0-9.]*\).*/\1/p' <<<"$res")
  "$PY" "$ROOT/bench/sampler/report.py" "$d" --top ${TOP:-25} --window "$m0" "$m1" >"$O/prof.$name.txt" 2>&1
done
