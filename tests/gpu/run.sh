#!/usr/bin/env bash
# tests/gpu/run.sh — build and run the GPU tests; print a table and "N passed, N failed, N skipped".
#
#   bash tests/gpu/run.sh [REGEX]        # only tests whose name matches REGEX (grep -E)
#
# Without a GPU (no nvidia-smi, no device, or no libcuda.so.1) it prints "SKIP: no GPU" and exits 0.
# Builds:
#   - the project (cmake) if build/liblocksan.so is missing and a CMakeLists.txt exists;
#   - the standalone pieces into $LOCKSAN_GPU_BUILD (default build/gpu-tests): libsmoke_preload.so
#     (cupti/cupti_tracker.cc + tests/gpu/hooks_stub.cc + tests/gpu/smoke_preload.cc), cupti_smoke,
#     cudart_smoke (if nvcc is found).
# Rows "…@locksan" run the Python programs under the full build/liblocksan.so when it exists.
# Expected outcomes: pass | hang (deadlock: watchdog or timeout) | fail (a documented failure) |
#   report (stderr has "WARNING: locksan:") | report:KIND... (each kind reported; "report:KINDS|TEXT":
#   and the log has TEXT) | clean (pass and no locksan warning) | info (exit 0) | says:TEXT (exit 0, the
#   log has TEXT) | revived:N (exit 0, no warning, verbosity=1 counts at least N locks revived).
# Environment: PYTHON (default python3), LOCKSAN_GPU_BUILD, LOCKSAN_LIB (default build/liblocksan.so),
#   LOCKSAN_GPU_NO_CMAKE=1 (do not try the cmake build; the GPU machine lacks libdw-dev, so build here
#   and carry build/ instead).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${LOCKSAN_GPU_BUILD:-$ROOT/build/gpu-tests}
LOGS=$BUILD/logs
PY=${PYTHON:-python3}
FILTER=${1:-}
LOCKSAN_LIB=${LOCKSAN_LIB:-$ROOT/build/liblocksan.so}

# ---------------------------------------------------------------- GPU present?
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "SKIP: no GPU (nvidia-smi not found)"; exit 0
fi
if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "SKIP: no GPU (nvidia-smi finds no device)"; exit 0
fi
if ! (ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1') && \
   ! "$PY" -c 'import ctypes; ctypes.CDLL("libcuda.so.1")' >/dev/null 2>&1; then
  echo "SKIP: no GPU (libcuda.so.1 not loadable)"; exit 0
fi

echo "== card, driver: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
echo "== host: $(uname -sr), $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}"), $("$PY" -V 2>&1), $(date -u +%Y-%m-%dT%H:%MZ)"
mkdir -p "$BUILD" "$LOGS"

# ---------------------------------------------------------------- build
if [ -z "${LOCKSAN_GPU_NO_CMAKE:-}" ] && [ ! -f "$ROOT/build/liblocksan.so" ] && [ -f "$ROOT/CMakeLists.txt" ] &&
   command -v cmake >/dev/null; then
  echo "== cmake build of the project (log: $BUILD/cmake.log)"
  if (cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
      cmake --build "$ROOT/build" -j"$(nproc)") >"$BUILD/cmake.log" 2>&1; then
    echo "   ok"
  else
    echo "   FAILED (tail of the log:)"; tail -n 15 "$BUILD/cmake.log"
  fi
fi

