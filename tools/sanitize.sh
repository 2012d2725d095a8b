#!/usr/bin/env bash
# tools/sanitize.sh — locksan itself under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   tools/sanitize.sh [--build-dir DIR] [--skip-build] [--no-e2e] [--e2e-tests "a.c b.c"] [--no-deepbind]
#
# 1. Builds the runtime, the `locksan` tool and the unit tests with -DLOCKSAN_SANITIZE=address,undefined
#    into build-asan/ (or DIR) and runs the unit tests (GoogleTest) and the JSON writer test there.
#    (Note the comma: the CMake option is pasted into -fsanitize=..., so "address;undefined" would
#    become two words.)
# 2. Runs the ASan-built `locksan report` on the report fuzzing corpus (tests/fuzz/corpus/report).
# 3. e2e level: the ASan-built liblocksan.so cannot be preloaded alone (the ASan runtime must come
#    first in the initial library list), so the e2e tests (tests/e2e/*.c*, built normally, without
#    -fsanitize) run through tests/e2e/run_test.py with
#        LD_PRELOAD=$(gcc -print-file-name=libasan.so):build-asan/liblocksan.so
#        ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
#    Every memory error or undefined behaviour in the runtime (instrumented) aborts the test program.
#    Known, expected differences under ASan (listed in docs/reliability.md): libasan's free() comes
#    first in the symbol search order, so locksan's free() interceptor is not called (heap-reuse
#    detection is off) -- heap_reuse.cc is skipped.
#    The runtime dlopen()s its private libunwind/libdw with RTLD_DEEPBIND, which ASan refuses
#    ("incompatible with sanitizer runtime") and dies. Until the runtime avoids RTLD_DEEPBIND under
#    a sanitizer, --no-deepbind builds the library from a copy of the sources with RTLD_DEEPBIND
#    replaced by 0 (in DIR/src-nodeepbind) for this step only. Without it the e2e step checks whether
#    the plain build-asan library runs at all and stops with that diagnosis if not.
#
# Exit status: 0 when everything ran clean, 1 otherwise (the failing step is named).
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-asan"
skip_build=0
e2e=1
no_deepbind=0
e2e_tests=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --build-dir=*) build="${1#*=}"; shift ;;
    --skip-build) skip_build=1; shift ;;
    --no-e2e) e2e=0; shift ;;
    --no-deepbind) no_deepbind=1; shift ;;
    --e2e-tests) e2e_tests="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "sanitize.sh: unknown argument '$1'"; exit 2 ;;
  esac
done
jobs="$(nproc 2>/dev/null || echo 2)"
status=0
step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*"; status=1; }

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

