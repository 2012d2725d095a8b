#!/usr/bin/env bash
# tests/python_e2e/run_cpython_suites.sh — CPython's own thread test suites with and without locksan.
#
# For every interpreter found (as run_py_e2e.py --list-pythons finds them) and every module below, runs
#   python -m test MODULE                                   (native)
#   LD_PRELOAD=liblocksan.so LOCKSAN_OPTIONS=exitcode=0:log_path=DIR/locksan python -m test MODULE
# one process at a time, each under `timeout`, and prints a table: interpreter, module, native result and
# seconds, locksan result and seconds, the ratio, and the locksan reports (every process's reports go to
# files under DIR, so reports from the subprocesses the tests start are counted too, and their stderr —
# which some tests check — stays as without locksan). exitcode=0 keeps the exit status the tests'.
#
# Usage: tests/python_e2e/run_cpython_suites.sh [--lib build/liblocksan.so] [--out DIR] [--timeout SECONDS]
#                                               [--modules "test_threading test_thread ..."] [PYTHON ...]
# Logs: DIR/<interpreter>/<module>.{native,locksan}.log and DIR/<interpreter>/<module>.reports/.
# Exit status: 0 when every module had the same result with and without locksan, no hang, no crash and no
# report; 1 otherwise. Takes about an hour for 8 interpreters on 2 cores (test_concurrent_futures dominates).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LIB="$ROOT/build/liblocksan.so"
OUT="/tmp/locksan-cpython-suites-$(date +%Y%m%d-%H%M%S)"
TIMEOUT=900
MODULES="test_threading test_thread test_queue test_concurrent_futures"
PYTHONS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --lib) LIB="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --modules) MODULES="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) PYTHONS+=("$1"); shift ;;
  esac
done
LIB="$(readlink -f "$LIB")"
[ -f "$LIB" ] || { echo "no $LIB (build it first)"; exit 1; }
if [ ${#PYTHONS[@]} -eq 0 ]; then
  while read -r _id path _v; do PYTHONS+=("$path"); done < <(python3 "$HERE/run_py_e2e.py" --list-pythons)
fi
mkdir -p "$OUT/lib"
TABLE="$OUT/table.md"
# Snapshot the library (and the libunwind/libdw/libelf copies beside it): the build directory may be
# rebuilt while this runs for an hour, and a half-written liblocksan.so is silently not preloaded.
for f in "$(dirname "$LIB")"/*.so*; do cp -p "$f" "$OUT/lib/"; done
LIB="$OUT/lib/$(basename "$LIB")"
if LD_PRELOAD="$LIB" /bin/true 2>&1 | grep -q 'cannot be preloaded'; then echo "cannot preload $LIB"; exit 1; fi
echo "locksan: $LIB ($(stat -c %y "$LIB" | cut -d. -f1)); logs: $OUT; timeout ${TIMEOUT}s per run"

# A clean environment for the interpreters (no user PYTHON*/LOCKSAN* settings).
base_env=(env)
for v in $(env | sed -n 's/^\(PYTHON[A-Z_]*\|LOCKSAN[A-Z_]*\|LD_PRELOAD\)=.*/\1/p'); do base_env+=(-u "$v"); done

# result LOG RC -> one word: SUCCESS, FAILURE, ENV_CHANGED, NO_TESTS, TIMEOUT, SIGNAL-n, or rc=N
result_of() {
  local log="$1" rc="$2" r
  case "$rc" in
    124|137) echo TIMEOUT; return ;;
  esac
  if [ "$rc" -gt 128 ]; then echo "SIGNAL-$((rc - 128))"; return; fi
  r="$(grep -a -o -E '^(== )?(Tests r|R)esult: [A-Z ,_]*' "$log" | tail -1 | sed -E 's/.*esult: //; s/ *$//; s/, then.*//; s/ /_/g')"
  if [ -z "$r" ]; then
    if grep -aq '^1 test OK' "$log"; then r=SUCCESS
    elif grep -aq 'test .* failed' "$log"; then r=FAILURE
    elif grep -aq 'test .* skipped' "$log"; then r=SKIPPED
    else r="rc=$rc"; fi
  fi
  # regrtest counts "env changed" (e.g. a leaked child process) as success unless --fail-env-changed
  if grep -aq 'altered the execution environment' "$log"; then r="$r+ENV_CHANGED"; fi
  echo "$r"
}

