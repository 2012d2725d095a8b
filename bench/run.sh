#!/usr/bin/env bash
# Benchmarks locksan against native, TSan's deadlock detector, LLVM's dyndd and Helgrind, side by
# side in one run, interleaving the repetitions, and writes a markdown table (docs/bench.md).
#
# usage: bench/run.sh [--quick] [--rounds N] [--out FILE] [--lib PATH] [--no-lib-build]
#                     [--skip-tsan] [--skip-dyndd] [--skip-helgrind] [--skip-python]
#                     [--skip-scale] [--skip-real] [--skip-pytests] [--skip-callgrind]
#   --quick         2 rounds of the C benches, 1 of the slow ones (scale, CPython tests, Helgrind)
#   --rounds N      rounds of the fast benches (default 5); slow ones get min(N, 3)
#   --out FILE      where the markdown goes (default docs/bench.md); '-' = stdout only
#   --lib PATH      liblocksan.so to preload (default build/liblocksan.so)
#   --no-lib-build  do not run cmake; use the library as it is
#   --skip-X        leave out a tool (tsan, dyndd, helgrind) or a part (python, pytests: the CPython
#                   test suite, scale, real: SQLite's locking in bench/sqlite_bench.c, callgrind:
#                   instruction counts)
# Environment: LOCKSAN_OPTIONS is passed through to the preloaded runs and recorded.
# Work files (binaries, every run's stdout/stderr, results.tsv) go to build/bench/
# (or $BENCH_WORK_DIR).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ORIG_CMD="bench/run.sh${*:+ $*}"

die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "run.sh: $*" >&2; }

QUICK=0; ROUNDS=""; OUT="docs/bench.md"; LIB="build/liblocksan.so"; BUILD_LIB=1
SKIP_TSAN=0; SKIP_DYNDD=0; SKIP_HELGRIND=0; SKIP_PYTHON=0; SKIP_SCALE=0; SKIP_REAL=0; SKIP_PYTESTS=0; SKIP_CALLGRIND=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive number"; ROUNDS=$2; shift ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a file name"; OUT=$2; shift ;;
    --lib) [[ $# -ge 2 ]] || die "--lib needs a path"; LIB=$2; shift ;;
    --no-lib-build) BUILD_LIB=0 ;;
    --skip-tsan) SKIP_TSAN=1 ;;
    --skip-dyndd) SKIP_DYNDD=1 ;;
    --skip-helgrind) SKIP_HELGRIND=1 ;;
    --skip-python) SKIP_PYTHON=1 ;;
    --skip-scale) SKIP_SCALE=1 ;;
    --skip-real) SKIP_REAL=1 ;;
    --skip-pytests) SKIP_PYTESTS=1 ;;
    --skip-callgrind) SKIP_CALLGRIND=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac
  shift
done
if [[ -z "$ROUNDS" ]]; then ROUNDS=$([[ $QUICK == 1 ]] && echo 2 || echo 5); fi
SLOW_ROUNDS=$(( ROUNDS < 3 ? ROUNDS : 3 )); [[ $QUICK == 1 ]] && SLOW_ROUNDS=1

command -v gcc >/dev/null || die "gcc not found (apt-get install build-essential)"
command -v timeout >/dev/null || die "timeout not found (coreutils)"
PY_SUMMARY=""
for p in python3 /usr/bin/python3 /root/.pyenv/versions/3.11.7/bin/python3; do
  if command -v "$p" >/dev/null 2>&1; then PY_SUMMARY=$(command -v "$p"); break; fi
done
[[ -n "$PY_SUMMARY" ]] || die "python3 not found (needed to summarise the results)"

