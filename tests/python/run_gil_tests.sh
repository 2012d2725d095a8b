#!/usr/bin/env bash
# tests/python/run_gil_tests.sh — builds core/python/*.cc with the test helpers and runs, on every
# CPython found on this machine:
#   1. layout_check.py  — the offsets in use equal those computed from the interpreter's own headers
#                         (skipped when its headers are not installed);
#   2. test_pystack.py  — CaptureCurrentThreadStack() equals the interpreter's own stack, exactly;
#   3. test_gil_probe.py under LD_PRELOAD=gil_probe.so — the GIL state machine on LocateGil()'s
#                         addresses gives the expected counts, one holder at a time, agreement with
#                         PyGILState_Check().
#   4. embed_test      — a C++ program without Python, then with libpython dlopen()ed RTLD_LOCAL:
#                         refusals before initialisation and after finalisation, GIL found through
#                         dl_iterate_phdr, held/released as PyEval_SaveThread/RestoreThread say
#                         (when the interpreter has a shared libpython).
# Ends with the line "N passed, N failed". Exit status 0 only when nothing failed.
#
# Interpreters: /usr/bin/python3.6 ... python3.14 (Debian/Ubuntu, statically linked), every
# $PYENV_ROOT/versions/*/bin/python3 (shared libpython), and those named in $LOCKSAN_PYTHONS
# (space separated). Missing ones are skipped with a message.
# Options (environment): LOCKSAN_PY_BUILD=<dir> (default: a fresh temporary directory),
# VERBOSE=1 (print every PASS line too).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
B="${LOCKSAN_PY_BUILD:-$(mktemp -d /tmp/locksan-python-tests.XXXXXX)}"
mkdir -p "$B"
CXX="${CXX:-g++}"
CC="${CC:-cc}"

total_pass=0
total_fail=0

fail_setup() {
  echo "FAIL build: $1"
  echo "0 passed, 1 failed"
  exit 1
}

# ---- build ----
CXXFLAGS="-std=c++17 -O2 -g -fPIC -fvisibility=hidden -fno-exceptions -Wall -Wextra -Werror -I$ROOT"
for f in layout gil pystack; do
  $CXX $CXXFLAGS -c "$ROOT/core/python/$f.cc" -o "$B/$f.o" || fail_setup "core/python/$f.cc"
done
$CXX $CXXFLAGS -c "$HERE/probe_bridge.cc" -o "$B/bridge.o" || fail_setup probe_bridge.cc
$CC -O2 -g -fPIC -fvisibility=hidden -Wall -Wextra -Werror -c "$HERE/gil_probe.c" -o "$B/probe.o" ||
  fail_setup gil_probe.c
CORE="$B/layout.o $B/gil.o $B/pystack.o"
$CXX -shared -o "$B/gil_probe.so" "$B/probe.o" "$B/bridge.o" $CORE -ldl -lpthread || fail_setup gil_probe.so
$CXX -shared -o "$B/pystack_testlib.so" "$B/bridge.o" $CORE -lpthread || fail_setup pystack_testlib.so
$CXX $CXXFLAGS "$HERE/embed_test.cc" $CORE -ldl -o "$B/embed_test" || fail_setup embed_test.cc
echo "built in $B"

# ---- interpreters ----
candidates=()
for m in 6 7 8 9 10 11 12 13 14; do candidates+=("/usr/bin/python3.$m"); done
PYENV_ROOT="${PYENV_ROOT:-/root/.pyenv}"
while IFS= read -r p; do candidates+=("$p"); done < <(ls -d "$PYENV_ROOT"/versions/*/bin/python3 2>/dev/null | sort -V)
for p in ${LOCKSAN_PYTHONS:-}; do candidates+=("$p"); done

declare -A seen
interpreters=()
for p in "${candidates[@]}"; do
  if [[ ! -x "$p" ]]; then
    case "$p" in */versions/\**) ;; *) echo "skip $p: not installed" ;; esac
    continue
  fi
  real="$(readlink -f "$p")"
  [[ -n "${seen[$real]:-}" ]] && continue
  seen[$real]=1
  ver="$("$p" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" || continue
  [[ "$ver" == 2.* ]] && { echo "skip $p: Python $ver"; continue; }
  interpreters+=("$p")
done

# run_step NAME COMMAND... — runs a test script, adds up its RESULT line; a crash counts as a failure.
run_step() {
  local name="$1"
  shift
  local out rc
  out="$(timeout 300 "$@" 2>&1)"
  rc=$?
  if [[ "${VERBOSE:-0}" == 1 ]]; then
    echo "$out" | sed 's/^/    /'
  else
    echo "$out" | grep -E '^(FAIL|INFO)' | sed 's/^/    /'
  fi
  local line
  line="$(echo "$out" | grep -E '^RESULT passed=[0-9]+ failed=[0-9]+$' | tail -1)"
  if [[ -z "$line" || $rc -ne 0 ]]; then
    echo "    FAIL $name: exit status $rc, no result line"
    echo "$out" | tail -5 | sed 's/^/      | /'
    total_fail=$((total_fail + 1))
    return
  fi
  local p f
  p="$(echo "$line" | sed -E 's/RESULT passed=([0-9]+) failed=([0-9]+)/\1/')"
  f="$(echo "$line" | sed -E 's/RESULT passed=([0-9]+) failed=([0-9]+)/\2/')"
  echo "    $name: $p passed, $f failed"
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
}

for py in "${interpreters[@]}"; do
  desc="$("$py" -c 'import sys; m = open("/proc/self/maps").read(); print(sys.version.split()[0], "libpython" if "libpython3" in m else "static")')"
  echo "== $py ($desc)"
  inc="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)"
  minor="$("$py" -c 'import sys; print(sys.version_info[1])')"
  if [[ "$minor" -ge 7 ]]; then
    tag="$(echo "$py" | tr '/' '_')"
    if [[ -f "$inc/internal/pycore_gil.h" || -f "$inc/internal/gil.h" ]]; then
      if $CC -I"$inc" -I"$inc/internal" "$HERE/layout_dump.c" -o "$B/layout_dump$tag" 2>"$B/layout_dump$tag.err"; then
        "$B/layout_dump$tag" >"$B/layout$tag.txt"
        run_step layout "$py" "$HERE/layout_check.py" "$B/pystack_testlib.so" "$B/layout$tag.txt"
      else
        echo "    FAIL layout: layout_dump.c does not compile against $inc"
        head -3 "$B/layout_dump$tag.err" | sed 's/^/      | /'
        total_fail=$((total_fail + 1))
      fi
    else
      echo "    skip layout check: no internal headers under $inc"
    fi
  fi
  libpy="$("$py" -c 'import os, sysconfig as s; print(os.path.join(s.get_config_var("LIBDIR") or "", s.get_config_var("INSTSONAME") or s.get_config_var("LDLIBRARY") or "-"))')"
  if [[ -f "$libpy" && "$libpy" == *.so* ]]; then
    run_step embed "$B/embed_test" "$libpy" "$("$py" -c 'import sys; print(sys.prefix)')"
  else
    echo "    skip embed test: no shared libpython ($libpy)"
  fi
  run_step pystack "$py" "$HERE/test_pystack.py" "$B/pystack_testlib.so"
  run_step gil_probe env LD_PRELOAD="$B/gil_probe.so" "$py" "$HERE/test_gil_probe.py" "$B/gil_probe.so"
done

if [[ ${#interpreters[@]} -eq 0 ]]; then
  echo "no CPython 3 found"
fi
echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 ]]