CUDA_DIRS=()
[ -n "${CUDA_HOME:-}" ] && CUDA_DIRS+=("$CUDA_HOME")
CUDA_DIRS+=(/usr/local/cuda /usr/local/cuda-*)
INC=()
for d in "${CUDA_DIRS[@]}"; do
  for sub in include targets/x86_64-linux/include targets/sbsa-linux/include extras/CUPTI/include; do
    if [ -f "$d/$sub/cupti_callbacks.h" ] || [ -f "$d/$sub/cuda.h" ]; then INC+=("-I$d/$sub"); fi
  done
  [ ${#INC[@]} -gt 0 ] && break
done
NVCC=""
for c in "${CUDA_HOME:-/nonexistent}/bin/nvcc" /usr/local/cuda/bin/nvcc "$(command -v nvcc 2>/dev/null)"; do
  [ -n "$c" ] && [ -x "$c" ] && { NVCC=$c; break; }
done
echo "== build of the standalone pieces into $BUILD (CUDA headers: ${INC[*]:-none}; nvcc: ${NVCC:-none})"
BUILD_OK=1
if ! g++ -std=c++17 -O2 -g -fPIC -shared -Wall -I"$ROOT" "${INC[@]}" \
     "$ROOT/cupti/cupti_tracker.cc" "$HERE/hooks_stub.cc" "$HERE/smoke_preload.cc" \
     -o "$BUILD/libsmoke_preload.so" -ldl -pthread >"$BUILD/build.log" 2>&1; then
  BUILD_OK=0; echo "   libsmoke_preload.so: FAILED"; tail -n 20 "$BUILD/build.log"
fi
if ! g++ -std=c++17 -O2 -g -Wall "$HERE/cupti_smoke.cc" -o "$BUILD/cupti_smoke" -ldl -pthread \
     >>"$BUILD/build.log" 2>&1; then
  BUILD_OK=0; echo "   cupti_smoke: FAILED"; tail -n 20 "$BUILD/build.log"
fi
HAVE_CUDART=0
if [ -n "$NVCC" ]; then
  if "$NVCC" -O2 -arch=native "$HERE/cudart_smoke.cu" -o "$BUILD/cudart_smoke" -ldl >>"$BUILD/build.log" 2>&1 ||
     "$NVCC" -O2 -arch=sm_90 "$HERE/cudart_smoke.cu" -o "$BUILD/cudart_smoke" -ldl >>"$BUILD/build.log" 2>&1; then
    HAVE_CUDART=1
  else
    echo "   cudart_smoke: nvcc FAILED"; tail -n 10 "$BUILD/build.log"
  fi
fi
SMOKE=$BUILD/libsmoke_preload.so

# ---------------------------------------------------------------- runner
NAMES=(); EXPECTS=(); RESULTS=(); VERDICTS=(); SECS=()
PASSED=0; FAILED=0; SKIPPED=0

row() { printf '%-34s %-8s %-18s %-5s %7s\n' "$@"; }

# run_case NAME EXPECT TIMEOUT_S [ENV=VAL ...] -- CMD ARGS...
run_case() {
  local name=$1 expect=$2 tmo=$3; shift 3
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  if [ -n "$FILTER" ] && ! echo "$name" | grep -Eq -- "$FILTER"; then return; fi
  local log=$LOGS/$name.log t0 t1 rc result verdict
  t0=$(date +%s.%N)
  (cd "$HERE" && env "${envs[@]}" timeout -s KILL "$tmo" "$@") >"$log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  if grep -q '^SKIP:' "$log"; then result=skip
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then result=hang
  elif grep -q '^Timeout (' "$log"; then result=hang
  elif [ $rc -eq 0 ] && grep -q '^PASS$' "$log"; then result=pass
  elif [ $rc -eq 0 ] && grep -q '^NO HANG' "$log"; then result=no-hang
  else result="fail(rc=$rc)"
  fi
  local warned=0; grep -q 'WARNING: locksan:' "$log" && warned=1
  [ $warned -eq 1 ] && [ "$result" != skip ] && result="$result+report"
  case $expect in
    pass)   [[ $result == pass ]] && verdict=PASS || verdict=FAIL ;;
    hang)   [[ $result == hang* ]] && verdict=PASS || verdict=FAIL ;;
    fail)   [[ $result == fail* ]] && verdict=PASS || verdict=FAIL ;;
    report) [ $warned -eq 1 ] && verdict=PASS || verdict=FAIL ;;
    says:*)  # exit 0 and the log has this text
      [ $rc -eq 0 ] && grep -q -- "${expect#says:}" "$log" && verdict=PASS || verdict=FAIL ;;
    report:*)  # every listed kind must have been reported; after a '|', a text the log must have
      verdict=PASS
      local kinds=${expect#report:} text=""
      if [[ $kinds == *"|"* ]]; then text=${kinds#*|}; kinds=${kinds%%|*}; fi
      for k in $kinds; do
        grep -q "WARNING: locksan: ${k} " "$log" || verdict=FAIL
      done
      if [ -n "$text" ] && ! grep -qF -- "$text" "$log"; then verdict=FAIL; fi ;;
    revived:*)  # exit 0, no report, and verbosity=1's stats line counts at least this many revived locks
      local n; n=$(sed -n 's/.*stats: .* \([0-9][0-9]*\) locks revived.*/\1/p' "$log" | tail -1)
      [ $rc -eq 0 ] && [ $warned -eq 0 ] && [ -n "$n" ] && [ "$n" -ge "${expect#revived:}" ] && verdict=PASS || verdict=FAIL
      result="rc=$rc, ${n:-no} revived" ;;
    clean)  [[ $result == pass ]] && verdict=PASS || verdict=FAIL ;;
    info)   [ $rc -eq 0 ] && verdict=PASS || verdict=FAIL ;;
  esac
  [ "$result" = skip ] && verdict=SKIP
  case $verdict in PASS) PASSED=$((PASSED+1));; FAIL) FAILED=$((FAILED+1));; SKIP) SKIPPED=$((SKIPPED+1));; esac
  NAMES+=("$name"); EXPECTS+=("$expect"); RESULTS+=("$result"); VERDICTS+=("$verdict"); SECS+=("$secs")
  row "$name" "$expect" "$result" "$verdict" "$secs"
  if [ "$verdict" = FAIL ]; then sed 's/^/      | /' "$log" | tail -n 25; fi
}