W="${BENCH_WORK_DIR:-$ROOT/build/bench}"
mkdir -p "$W/logs"
rm -f "$W"/logs/* "$W/results.tsv" "$W/meta.tsv"
: > "$W/results.tsv"
: > "$W/meta.tsv"
meta() { printf '%s\t%s\n' "$1" "$2" >> "$W/meta.tsv"; }

NPROC=$(nproc)
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta command "$ORIG_CMD"
meta nproc "$NPROC"
meta cpu "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //' || echo unknown)"
meta kernel "$(uname -r)"
meta glibc "$(ldd --version 2>/dev/null | head -1 | sed 's/.* //')"
meta gcc "$(gcc --version | head -1)"
command -v clang >/dev/null && meta clang "$(clang --version | head -1)"
command -v valgrind >/dev/null && meta valgrind "$(valgrind --version)"
meta rounds "$ROUNDS"
meta slow_rounds "$SLOW_ROUNDS"
meta load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
meta commit "$(git rev-parse --short HEAD 2>/dev/null || echo 'no commit yet')$(git status --porcelain 2>/dev/null | grep -q . && echo ' (+ uncommitted changes)' || true)"
[[ -n "${LOCKSAN_OPTIONS:-}" ]] && meta locksan_options "$LOCKSAN_OPTIONS"

# ---------------------------------------------------------------------------------------------
# Build
CFLAGS_BENCH=(-O2 -g -Wall -Wextra -pthread)
note "building benches in $W"
gcc "${CFLAGS_BENCH[@]}" -o "$W/pair_bench" bench/pair_bench.c || die "gcc failed on bench/pair_bench.c"
gcc "${CFLAGS_BENCH[@]}" -o "$W/scale_bench" bench/scale_bench.c || die "gcc failed on bench/scale_bench.c"
# SQLite's own locking (someone else's lock-heavy C code): needs libsqlite3-dev
HAVE_SQLITE=0
if [[ $SKIP_REAL == 0 ]]; then
  if [[ -f /usr/include/sqlite3.h ]] && gcc "${CFLAGS_BENCH[@]}" -o "$W/sqlite_bench" bench/sqlite_bench.c -lsqlite3 2> "$W/logs/sqlite-build.log"; then
    HAVE_SQLITE=1; meta sqlite "$(dpkg-query -W -f='libsqlite3-0 ${Version}' libsqlite3-0 2>/dev/null || echo 'libsqlite3')"
  else
    note "bench/sqlite_bench.c not built (apt-get install libsqlite3-dev): its rows are skipped"
    meta real_status "skipped: bench/sqlite_bench.c not built (no /usr/include/sqlite3.h: apt-get install libsqlite3-dev)"
  fi
fi

# tool name -> status ("ok" or why not), command prefix
declare -A TOOL_STATUS
TOOLS=(native)
TOOL_STATUS[native]=ok
TSAN_PREFIX=()

# locksan
LIB_ABS=$LIB; [[ "$LIB_ABS" = /* ]] || LIB_ABS="$ROOT/$LIB"
if [[ $BUILD_LIB == 1 ]]; then
  if [[ -f CMakeLists.txt ]] && command -v cmake >/dev/null; then
    note "building liblocksan (cmake, Release) -> $W/logs/lib-build.log"
    if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2; } > "$W/logs/lib-build.log" 2>&1; then
      TOOL_STATUS[locksan]="not measured: the library did not build (cmake --build build failed; see build/bench/logs/lib-build.log)"
    fi
  elif [[ ! -f CMakeLists.txt ]]; then
    TOOL_STATUS[locksan]="not measured yet: no CMakeLists.txt, liblocksan.so not built"
  else
    TOOL_STATUS[locksan]="not measured: cmake not found"
  fi
fi
if [[ -z "${TOOL_STATUS[locksan]:-}" ]]; then
  if [[ -f "$LIB_ABS" ]]; then
    # Snapshot the library (and the libunwind/libdw/libelf copies it dlopens from its own
    # folder): a concurrent rebuild of build/ must not change or remove it mid-run.
    rm -rf "$W/lib"; mkdir -p "$W/lib"
    cp "$LIB_ABS" "$W/lib/liblocksan.so"
    for f in "$(dirname "$LIB_ABS")"/lib{unwind,dw,elf}.so*; do [[ -f "$f" ]] && cp "$f" "$W/lib/"; done
    meta lib_md5 "$(md5sum < "$LIB_ABS" | cut -c1-12)"
    meta lib_mtime "$(date -u -r "$LIB_ABS" '+%Y-%m-%d %H:%M UTC')"
    LIB_ABS="$W/lib/liblocksan.so"
  fi
  if [[ ! -f "$LIB_ABS" ]]; then
    TOOL_STATUS[locksan]="not measured yet: $LIB does not exist"
  elif ! timeout -k 5 60 env LD_PRELOAD="$LIB_ABS" "$W/pair_bench" single -n 1000 -w 0 > "$W/logs/locksan-smoke.out" 2>&1; then
    TOOL_STATUS[locksan]="not measured: a trivial run under the preload failed (see build/bench/logs/locksan-smoke.out)"
  else
    TOOL_STATUS[locksan]=ok
  fi
fi
[[ "${TOOL_STATUS[locksan]}" == ok ]] && TOOLS+=(locksan)
meta lib "$LIB"
meta lib_status "${TOOL_STATUS[locksan]}"

# TSan
if [[ $SKIP_TSAN == 1 ]]; then
  TOOL_STATUS[tsan]="skipped (--skip-tsan)"
elif ! command -v clang >/dev/null; then
  TOOL_STATUS[tsan]="not measured: clang not found (apt-get install clang)"
else
  if ! clang -O2 -fsanitize=thread -g -pthread -o "$W/pair_bench_tsan" bench/pair_bench.c 2> "$W/logs/tsan-build.log" ||
     ! clang -O2 -fsanitize=thread -g -pthread -o "$W/scale_bench_tsan" bench/scale_bench.c 2>> "$W/logs/tsan-build.log" ||
     { [[ $HAVE_SQLITE == 1 ]] && ! clang -O2 -fsanitize=thread -g -pthread -o "$W/sqlite_bench_tsan" bench/sqlite_bench.c -lsqlite3 2>> "$W/logs/tsan-build.log"; }; then
    TOOL_STATUS[tsan]="not measured: clang -fsanitize=thread failed (build/bench/logs/tsan-build.log)"
  elif TSAN_OPTIONS=detect_deadlocks=1 timeout 60 "$W/pair_bench_tsan" single -n 1000 -w 0 > "$W/logs/tsan-smoke.out" 2>&1; then
    TOOL_STATUS[tsan]=ok
  elif command -v setarch >/dev/null &&
       TSAN_OPTIONS=detect_deadlocks=1 timeout 60 setarch "$(uname -m)" -R "$W/pair_bench_tsan" single -n 1000 -w 0 > "$W/logs/tsan-smoke.out" 2>&1; then
    TOOL_STATUS[tsan]=ok; TSAN_PREFIX=(setarch "$(uname -m)" -R)
    meta tsan_note "TSan binaries run under 'setarch -R' (ASLR off): they fail to start otherwise on this kernel"
  else
    TOOL_STATUS[tsan]="not measured: the TSan binary does not start (build/bench/logs/tsan-smoke.out)"
  fi
fi
[[ "${TOOL_STATUS[tsan]}" == ok ]] && TOOLS+=(tsan)

# dyndd: LLVM's experimental preloadable deadlock detector, if the distribution ships it
DYNDD=""
if [[ $SKIP_DYNDD == 1 ]]; then
  TOOL_STATUS[dyndd]="skipped (--skip-dyndd)"
else
  for f in /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.dyndd-x86_64.so /usr/lib/clang/*/lib/linux/libclang_rt.dyndd-x86_64.so; do
    [[ -f "$f" ]] && { DYNDD=$f; break; }
  done
  if [[ -z "$DYNDD" ]]; then
    TOOL_STATUS[dyndd]="not packaged on this machine (no libclang_rt.dyndd-*.so under /usr/lib/llvm-*)"
  else
    TOOL_STATUS[dyndd]=ok; TOOLS+=(dyndd); meta dyndd "$DYNDD"
  fi