# run_one PY MODULE MODE(native|locksan) -> sets RESULT SECONDS_USED
run_one() {
  local py="$1" mod="$2" mode="$3" dir="$4" rc t0 t1
  local log="$dir/$mod.$mode.log"
  local work="$dir/$mod.$mode.cwd"
  rm -rf "$work"; mkdir -p "$work"
  local cmd=("${base_env[@]}")
  if [ "$mode" = locksan ]; then
    rm -rf "$dir/$mod.reports"; mkdir -p "$dir/$mod.reports"
    cmd+=(LD_PRELOAD="$LIB" LOCKSAN_OPTIONS="exitcode=0:log_path=$dir/$mod.reports/locksan")
  fi
  t0=$(date +%s.%N)
  (cd "$work" && timeout -k 20 "$TIMEOUT" "${cmd[@]}" "$py" -m test "$mod" > "$log" 2>&1)
  rc=$?
  t1=$(date +%s.%N)
  RESULT="$(result_of "$log" "$rc")"
  SECONDS_USED="$(echo "$t1 - $t0" | bc)"
  rm -rf "$work"
}

# reports DIR LOG -> "0" or "N (kind×n, ...)": the headlines in every report file and in the run's output
reports_of() {
  local rdir="$1" log="$2"
  local lines
  lines="$(cat "$rdir"/locksan.* "$log" 2>/dev/null | grep -a -o '^==[0-9]*==WARNING: locksan: [a-z-]*' |
           sed 's/.*locksan: //' | sort | uniq -c)"
  if [ -z "$lines" ]; then echo 0; return; fi
  echo "$lines" | awk '{n += $1; s = s (NR > 1 ? ", " : "") $2 "×" $1} END {print n " (" s ")"}'
}

status=0
{
  echo "| interpreter | module | native | locksan | ratio | reports |"
  echo "| --- | --- | --- | --- | --- | --- |"
} > "$TABLE"
for py in "${PYTHONS[@]}"; do
  ver="$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)" || { echo "skip $py"; continue; }
  minor="$(echo "$ver" | cut -d. -f1,2)"
  case "$py" in
    /usr/bin/*) name="$ver (Debian, static)" ;;
    *) name="$ver (pyenv)" ;;
  esac
  dir="$OUT/$(echo "$py" | tr '/' '_' | sed 's/^_//')"
  mkdir -p "$dir"
  testdir="$("$py" -c 'import os, test; print(os.path.dirname(test.__file__))' 2>/dev/null)"
  for mod in $MODULES; do
    if [ -z "$testdir" ] || { [ ! -e "$testdir/$mod.py" ] && [ ! -d "$testdir/$mod" ]; }; then
      row="| $name | $mod | not shipped | – | – | – |"
      echo "$row" | tee -a "$TABLE"
      continue
    fi
    run_one "$py" "$mod" native "$dir"; nres="$RESULT"; nsec="$SECONDS_USED"
    run_one "$py" "$mod" locksan "$dir"; lres="$RESULT"; lsec="$SECONDS_USED"
    reps="$(reports_of "$dir/$mod.reports" "$dir/$mod.locksan.log")"
    ratio="$(echo "scale=2; $lsec / $nsec" | bc)"
    mark=""
    if [ "$nres" != "$lres" ] || [ "$reps" != 0 ] || [ "$lres" = TIMEOUT ] || [ "${lres#SIGNAL}" != "$lres" ]; then
      mark=" **≠**"; status=1
    fi
    row="$(printf '| %s | %s | %s %.0f s | %s %.0f s | %s | %s%s |' "$name" "$mod" "$nres" "$nsec" "$lres" "$lsec" \
                  "$ratio" "$reps" "$mark")"
    echo "$row" | tee -a "$TABLE"
  done
done
echo
echo "Table: $TABLE"
cat "$TABLE"
exit $status