skip_case() {  # NAME EXPECT WHY
  if [ -n "$FILTER" ] && ! echo "$1" | grep -Eq -- "$FILTER"; then return; fi
  SKIPPED=$((SKIPPED+1))
  NAMES+=("$1"); EXPECTS+=("$2"); RESULTS+=("skip: $3"); VERDICTS+=(SKIP); SECS+=("0.0")
  row "$1" "$2" "skip: $3" SKIP 0.0
}

echo
row test expected result verdict seconds
row ---- -------- ------ ------- -------

# ---- the tracker, from C (driver API), C++ (runtime API) and Python (ctypes)
if [ $BUILD_OK -eq 1 ]; then
  run_case cupti_smoke.driver   pass 60 LD_PRELOAD="$SMOKE" LOCKSAN_STUB_LOCKS=1 -- "$BUILD/cupti_smoke" driver
  run_case cupti_smoke.presub   pass 60 -- "$BUILD/cupti_smoke" presub "$SMOKE"
  run_case cupti_smoke.yield    pass 60 LD_PRELOAD="$SMOKE" -- "$BUILD/cupti_smoke" yield
  run_case cupti_smoke.inject   pass 20 CUDA_INJECTION64_PATH="$SMOKE" -- "$BUILD/cupti_smoke" inject
  run_case bench.no-preload     info 60 -- "$BUILD/cupti_smoke" bench 2000000
  run_case bench.preload-off    info 60 LD_PRELOAD="$SMOKE" LOCKSAN_CUPTI=0 -- "$BUILD/cupti_smoke" bench 2000000
  run_case bench.tracking       info 60 LD_PRELOAD="$SMOKE" -- "$BUILD/cupti_smoke" bench 2000000
  run_case bench.own-empty-cb   info 60 -- "$BUILD/cupti_smoke" bench-own 2000000
  run_case bench.own-one-cb     info 60 -- "$BUILD/cupti_smoke" bench-own-one 2000000
  if [ $HAVE_CUDART -eq 1 ]; then
    run_case cudart_smoke       pass 60 LD_PRELOAD="$SMOKE" -- "$BUILD/cudart_smoke"
  else
    skip_case cudart_smoke pass "no nvcc"
  fi
  run_case py_ctypes_smoke      pass 60 LD_PRELOAD="$SMOKE" -- "$PY" py_ctypes_smoke.py
else
  for t in cupti_smoke.driver cupti_smoke.presub cupti_smoke.yield cudart_smoke py_ctypes_smoke; do
    NAMES+=("$t"); EXPECTS+=(pass); RESULTS+=("build failed"); VERDICTS+=(FAIL); SECS+=("0.0")
    FAILED=$((FAILED+1)); row "$t" pass "build failed" FAIL 0.0
  done