fi

# Helgrind
if [[ $SKIP_HELGRIND == 1 ]]; then
  TOOL_STATUS[helgrind]="skipped (--skip-helgrind)"
elif ! command -v valgrind >/dev/null; then
  TOOL_STATUS[helgrind]="not measured: valgrind not found (apt-get install valgrind)"
else
  TOOL_STATUS[helgrind]=ok; TOOLS+=(helgrind)
fi
for t in locksan tsan dyndd helgrind; do meta "status_$t" "${TOOL_STATUS[$t]}"; done
note "tools: ${TOOLS[*]}"
[[ "${TOOL_STATUS[locksan]}" == ok ]] || note "locksan: ${TOOL_STATUS[locksan]}"

# ---------------------------------------------------------------------------------------------
# Running
# run_one SECTION CONFIG TOOL ROUND TIMEOUT CMD...   (CMD is run with the tool's prefix)
# Appends to results.tsv: section config tool round status rc wall_s reports result-line why flags
LOAD_MAX=0
declare -A SKIP_CONFIG   # "config/tool" -> 1 after a timeout (not worth repeating)
tool_cmd() { # tool binary-kind -> prints nothing; fills CMD_PREFIX and BIN_SUFFIX
  local tool=$1
  CMD_PREFIX=(); BIN_SUFFIX=""
  case "$tool" in
    native) ;;
    locksan) CMD_PREFIX=(env LD_PRELOAD="$LIB_ABS") ;;
    tsan) CMD_PREFIX=(env TSAN_OPTIONS="detect_deadlocks=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}" "${TSAN_PREFIX[@]}"); BIN_SUFFIX=_tsan ;;
    dyndd) CMD_PREFIX=(env LD_PRELOAD="$DYNDD") ;;
    helgrind) CMD_PREFIX=(valgrind --tool=helgrind -q --max-threads=1100) ;;
  esac
}

