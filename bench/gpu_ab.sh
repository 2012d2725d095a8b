#!/usr/bin/env bash
# bench/gpu_ab.sh — where a GPU workload's overhead comes from: bench/gpu_bench.py's steady loop run
# under several configurations side by side, rounds interleaved (order rotated each round), median
# [min–max] of the loop's wall time and of the main process's CPU time over the loop (all its threads;
# the DataLoader workers are other processes), each with its ratio to native's median and the median
# [min–max] of its per-round ratios to native's run of the same round; and, where the machine has a
# PMU, the main process's user-space cycles and retired instructions over the loop (bench/pmu.py),
# which the machine's speed does not move; and a distribution-free interval for the median of the
# per-round ratios (bench/ab_summary.py, which also pools the results of several runs). Configurations:
#   native                  no preload
#   passthrough             bench/passthrough_preload.c: the same interposed functions, forwarding only
#   NAME=LIB[@OPTIONS]      LD_PRELOAD=LIB with LOCKSAN_OPTIONS=OPTIONS (':'-separated), e.g.
#                           locksan=build/liblocksan.so  nocupti=build/liblocksan.so@cuda_tracking=off
# --cpus LIST runs every process of every configuration on those CPUs only (taskset -c LIST; the
# DataLoader workers inherit it): on the shared GPU machines a process's speed depends on where it
# runs (bench/cpu_speed.py finds the fast CPUs), which moved the per-round ratios more than locksan.
# usage: bench/gpu_ab.sh [--rounds N] [--workload cupy|torch] [--steps N] [--cpus LIST] CONFIG...
# PYTHONHASHSEED is fixed (0) for every run. Without a GPU it prints "SKIP: no GPU" and exits 0.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=8; WL=cupy; STEPS=""; PY=${PYTHON:-python3}; CFGS=(); PIN=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift ;;
    --workload) WL=$2; shift ;;
    --steps) STEPS=$2; shift ;;
    --cpus) command -v taskset >/dev/null 2>&1 || { echo "gpu_ab.sh: --cpus needs taskset (util-linux)" >&2; exit 2; }
            taskset -c "$2" true 2>/dev/null || { echo "gpu_ab.sh: --cpus '$2': not a CPU list this machine can run on" >&2; exit 2; }
            PIN=(taskset -c "$2"); shift ;;
    -h|--help) sed -n 2,17p "$0"; exit 0 ;;
    -*) echo "gpu_ab.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) CFGS+=("$1") ;;
  esac
  shift
done
[ ${#CFGS[@]} -gt 0 ] || CFGS=(native passthrough "locksan=$ROOT/build/liblocksan.so")
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "SKIP: no GPU"; exit 0
fi
W=${GPU_BENCH_DIR:-/tmp/gpu-ab}; mkdir -p "$W"; : >"$W/results.tsv"
PT=$W/passthrough.so
if printf '%s\n' "${CFGS[@]}" | grep -qx passthrough; then
  cc -O2 -shared -fPIC "$ROOT/bench/passthrough_preload.c" -o "$PT" -ldl ||
    { echo "gpu_ab.sh: cannot build the pass-through preload" >&2; exit 2; }
fi
for c in "${CFGS[@]}"; do
  case "$c" in native|passthrough) ;; *=*) lib=${c#*=}; lib=${lib%%@*}
    [ -f "$lib" ] || { echo "gpu_ab.sh: $lib not found ($c)" >&2; exit 2; } ;;
    *) echo "gpu_ab.sh: bad configuration '$c' (native, passthrough or NAME=LIB[@OPTIONS])" >&2; exit 2 ;;
  esac
done
echo "# $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1); $("$PY" -V 2>&1);" \
     "$(date -u +%Y-%m-%dT%H:%MZ); $WL, $ROUNDS rounds${PIN[@]+; CPUs ${PIN[2]}}"
n=${#CFGS[@]}
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < n; k++)); do
    c=${CFGS[$(((k + r) % n))]}
    name=$c; pre=""; opts=""
    case "$c" in
      native) ;;
      passthrough) pre=$PT ;;
      *) name=${c%%=*}; pre=${c#*=}; [[ $pre == *@* ]] && opts=${pre#*@}; pre=${pre%%@*} ;;
    esac
    res=$(env PYTHONHASHSEED=0 LD_PRELOAD="$pre" LOCKSAN_OPTIONS="$opts" timeout 600 ${PIN[@]+"${PIN[@]}"} "$PY" \
          "$ROOT/bench/gpu_bench.py" "$WL" ${STEPS:+--steps "$STEPS"} 2>"$W/$name.$r.err" | grep '^RESULT')
    loop=$(echo "$res" | grep -o ' loop_s=[0-9.]*' | cut -d= -f2)
    cpu=$(echo "$res" | grep -o ' loop_cpu_s=[0-9.]*' | cut -d= -f2)
    cyc=$(echo "$res" | grep -o ' loop_cycles=[0-9]*' | cut -d= -f2)
    ins=$(echo "$res" | grep -o ' loop_instr=[0-9]*' | cut -d= -f2)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$r" "${loop:-nan}" "${cpu:-nan}" "${cyc:-nan}" "${ins:-nan}" \
      >>"$W/results.tsv"
    printf '  round %d %-12s loop %s s, main-process CPU %s s%s\n' "$r" "$name" \
           "${loop:-failed (see $W/$name.$r.err)}" "${cpu:-?}" "${cyc:+, cycles $cyc, instructions ${ins:-?}}"
  done
done
python3 "$ROOT/bench/ab_summary.py" "$W/results.tsv"