fi

# ---- the seed bug and its relatives, natively (no preload)
run_case seed_single          pass 90  -- "$PY" seed_single.py
run_case seed_hang            hang 90  -- "$PY" seed_hang.py --seconds 30 --watchdog 5
run_case hostfunc_gil         hang 60  -- "$PY" hostfunc_gil.py --sync pydll
run_case hostfunc_ok          pass 60  -- "$PY" hostfunc_gil.py --sync cdll
run_case clean_torch          pass 120 -- "$PY" clean_torch.py
run_case clean_cupy           pass 120 -- "$PY" clean_cupy.py
run_case clean_numba          pass 120 -- "$PY" clean_numba.py
run_case profiler_torch       pass 120 -- "$PY" profiler_torch.py

# ---- Python programs under the smoke preload (tracker active, stub core)
if [ $BUILD_OK -eq 1 ]; then
  run_case seed_single@tracker     pass 90  LD_PRELOAD="$SMOKE" LOCKSAN_STUB_LOCKS=1 -- "$PY" seed_single.py
  run_case hostfunc_ok@tracker     pass 60  LD_PRELOAD="$SMOKE" -- "$PY" hostfunc_gil.py --sync cdll
  run_case clean_torch@tracker     pass 120 LD_PRELOAD="$SMOKE" -- "$PY" clean_torch.py
  run_case clean_cupy@tracker      pass 120 LD_PRELOAD="$SMOKE" -- "$PY" clean_cupy.py
  run_case clean_numba@tracker     pass 120 LD_PRELOAD="$SMOKE" -- "$PY" clean_numba.py
  run_case profiler_torch@tracker  pass 120 LD_PRELOAD="$SMOKE" LOCKSAN_TEST_ONE_CUPTI=1 -- "$PY" profiler_torch.py
  run_case profiler_torch@noyield  fail 120 LD_PRELOAD="$SMOKE" LOCKSAN_CUPTI_YIELD=0 -- "$PY" profiler_torch.py
fi