run_one() {
  local section=$1 config=$2 tool=$3 round=$4 tmo=$5; shift 5
  local key="$config/$tool"
  if [[ -n "${SKIP_CONFIG[$key]:-}" ]]; then return 0; fi
  local base="$W/logs/$config.$tool.$round"
  printf '%s\n' "$*" > "$base.cmd"
  local t0 t1 rc=0 load
  load=$(cut -d' ' -f1 /proc/loadavg)
  LOAD_MAX=$(awk -v a="$load" -v b="$LOAD_MAX" 'BEGIN { print (a > b ? a : b) }')
  t0=$(date +%s.%N)
  # timeout makes itself a process-group leader; once it is done, whatever that group still
  # holds (a forked child stuck after its parent was killed) is killed too, by the group's id.
  timeout -k 5 "$tmo" "$@" > "$base.out" 2> "$base.err" < /dev/null &
  local pid=$!
  wait "$pid" || rc=$?
  t1=$(date +%s.%N)
  if kill -0 -- "-$pid" 2>/dev/null; then
    echo "run.sh: processes of this run were still alive after it ended; killed (process group $pid)" >> "$base.err"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  local wall status reports
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}')
  if [[ $rc == 124 || $rc == 137 ]]; then status=timeout; SKIP_CONFIG[$key]=1
  elif [[ $rc -ge 128 ]]; then status="signal$((rc-128))"
  elif [[ $rc != 0 ]]; then status="exit$rc"
  else status=ok; fi
  if grep -q "from LD_PRELOAD cannot be preloaded" "$base.err"; then status=preload-failed; fi
  local flags=""
  if grep -q "^run.sh: processes of this run were still alive" "$base.err"; then flags=stragglers; fi
  # reports printed by the checking tools (all benches are free of lock-order inversions)
  reports=$(grep -cE 'WARNING: (locksan|ThreadSanitizer)|lock order ".*" violated|lock-order-inversion' "$base.err" || true)
  # first line that says why a run died, for the table's notes
  local why=""
  if [[ $status != ok ]]; then
    why=$(grep -v '^run\.sh:' "$base.err" 2>/dev/null | grep -m1 -E 'CHECK failed|Segmentation|FATAL|ERROR|Assertion|terminate|abort|[Ee]rror:|killed' | cut -c1-200 | tr '\t' ' ' || true)
    if [[ -z "$why" && $status == timeout ]]; then
      why=$(grep -v '^[[:space:]]*$' "$base.out" 2>/dev/null | tail -1 | cut -c1-200 | tr '\t' ' ' || true)
      [[ -n "$why" ]] && why="last output line: $why"
    fi
  fi
  local line found=0
  while IFS= read -r line; do
    found=1
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$config" "$tool" "$round" "$status" "$rc" "$wall" "$reports" "${line#RESULT }" "$why" "$flags" >> "$W/results.tsv"
  done < <(grep '^RESULT ' "$base.out" || true)
  if [[ $found == 0 ]]; then
    [[ $status == ok ]] && status=noresult
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$config" "$tool" "$round" "$status" "$rc" "$wall" "$reports" "" "$why" "$flags" >> "$W/results.tsv"
  fi
  printf '  %-22s %-9s round %d: %-9s %7.2f s%s%s\n' "$config" "$tool" "$round" "$status" "$wall" "$( [[ $reports != 0 ]] && echo " ($reports reports)")" "${flags:+ (left processes behind: killed)}" >&2
}

