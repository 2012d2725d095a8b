#!/usr/bin/env bash
# bench/gpu_run.sh — GPU overhead of locksan on real workloads (bench/gpu_bench.py: a PyTorch training
# loop with a DataLoader, a CuPy workload), side by side in one run: native, locksan with CUPTI
# driver-API tracking (the default, cuda_tracking=auto), locksan with cuda_calls=needed (CUPTI
# callbacks for the rule's driver calls only), and locksan with cuda_tracking=off (the pthread layer
# alone). Rounds interleave the configurations, the order rotated each round. Wall time is the
# target's measure; CPU time (gpu_bench.py's loop_cpu_s and cpu_s) is printed beside it because a
# shared host's neighbours move wall time far more (steal_s says how much the hypervisor took).
#
# usage: bench/gpu_run.sh [--rounds N] [--lib PATH] [--out FILE] [--steps-torch N] [--steps-cupy N]
#   --lib   liblocksan.so (default build/liblocksan.so, or $LOCKSAN_LIB)
#   --out   also write the markdown table there (default: stdout only)
# Without a GPU it prints "SKIP: no GPU" and exits 0. Logs go to $GPU_BENCH_DIR (default /tmp/gpu-bench).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=3; LIB=${LOCKSAN_LIB:-$ROOT/build/liblocksan.so}; OUT=""; ST=400; SC=1500
PY=${PYTHON:-python3}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift ;;
    --lib) LIB=$2; shift ;;
    --out) OUT=$2; shift ;;
    --steps-torch) ST=$2; shift ;;
    --steps-cupy) SC=$2; shift ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) echo "gpu_run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "SKIP: no GPU"; exit 0
fi
[ -f "$LIB" ] || { echo "gpu_run.sh: $LIB not found (build first or pass --lib)" >&2; exit 2; }
W=${GPU_BENCH_DIR:-/tmp/gpu-bench}; mkdir -p "$W"; : >"$W/results.tsv"
CARD=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)
echo "# card, driver: $CARD; $("$PY" -V 2>&1); $(uname -r); $(date -u +%Y-%m-%dT%H:%MZ); rounds $ROUNDS"

run_one() {  # workload config round
  local wl=$1 cfg=$2 r=$3 log="$W/$1.$2.$3"
  local env=()
  case "$cfg" in
    native) ;;
    locksan) env=(LD_PRELOAD="$LIB") ;;
    needed) env=(LD_PRELOAD="$LIB" LOCKSAN_OPTIONS=cuda_calls=needed) ;;
    nocupti) env=(LD_PRELOAD="$LIB" LOCKSAN_OPTIONS=cuda_tracking=off) ;;
  esac
  local steps=$ST; [ "$wl" = cupy ] && steps=$SC
  local t0 t1 rc
  t0=$(date +%s%N)
  env "${env[@]}" timeout 300 "$PY" "$ROOT/bench/gpu_bench.py" "$wl" --steps "$steps" >"$log.out" 2>"$log.err"
  rc=$?
  t1=$(date +%s%N)
  local wall; wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  local res; res=$(grep '^RESULT' "$log.out" | tail -1)
  local reports; reports=$(grep -c 'WARNING: locksan:' "$log.err")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$cfg" "$r" "$rc" "$wall" "$reports" "$res" >>"$W/results.tsv"
  printf '  %-6s %-8s round %d: rc=%d wall %.2f s, reports %s; %s\n' "$wl" "$cfg" "$r" "$rc" "$wall" "$reports" "${res#RESULT }"
}

CFGS=(native locksan needed nocupti)
for ((r = 1; r <= ROUNDS; r++)); do
  for wl in torch cupy; do
    for ((k = 0; k < 4; k++)); do
      run_one "$wl" "${CFGS[$(((k + r) % 4))]}" "$r"
    done
  done
done
echo "# locksan status lines (from the last torch run):"
grep -h 'locksan: \(CUDA\|CUPTI\|Python\)' "$W"/torch.locksan.*.err 2>/dev/null | sort | uniq -c | head -5

"$PY" - "$W/results.tsv" "$CARD" "$ROUNDS" <<'EOF' | tee ${OUT:+"$OUT"}
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
card, rounds = sys.argv[2], sys.argv[3]
data = {}
for wl, cfg, r, rc, wall, reports, res in rows:
    kv = dict(x.split("=", 1) for x in res.split()[1:]) if res else {}
    data.setdefault((wl, cfg), []).append((int(rc), float(wall), int(reports), kv))
def cell(vals, base=None):
    if not vals:
        return "—"
    m = statistics.median(vals)
    s = "%.2f s [%.2f–%.2f]" % (m, min(vals), max(vals))
    if base:
        s += " ×%.3f" % (m / base)
    return s
CFGS = ("native", "locksan", "needed", "nocupti")
print("| workload | measure | native | locksan (CUPTI on) | locksan, cuda_calls=needed | locksan, cuda_tracking=off | target | locksan |")
print("|---|---|---|---|---|---|---|---|")
for wl in ("torch", "cupy"):
    for measure, key in (("process wall time (start-up, loop, exit)", None), ("steady loop (after warm-up)", "loop_s"),
                         ("CPU time, steady loop (main process)", "loop_cpu_s"),
                         ("CPU time, whole process (with workers)", "cpu_s"), ("import", "import_s")):
        cols, base = [], None
        for cfg in CFGS:
            runs = [x for x in data.get((wl, cfg), []) if x[0] == 0]
            vals = [x[1] if key is None else float(x[3][key]) for x in runs if key is None or key in x[3]]
            bad = len(data.get((wl, cfg), [])) - len(runs)
            c = cell(vals, base)
            if cfg == "native":
                base = statistics.median(vals) if vals else None
            if bad:
                c += "; failed %d/%d" % (bad, len(data.get((wl, cfg), [])))
            if cfg != "native":
                reps = sum(x[2] for x in data.get((wl, cfg), []))
                if reps and key is None:
                    c += "; %d report(s)" % reps
            cols.append((c, vals))
        verdict, target = "—", "—"
        if key in (None, "loop_s", "loop_cpu_s", "cpu_s"):
            target = "≤ 1.05×" if key in (None, "loop_s") else "(≤ 1.05×)"
            lv = cols[1][1]
            if lv and base:
                ratio = statistics.median(lv) / base
                verdict = ("PASS" if ratio <= 1.05 else "FAIL") + " (×%.3f)" % ratio
                if key not in (None, "loop_s"):
                    verdict = verdict.lower()
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % ((wl, measure) + tuple(c for c, _ in cols) + (target, verdict)))
steal = {}
for (wl, cfg), runs in data.items():
    steal.setdefault(wl, []).extend(float(x[3]["steal_s"]) for x in runs if "steal_s" in x[3])
print()
print("Steal time during the loops (s, all CPUs; median [min–max]): " +
      "; ".join("%s %s" % (wl, cell(v).replace(" s ", " ")) for wl, v in sorted(steal.items()) if v) + ".")
print("CPU-time rows: lower-case verdicts, for reading beside the wall-time target (not the target).")
print()
print("%s; %s round(s), configurations interleaved; cell = median [min–max] ×(median ÷ native's median)." % (card, rounds))
EOF