# ---- under the full runtime
if [ -f "$LOCKSAN_LIB" ]; then
  L=$LOCKSAN_LIB
  # The report names the Python callback (b2d) that the driver calls back (docs/python.md).
  run_case bench.locksan           info 60 LD_PRELOAD="$L" LOCKSAN_BENCH_LABEL=locksan -- "$BUILD/cupti_smoke" bench 2000000
  run_case bench.locksan-off       info 60 LD_PRELOAD="$L" LOCKSAN_OPTIONS=cuda_tracking=off LOCKSAN_BENCH_LABEL=locksan-cuda-off -- "$BUILD/cupti_smoke" bench 2000000
  run_case bench.locksan-needed    info 60 LD_PRELOAD="$L" LOCKSAN_OPTIONS=cuda_calls=needed LOCKSAN_BENCH_LABEL=locksan-needed -- "$BUILD/cupti_smoke" bench 2000000
  run_case bench.locksan-all       info 60 LD_PRELOAD="$L" LOCKSAN_OPTIONS=cuda_calls=all LOCKSAN_BENCH_LABEL=locksan-all -- "$BUILD/cupti_smoke" bench 2000000
  run_case seed_single@needed      "report:python-callback-in-driver-call|cuOccupancyMaxPotentialBlockSize" 120 LD_PRELOAD="$L" LOCKSAN_OPTIONS=cuda_calls=needed -- "$PY" seed_single.py
  run_case hostfunc_gil@needed     "report:lock-order-inversion deadlock" 90 LD_PRELOAD="$L" LOCKSAN_OPTIONS=cuda_calls=needed -- "$PY" hostfunc_gil.py --sync pydll --watchdog 10
  run_case clean_cupy@needed       clean 300  LOCKSAN_GPU_NO_FAULTHANDLER=1 LD_PRELOAD="$L" LOCKSAN_OPTIONS=cuda_calls=needed -- "$PY" clean_cupy.py
  run_case status@needed           "says:cuda_calls=needed: " 300 LOCKSAN_GPU_NO_FAULTHANDLER=1 LD_PRELOAD="$L" LOCKSAN_OPTIONS=cuda_calls=needed:verbosity=1 -- "$PY" clean_cupy.py
  run_case seed_single@locksan     "report:python-callback-in-driver-call|Python callback: b2d at " 120 LD_PRELOAD="$L" -- "$PY" seed_single.py
  run_case seed_hang@locksan       "report:python-callback-in-driver-call deadlock|Python callback: b2d at " 120 LD_PRELOAD="$L" -- "$PY" seed_hang.py --seconds 30 --watchdog 10
  run_case hostfunc_gil@locksan    "report:lock-order-inversion deadlock" 90  LD_PRELOAD="$L" -- "$PY" hostfunc_gil.py --sync pydll --watchdog 10
  run_case hostfunc_ok@locksan     clean 90   LOCKSAN_GPU_NO_FAULTHANDLER=1 LD_PRELOAD="$L" -- "$PY" hostfunc_gil.py --sync cdll
  run_case clean_torch@locksan     clean 300  LOCKSAN_GPU_NO_FAULTHANDLER=1 LD_PRELOAD="$L" -- "$PY" clean_torch.py
  run_case clean_cupy@locksan      clean 300  LOCKSAN_GPU_NO_FAULTHANDLER=1 LD_PRELOAD="$L" -- "$PY" clean_cupy.py
  run_case clean_numba@locksan     clean 300  LOCKSAN_GPU_NO_FAULTHANDLER=1 LD_PRELOAD="$L" -- "$PY" clean_numba.py
  # libcuda re-creates two recursive mutexes at the same addresses on every CuPy step: both come back
  # as the same graph nodes (the recurring-driver-lock rule), ~2 revivals a step.
  run_case revived_cupy@locksan    revived:500 300 LD_PRELOAD="$L" LOCKSAN_OPTIONS=verbosity=1 -- "$PY" ../../bench/gpu_bench.py cupy --steps 300
  # verbosity=1 counts the driver calls CUPTI forwarded, by function (the callback ids reach the core).
  run_case calls@locksan           "says:driver calls seen through CUPTI: " 300 LOCKSAN_GPU_NO_FAULTHANDLER=1 LD_PRELOAD="$L" LOCKSAN_OPTIONS=verbosity=1 -- "$PY" clean_cupy.py
  # cuda_calls=adaptive (the default): functions called 1,000 times in a row with no lock first taken
  # inside are let go; the rules' functions are kept (seed_single, hostfunc_gil above).
  run_case adaptive@locksan        "says:driver functions no longer reported by CUPTI (cuda_calls=adaptive): " 300 LOCKSAN_GPU_NO_FAULTHANDLER=1 LD_PRELOAD="$L" LOCKSAN_OPTIONS=verbosity=1 -- "$PY" clean_torch.py
  run_case seed_single@all         "report:python-callback-in-driver-call|cuOccupancyMaxPotentialBlockSize" 120 LD_PRELOAD="$L" LOCKSAN_OPTIONS=cuda_calls=all -- "$PY" seed_single.py
  # lock_identity=site: the program's locks first locked on one call path share a node (lockdep's
  # classes); the driver rules and the clean programs must read as under the default.
  run_case seed_single@site        "report:python-callback-in-driver-call|cuOccupancyMaxPotentialBlockSize" 120 LD_PRELOAD="$L" LOCKSAN_OPTIONS=lock_identity=site -- "$PY" seed_single.py
  run_case hostfunc_gil@site       "report:lock-order-inversion deadlock" 90  LD_PRELOAD="$L" LOCKSAN_OPTIONS=lock_identity=site -- "$PY" hostfunc_gil.py --sync pydll --watchdog 10
  run_case clean_torch@site        "says:lock_identity=site: " 300 LOCKSAN_GPU_NO_FAULTHANDLER=1 LD_PRELOAD="$L" LOCKSAN_OPTIONS=lock_identity=site:verbosity=1 -- "$PY" clean_torch.py
  run_case clean_cupy@site         clean 300  LOCKSAN_GPU_NO_FAULTHANDLER=1 LD_PRELOAD="$L" LOCKSAN_OPTIONS=lock_identity=site -- "$PY" clean_cupy.py
  run_case clean_numba@site        clean 300  LOCKSAN_GPU_NO_FAULTHANDLER=1 LD_PRELOAD="$L" LOCKSAN_OPTIONS=lock_identity=site -- "$PY" clean_numba.py
  run_case profiler_torch@locksan  "says:locksan gave CUPTI up" 300  LOCKSAN_GPU_NO_FAULTHANDLER=1 LOCKSAN_OPTIONS=exitcode=0 LD_PRELOAD="$L" -- "$PY" profiler_torch.py