rotate() { # rotate array by N: prints elements
  local n=$1; shift; local a=("$@") i k=${#a[@]}
  for ((i = 0; i < k; i++)); do printf '%s\n' "${a[$(((i + n) % k))]}"; done
}

# ---- pair_bench ------------------------------------------------------------------------
CONT_OPS=6000000
PAIR_CONFIGS=("single1|single" "pair1|pair" "pair1s|pair -s" "pair2|pair -t 2")
if [[ $NPROC -gt 2 ]]; then PAIR_CONFIGS+=("pair$NPROC|pair -t $NPROC"); fi
CONT_CONFIGS=("cont2|2" "cont4|4" "cont8|8")

note "pair_bench: $ROUNDS rounds (Helgrind: $SLOW_ROUNDS), tools interleaved, order rotated each round"
for ((r = 1; r <= ROUNDS; r++)); do
  mapfile -t order < <(rotate $((r - 1)) "${TOOLS[@]}")
  for cfg in "${PAIR_CONFIGS[@]}" "${CONT_CONFIGS[@]}"; do
    name=${cfg%%|*}; args=${cfg#*|}
    for tool in "${order[@]}"; do
      [[ $tool == helgrind && $r -gt $SLOW_ROUNDS ]] && continue
      tool_cmd "$tool"
      if [[ $name == cont* ]]; then
        ops=$CONT_OPS
        case $tool in tsan|dyndd) ops=$((CONT_OPS / 4)) ;; helgrind) ops=$((CONT_OPS / 200)) ;; esac
        # shellcheck disable=SC2086
        run_one pair "$name" "$tool" "$r" 300 "${CMD_PREFIX[@]}" "$W/pair_bench$BIN_SUFFIX" contended -t "$args" -n "$ops"
      else
        # shellcheck disable=SC2086
        # 3 reps of 0.15 s: the median for the ns/op rows, the best for the scaling row
        run_one pair "$name" "$tool" "$r" 300 "${CMD_PREFIX[@]}" "$W/pair_bench$BIN_SUFFIX" $args -d 0.15 -r 3
      fi
    done
  done
done

# ---- instructions per operation: callgrind, deterministic whatever the machine's load -----
# Counts the instructions executed inside the measured loop (loop_pair / loop_single and all they
# call), warm-up included: n + n/20 + 1 iterations.
if [[ $SKIP_CALLGRIND == 0 ]] && command -v valgrind >/dev/null; then
  CG_N=200000
  note "callgrind: instructions per operation (native, locksan)"
  for cfg in "single1|single" "pair1|pair" "pair1s|pair -s"; do
    name=${cfg%%|*}; args=${cfg#*|}
    for tool in native locksan; do
      [[ $tool == locksan && "${TOOL_STATUS[locksan]}" != ok ]] && continue
      tool_cmd "$tool"
      f="$W/logs/cg-$name.$tool.callgrind"
      # shellcheck disable=SC2086
      run_one callgrind "cg-$name" "$tool" 1 300 "${CMD_PREFIX[@]}" valgrind --tool=callgrind -q --callgrind-out-file="$f" \
        --toggle-collect=loop_pair --toggle-collect=loop_single "$W/pair_bench" $args -n "$CG_N" -w 0
      if [[ -f "$f" ]]; then
        ir=$(awk '/^totals:/ {print $2}' "$f")
        if [[ -n "$ir" ]]; then
          per=$(awk -v a="$ir" -v n="$CG_N" 'BEGIN { printf "%.1f", a / (n + int(n / 20) + 1) }')
          # replace the pair_bench RESULT line of that run with the instruction count
          "$PY_SUMMARY" - "$W/results.tsv" "cg-$name" "$tool" "ir_per_op=$per ir_total=$ir iters=$CG_N" <<'PYEOF2'
import sys
path, cfg, tool, kv = sys.argv[1:5]
lines = open(path).read().splitlines()
f = lines[-1].split("\t")
if f[1] == cfg and f[2] == tool:
    f[8] = kv
    lines[-1] = "\t".join(f)
    open(path, "w").write("\n".join(lines) + "\n")
PYEOF2
        fi
      fi
    done
  done
fi

# ---- scale_bench -----------------------------------------------------------------------
if [[ $SKIP_SCALE == 0 ]]; then
  note "scale_bench: $SLOW_ROUNDS rounds, one process per part"
  for ((r = 1; r <= SLOW_ROUNDS; r++)); do
    mapfile -t order < <(rotate $((r - 1)) "${TOOLS[@]}")
    for part in live edges threads held young longrun; do
      for tool in "${order[@]}"; do
        tool_cmd "$tool"
        extra=()
        if [[ $tool == helgrind ]]; then
          # Helgrind needs ~50 GB for 1M locks: reduced sizes, scaled in the table
          [[ $r -gt 1 ]] && continue
          case $part in
            live) extra=(-L 50000) ;;
            edges) extra=(-E 10000 -B 1000 -D 10 -t 2) ;;
            threads) extra=(-W 1) ;;
            held) extra=(-I 200) ;;
            young) extra=(-Y 2000) ;;
            longrun) extra=(-R 40 -K 10) ;;
          esac
        fi
        run_one scale "$part" "$tool" "$r" 120 "${CMD_PREFIX[@]}" "$W/scale_bench$BIN_SUFFIX" "$part" "${extra[@]}"
      done
    done
    # The young part again under lock_identity=instance (every lock a node of its own, no lock
    # classes: docs/design.md), beside native.
    for tool in native locksan; do
      tool_cmd "$tool"
      [[ $tool == locksan ]] && CMD_PREFIX=(env LOCKSAN_OPTIONS=lock_identity=instance LD_PRELOAD="$LIB_ABS")
      run_one scale young-instance "$tool" "$r" 120 "${CMD_PREFIX[@]}" "$W/scale_bench" young
    done
  done