# ---------------------------------------------------------------------------------------------
step "1. build with ASan+UBSan into $build"
if [ $skip_build -eq 0 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DLOCKSAN_SANITIZE=address,undefined" \
    >"$build.cmake.log" 2>&1 || { cat "$build.cmake.log"; echo "cmake failed"; exit 1; }
  cmake --build "$build" -j"$jobs" --target locksan locksan_tool locksan_unit_tests \
    >"$build.build.log" 2>&1 || { tail -40 "$build.build.log"; echo "build failed"; exit 1; }
  # The JSON writer test lives in tests/report (another stream's directory): build it when present.
  cmake --build "$build" -j"$jobs" --target locksan_json_writer_test >>"$build.build.log" 2>&1 || true
  grep -E "warning:" "$build.build.log" | sort -u | head -20
fi

step "1b. unit tests under ASan+UBSan"
if [ -x "$build/tests/locksan_unit_tests" ]; then
  "$build/tests/locksan_unit_tests" --gtest_brief=1 >"$build/unit.log" 2>&1 && tail -3 "$build/unit.log" ||
    { tail -60 "$build/unit.log"; fail "unit tests (log: $build/unit.log)"; }
else
  fail "no unit test binary"
fi
if [ -x "$build/tests/report/locksan_json_writer_test" ]; then
  "$build/tests/report/locksan_json_writer_test" --gtest_brief=1 >"$build/json_writer.log" 2>&1 &&
    tail -1 "$build/json_writer.log" || { tail -60 "$build/json_writer.log"; fail "json writer test"; }
fi

# ---------------------------------------------------------------------------------------------
step "2. ASan-built 'locksan report' on the report corpus"
corpus="$root/tests/fuzz/corpus/report"
if [ -d "$corpus" ] && [ -x "$build/locksan" ]; then
  tmp="$(mktemp -d)"
  n=0 bad=0
  for f in "$corpus"/*; do
    [ -f "$f" ] || continue
    # The corpus entries carry a mode byte before the JSON (tests/fuzz/fuzz_report.cc): strip it.
    tail -c +2 "$f" | sed 's/\xff.*//' >"$tmp/in.json"
    for fmt in text json sarif junit; do
      n=$((n + 1))
      ASAN_OPTIONS="$ASAN_OPTIONS" "$build/locksan" report --format=$fmt -o "$tmp/out" "$tmp/in.json" >"$tmp/log" 2>&1
      rc=$?
      if [ $rc -gt 2 ]; then
        bad=$((bad + 1))
        echo "  $(basename "$f") --format=$fmt: exit $rc"
        grep -E "ERROR: AddressSanitizer|runtime error|terminate called|what\(\)" "$tmp/log" | head -3 | sed 's/^/    /'
      fi
    done
  done
  rm -rf "$tmp"
  echo "  $n runs, $bad abnormal exits"
  [ $bad -eq 0 ] || fail "locksan report under ASan"
fi

# ---------------------------------------------------------------------------------------------
if [ $e2e -eq 1 ]; then
  step "3. e2e tests with LD_PRELOAD=libasan.so:liblocksan.so (ASan+UBSan runtime)"
  asan_rt="$(gcc -print-file-name=libasan.so)"
  lib="$build/liblocksan.so"
  if [ $no_deepbind -eq 1 ]; then
    src="$build/src-nodeepbind"
    echo "  --no-deepbind: building the library from $src (RTLD_DEEPBIND -> 0)"
    rm -rf "$src" && mkdir -p "$src"
    (cd "$root" && git ls-files -co --exclude-standard core cupti preload report tools CMakeLists.txt |
       tar -cf - -T - ) | tar -xf - -C "$src"
    mkdir -p "$src/tests" && : >"$src/tests/CMakeLists.txt"
    grep -rl RTLD_DEEPBIND "$src/core" "$src/cupti" "$src/preload" 2>/dev/null | xargs -r sed -i 's/RTLD_DEEPBIND/0/g'
    cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOCKSAN_BUILD_TESTS=OFF \
      "-DLOCKSAN_SANITIZE=address,undefined" >"$src/cmake.log" 2>&1 &&
      cmake --build "$src/build" -j"$jobs" --target locksan >"$src/build.log" 2>&1 ||
      { tail -30 "$src/build.log"; fail "no-deepbind build"; }
    lib="$src/build/liblocksan.so"
  fi
  # Probe: can the ASan runtime + this library run a program that reports (it symbolises)?
  probe="$(mktemp -d)"
  cat >"$probe/p.c" <<'EOF'
#include <pthread.h>
pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
int main(void) {
  pthread_mutex_lock(&a); pthread_mutex_lock(&b); pthread_mutex_unlock(&b); pthread_mutex_unlock(&a);
  pthread_mutex_lock(&b); pthread_mutex_lock(&a); pthread_mutex_unlock(&a); pthread_mutex_unlock(&b);
  return 0;
}
EOF
  gcc -g -pthread "$probe/p.c" -o "$probe/p"
  LD_PRELOAD="$asan_rt:$lib" ASAN_OPTIONS=detect_leaks=0 "$probe/p" >"$probe/out" 2>&1
  rc=$?
  if [ $rc -ne 66 ]; then
    echo "  the ASan-built runtime cannot run a program (exit $rc, expected 66):"
    head -5 "$probe/out" | sed 's/^/    /'
    if grep -q RTLD_DEEPBIND "$probe/out"; then
      echo "  -> the runtime dlopen()s libunwind/libdw with RTLD_DEEPBIND, which ASan refuses."
      echo "     Rerun with --no-deepbind to check the rest of the runtime."
    fi
    fail "e2e under ASan: runtime does not start"
    rm -rf "$probe"
  else
    rm -rf "$probe"
    tests=()
    if [ -n "$e2e_tests" ]; then
      for t in $e2e_tests; do tests+=("$root/tests/e2e/$t"); done
    else
      for t in "$root"/tests/e2e/*.c "$root"/tests/e2e/*.cc; do
        case "$(basename "$t")" in
          heap_reuse.cc) continue ;;  # libasan's free() shadows locksan's interceptor (see above)
        esac
        tests+=("$t")
      done
    fi
    work="$build/e2e-asan"
    rm -rf "$work" && mkdir -p "$work"
    # run_test.py as a module: the same runner, with a two-library LD_PRELOAD.
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=0" python3 - "$asan_rt:$lib" "$work" "${tests[@]}" \
      >"$work/log" 2>&1 <<EOF
import sys, types
sys.path.insert(0, "$root/tests/e2e")
import run_test
preload, work, tests = sys.argv[1], sys.argv[2], sys.argv[3:]
args = types.SimpleNamespace(lib=preload, workdir=work, cc="cc", cxx="c++", verbose=False)
r = run_test.Runner(args)
r.lib = preload  # abspath() of "A:B" keeps it; set it explicitly anyway
failed = []
for t in tests:
    try:
        fails = r.run_test(t)
    except run_test.TestError as e:
        print("ERROR %s: %s" % (t, e))
        fails = [str(e)]
    if fails:
        failed.append(t)
    sys.stdout.flush()
print("\n%d of %d test file(s) failed under ASan" % (len(failed), len(tests)))
for t in failed:
    print("  " + t)
sys.exit(1 if failed else 0)
EOF
    grep -E "^(PASS|FAIL|ERROR)" "$work/log" | sed 's/^/  /'
    # What the sanitizers found, in any run (passing or not): the outputs are kept per variant.
    # A report in "thread T-1" is in a thread that ASan does not know: one created in a forked child
    # (gcc 12's libasan does not follow fork), which runs on a stack cached from a parent's thread
    # whose frame poisoning was never cleared, so any write there is reported. Counted, not failed.
    scan='/ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: AddressSanitizer/ {
            if (held != "") print (forked ? "FORKED " : "") held; held = $0; forked = 0; next }
          held != "" { if ($0 ~ /thread T-1/) forked = 1; print (forked ? "FORKED " : "") held; held = "" }
          END { if (held != "") print held }'
    all="$(for f in "$work"/*.tmp/out.*.stderr "$work"/*.tmp/out.*.stdout; do
             [ -f "$f" ] && awk "$scan" "$f"; done 2>/dev/null |
           sed -E 's/==[0-9]+==/==PID==/; s/0x[0-9a-f]+/0x.../g')"
    forked="$(echo "$all" | grep -c '^FORKED ' || true)"
    findings="$(echo "$all" | grep -v '^FORKED ' | grep -v '^$' | sort | uniq -c)"
    [ "$forked" -gt 0 ] && echo "  not counted: $forked ASan report(s) in threads created in forked children (ASan does not track them)"
    if [ -n "$findings" ]; then
      echo "  sanitizer findings:"
      echo "$findings" | sed 's/^/    /'
      fail "ASan/UBSan reported errors in e2e runs (outputs: $work/*.tmp/out.*)"
    else
      echo "  sanitizer findings: none"
    fi
    # Failures that are expected under ASan, with the reason (docs/reliability.md).
    declare -A expected=(
      [fresh_lock]="libasan's free() comes first: locksan's free() interceptor is not called (heap reuse)"
      [fork_held]="gcc 12's libasan is not fork-safe: a child forked while another thread is in malloc hangs (also without locksan)"
      [abba]="creation stacks start with libasan's pthread_create interceptor frame"
      [stack_depth]="creation stacks start with libasan's pthread_create interceptor frame"
      [links_unwinders]="--no-deepbind: locksan then shares the program's libunwind (what RTLD_DEEPBIND prevents)"
      [dead_thread_records]="creation stacks start with libasan's pthread_create interceptor frame"
      [free_churn]="libasan's free() comes first: locksan's free() interceptor is not called (heap reuse)"
      [free_filter]="libasan's free() comes first: locksan's free() interceptor is not called (heap reuse)"
      [free_large]="libasan's free() comes first: locksan's free() interceptor is not called (heap reuse)"
      [lock_revival]="libasan's free() comes first: freed locks are not seen, so none is revived"
      [class_member_stack]="libasan's free() comes first: freed locks are not seen, so no call path becomes a lock class (base)"
      [realloc_moved]="libasan's realloc() comes first: locksan's realloc() interceptor is not called"
      [rel_many_threads]="the RSS bound: ASan's shadow memory and quarantine grow with the threads"
      [rel_malloc_threshold]="it reads glibc's chunk headers: under ASan the blocks are libasan's"
      [lock_cache_capacity]="its 200 blocks are glibc's, 80 bytes apart; libasan's are 128 apart (redzones) and wrap the cache's 1024 slots"
      [rel_fork_locks]="ASan reports (and aborts) in threads created in forked children, which it does not track"
      [rel_exec]="ASan reports (and aborts) in threads created in forked children, which it does not track"
      [rel_fork_during_capture]="gcc 12's libasan is not fork-safe: a child forked while a worker thread is in malloc hangs in its first malloc (seen: zlib's, under libdw, symbolising the child's report)"
    )
    unexpected=0
    for t in $(grep -oE "^FAIL [a-z0-9_]+" "$work/log" | awk '{print $2}' | sort -u); do
      if [ -n "${expected[$t]:-}" ]; then
        echo "  expected under ASan: $t: ${expected[$t]}"
      else
        echo "  UNEXPECTED failure under ASan: $t (also failing without ASan? run the e2e suite)"
        unexpected=1
      fi
    done
    [ $unexpected -eq 0 ] || fail "e2e tests failed under ASan (log: $work/log)"
  fi
fi

echo
[ $status -eq 0 ] && echo "sanitize.sh: all clean" || echo "sanitize.sh: FAILURES (see above)"
exit $status