else
  for t in seed_single seed_hang hostfunc_gil hostfunc_ok clean_torch clean_cupy clean_numba profiler_torch; do
    case $t in seed_*|hostfunc_gil) e=report;; *) e=clean;; esac
    skip_case "$t@locksan" "$e" "no $(basename "$LOCKSAN_LIB")"
  done
  for t in seed_single hostfunc_gil clean_torch clean_cupy clean_numba; do
    case $t in seed_*|hostfunc_gil) e=report;; *) e=clean;; esac
    skip_case "$t@site" "$e" "no $(basename "$LOCKSAN_LIB")"
  done
fi

# ---------------------------------------------------------------- summary
echo
echo "== facts observed"
grep -h '^FACT:' "$LOGS"/*.log 2>/dev/null | sort -u | sed 's/^/  /'
echo "== tracker status lines"
grep -h 'locksan-stub\[exit\]: status:\|SetDriverTrackingStatus' "$LOGS"/*.log 2>/dev/null | sort | uniq -c | sed 's/^/  /'
echo "== driver-call cost (best of 5 runs of 2e6 calls)"
grep -h '^BENCH' "$LOGS"/bench.*.log 2>/dev/null | sed 's/^/  /'
awk '/^BENCH .* cuCtxGetCurrent/ { c[$2]=$4; d[$2]=$7 }
     END { if (("no-preload" in c) && ("preload-tracking" in c))
             printf "  tracking adds %.1f ns to cuCtxGetCurrent, %.1f ns to cuDeviceGet\n", c["preload-tracking"]-c["no-preload"], d["preload-tracking"]-d["no-preload"];
           if (("no-preload" in c) && ("locksan" in c))
             printf "  the full library adds %.1f ns / %.1f ns (CUPTI on, cuda_calls=adaptive)\n", c["locksan"]-c["no-preload"], d["locksan"]-d["no-preload"];
           if (("no-preload" in c) && ("locksan-all" in c))
             printf "  the full library with cuda_calls=all adds %.1f ns / %.1f ns\n", c["locksan-all"]-c["no-preload"], d["locksan-all"]-d["no-preload"];
           if (("no-preload" in c) && ("locksan-needed" in c))
             printf "  the full library with cuda_calls=needed adds %.1f ns / %.1f ns\n", c["locksan-needed"]-c["no-preload"], d["locksan-needed"]-d["no-preload"];
           if (("no-preload" in c) && ("locksan-cuda-off" in c))
             printf "  the full library with cuda_tracking=off adds %.1f ns / %.1f ns\n", c["locksan-cuda-off"]-c["no-preload"], d["locksan-cuda-off"]-d["no-preload"];
           if (("no-preload" in c) && ("own-one-callback" in c))
             printf "  an empty CUPTI callback enabled for one other function only adds %.1f ns / %.1f ns\n", c["own-one-callback"]-c["no-preload"], d["own-one-callback"]-d["no-preload"];
           if (("no-preload" in c) && ("own-empty-subscriber" in c))
             printf "  an empty CUPTI callback alone adds %.1f ns / %.1f ns\n", c["own-empty-subscriber"]-c["no-preload"], d["own-empty-subscriber"]-d["no-preload"] }' \
    "$LOGS"/bench.*.log 2>/dev/null

echo
echo "== results ($(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1))"
row test expected result verdict seconds
for i in "${!NAMES[@]}"; do
  row "${NAMES[$i]}" "${EXPECTS[$i]}" "${RESULTS[$i]}" "${VERDICTS[$i]}" "${SECS[$i]}"
done
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
echo "(logs: $LOGS)"
[ $FAILED -eq 0 ]