fi

# ---- someone else's locking: SQLite (bench/sqlite_bench.c) -------------------------------
# The TSan binary is instrumented, libsqlite3 is not: TSan's interceptors still see every pthread
# call SQLite makes, which is all its deadlock detector needs. Helgrind runs 1/20 of the operations.
if [[ $HAVE_SQLITE == 1 ]]; then
  SQ_OPS=60000
  note "sqlite_bench: $ROUNDS rounds"
  for ((r = 1; r <= ROUNDS; r++)); do
    mapfile -t order < <(rotate $((r - 1)) "${TOOLS[@]}")
    for cfg in "sqlite-own4|own -t 4" "sqlite-shared4|shared -t 4"; do
      name=${cfg%%|*}; args=${cfg#*|}
      for tool in "${order[@]}"; do
        [[ $tool == helgrind && $r -gt $SLOW_ROUNDS ]] && continue
        tool_cmd "$tool"
        ops=$SQ_OPS; [[ $tool == helgrind ]] && ops=$((SQ_OPS / 20))
        # shellcheck disable=SC2086
        run_one real "$name" "$tool" "$r" 300 "${CMD_PREFIX[@]}" "$W/sqlite_bench$BIN_SUFFIX" $args -n "$ops"
      done
    done
  done
fi

# ---- Python ----------------------------------------------------------------------------
PYTHONS=()
if [[ $SKIP_PYTHON == 0 ]]; then
  for py in /root/.pyenv/versions/3.11.7/bin/python3 /usr/bin/python3.11; do
    if [[ -x "$py" ]]; then PYTHONS+=("$py"); meta "python:$py" "$("$py" -V 2>&1)"
    else note "python $py not found: its rows are skipped"; meta "python:$py" "not found"; fi
  done
fi
py_tag() { case "$1" in /root/.pyenv/*) echo "pyenv$("$1" -c 'import sys;print("%d.%d.%d"%sys.version_info[:3])')" ;; /usr/bin/*) echo "debian$("$1" -c 'import sys;print("%d.%d.%d"%sys.version_info[:3])')" ;; *) basename "$1" ;; esac; }
PY_TOOLS=(native)
[[ "${TOOL_STATUS[locksan]}" == ok ]] && PY_TOOLS+=(locksan)

if [[ ${#PYTHONS[@]} -gt 0 ]]; then
  note "gil_bench.py: $ROUNDS rounds"
  for ((r = 1; r <= ROUNDS; r++)); do
    mapfile -t order < <(rotate $((r - 1)) "${PY_TOOLS[@]}")
    for py in "${PYTHONS[@]}"; do
      tag=$(py_tag "$py")
      for tool in "${order[@]}"; do
        tool_cmd "$tool"
        run_one python "gil-$tag" "$tool" "$r" 300 "${CMD_PREFIX[@]}" "$py" bench/gil_bench.py
      done
    done
  done
  if [[ $SKIP_PYTESTS == 0 ]]; then
    note "python -m test test_threading test_queue: $SLOW_ROUNDS rounds"
    # If the suite hangs under the preload, the test that hung is named (and kept) in the table,
    # and the remaining rounds run the suite without it (config pytests-TAG-minus-TEST), native and
    # preloaded alike, so that the rest of the suite still gets a wall-time ratio.
    declare -A HUNG_TEST MINUS_RUNS
    run_pytests() { # round python tag
      local r=$1 py=$2 tag=$3 cfg="pytests-$3" extra=() tool base
      if [[ -n "${HUNG_TEST[$tag]:-}" ]]; then
        cfg="pytests-$tag-minus-${HUNG_TEST[$tag]}"; extra=(-i "${HUNG_TEST[$tag]}")
        MINUS_RUNS[$tag]=$(( ${MINUS_RUNS[$tag]:-0} + 1 ))
      fi
      for tool in "${order[@]}"; do
        tool_cmd "$tool"
        # run from a scratch directory: the test suite writes temporary files into the cwd
        mkdir -p "$W/pytest-cwd"
        run_one pytests "$cfg" "$tool" "$r" 180 "${CMD_PREFIX[@]}" sh -c 'cd "$1" && shift && exec "$@"' sh "$W/pytest-cwd" \
          "$py" -m test -v "${extra[@]}" test_threading test_queue
        # regrtest prints no RESULT line: describe the outcome from its own summary
        base="$W/logs/$cfg.$tool.$r"
        if [[ -f "$base.out" ]]; then
          "$PY_SUMMARY" bench/summarize.py --results "$W/results.tsv" --pytests-verdict "$base.out" --match "$cfg" "$tool" "$r"
          if [[ $cfg == "pytests-$tag" && -n "${SKIP_CONFIG[$cfg/$tool]:-}" ]]; then
            local t
            t=$(grep -v '^[[:space:]]*$' "$base.out" | tail -1 | sed -n 's/^\(test_[A-Za-z0-9_]*\) (.*/\1/p')
            if [[ -n "$t" ]]; then HUNG_TEST[$tag]=$t; note "$tag under $tool hung in $t: later rounds run the suite without it"; fi
          fi
        fi
      done
    }
    for ((r = 1; r <= SLOW_ROUNDS; r++)); do
      mapfile -t order < <(rotate $((r - 1)) "${PY_TOOLS[@]}")
      for py in "${PYTHONS[@]}"; do
        tag=$(py_tag "$py")
        if ! "$py" -c 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("test.test_threading") and u.find_spec("test.test_queue") else 1)' 2>/dev/null; then
          [[ $r == 1 ]] && { note "$py has no test.test_threading/test_queue (Debian: apt-get install libpython3.11-testsuite): skipped"; meta "pytests:$tag" "skipped: no test.test_threading (Debian: apt-get install libpython3.11-testsuite)"; }
          continue
        fi
        run_pytests "$r" "$py" "$tag"
      done
    done
    # --quick (1 round): one more round without the test that hung, if one did
    for py in "${PYTHONS[@]}"; do
      tag=$(py_tag "$py")
      if [[ -n "${HUNG_TEST[$tag]:-}" && -z "${MINUS_RUNS[$tag]:-}" ]]; then
        mapfile -t order < <(rotate 1 "${PY_TOOLS[@]}")
        run_pytests $((SLOW_ROUNDS + 1)) "$py" "$tag"
      fi
    done
  fi
fi

meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
meta load_max "$LOAD_MAX"

# ---------------------------------------------------------------------------------------------
note "summarising -> ${OUT}"
"$PY_SUMMARY" bench/summarize.py --results "$W/results.tsv" --meta "$W/meta.tsv" --out "$OUT"
