#!/usr/bin/env bash
# tests/fuzz/run.sh — build locksan's libFuzzer targets with clang (ASan + UBSan) and run each for a
# bounded time on the seed corpora in tests/fuzz/corpus/.
#
#   tests/fuzz/run.sh [--time SECONDS] [--build-dir DIR] [--build-only] [--keep-going] [TARGET...]
#
# TARGETs: flags (core/flags.cc, LOCKSAN_OPTIONS), suppressions (core/suppressions.cc),
# report (tools/report_cmd.cc: `locksan report` input loading, merging, rendering). Default: all.
# --time: seconds per target (default 20). New corpus entries go to BUILD_DIR/corpus/TARGET (the seeds
# in the repository are read, never written); crashes, timeouts and leaks are written to
# BUILD_DIR/artifacts/ and make the script fail (exit 1) with the reproducer's path printed.
# --keep-going: run in libFuzzer's fork mode and go on after crashes and timeouts (long campaigns:
# every distinct finding lands in BUILD_DIR/artifacts/TARGET/; the exit status is still 1 if any).
# Exit status 77: clang with libFuzzer is not available (ctest counts that as skipped).
# Reproduce a finding: BUILD_DIR/fuzz_TARGET ARTIFACT
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
time_per=20
build_dir="$root/build/fuzz"
build_only=0
keep_going=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) time_per="$2"; shift 2 ;;
    --time=*) time_per="${1#*=}"; shift ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --build-dir=*) build_dir="${1#*=}"; shift ;;
    --build-only) build_only=1; shift ;;
    --keep-going) keep_going=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(flags suppressions report)

CXX="${LOCKSAN_FUZZ_CXX:-}"
if [ -z "$CXX" ]; then
  for c in clang++ clang++-19 clang++-18 clang++-17 clang++-16 clang++-15 clang++-14; do
    if command -v "$c" >/dev/null 2>&1; then CXX="$c"; break; fi
  done
fi
if [ -z "$CXX" ]; then
  echo "fuzz: SKIPPED: no clang++ found (apt-get install clang)"
  exit 77
fi
probe_dir="$(mktemp -d)"
trap 'rm -rf "$probe_dir"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$probe_dir/p.cc"
if ! "$CXX" -fsanitize=fuzzer "$probe_dir/p.cc" -o "$probe_dir/p" >/dev/null 2>&1; then
  echo "fuzz: SKIPPED: $CXX cannot link -fsanitize=fuzzer (libFuzzer runtime missing)"
  exit 77
fi

mkdir -p "$build_dir/artifacts" "$build_dir/corpus"
CXXFLAGS=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
          -fno-sanitize-recover=undefined -I"$root")

sources_of() {
  case "$1" in
    flags) echo "$here/fuzz_flags.cc $root/core/flags.cc" ;;
    suppressions) echo "$here/fuzz_suppressions.cc $root/core/suppressions.cc" ;;
    report) echo "$here/fuzz_report.cc $root/tools/report_cmd.cc $root/tools/report_render.cc $root/core/suppressions.cc" ;;
    *) return 1 ;;
  esac
}

# Build (serialised: ctest may start several targets at once; each waits for the lock).
build() {
  local t="$1" srcs exe="$build_dir/fuzz_$1" newer=0
  srcs="$(sources_of "$t")" || { echo "fuzz: unknown target '$t'"; return 1; }
  if [ -x "$exe" ]; then
    for s in $srcs "$root/core/flags.inc" "$root/core/flags.h" "$root/core/suppressions.h" \
             "$root/tools/report_model.h" "$root/report/json_report.h"; do
      [ "$s" -nt "$exe" ] && newer=1
    done
    [ $newer -eq 0 ] && return 0
  fi
  echo "fuzz: building fuzz_$t with $CXX"
  # shellcheck disable=SC2086
  "$CXX" "${CXXFLAGS[@]}" $srcs -o "$exe.tmp" 2>"$build_dir/build_$t.log" || {
    echo "fuzz: build of fuzz_$t failed:"; cat "$build_dir/build_$t.log"; return 1; }
  mv "$exe.tmp" "$exe"
}

status=0
for t in "${targets[@]}"; do
  (
    flock 9
    build "$t"
  ) 9>"$build_dir/.lock" || { status=1; continue; }
  [ $build_only -eq 1 ] && continue
  mkdir -p "$build_dir/corpus/$t" "$build_dir/artifacts/$t"
  extra=()
  [ -f "$here/$t.dict" ] && extra+=(-dict="$here/$t.dict")
  max_len=16384
  [ "$t" = report ] && { extra+=(-close_fd_mask=3); max_len=65536; }
  [ $keep_going -eq 1 ] && extra+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  echo "fuzz: running fuzz_$t for ${time_per}s"
  log="$build_dir/run_$t.log"
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    "$build_dir/fuzz_$t" -max_total_time="$time_per" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
      -print_final_stats=1 -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$build_dir/artifacts/$t/" "${extra[@]}" \
      "$build_dir/corpus/$t" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  grep -E "^#[0-9]+ *DONE|^stat::number_of_executed_units|^stat::peak_rss_mb|cov: " "$log" | tail -3 | sed 's/^/  /'
  if [ $keep_going -eq 1 ] && [ -n "$(ls -A "$build_dir/artifacts/$t" 2>/dev/null)" ]; then rc=1; fi
  if [ $rc -ne 0 ]; then
    status=1
    echo "fuzz: fuzz_$t FAILED (exit $rc); log: $log"
    grep -E "ERROR|SUMMARY|runtime error|Test unit written|abort|changed|Match|TemplateMatch|string flag|stack_depth" "$log" | head -20 | sed 's/^/  /'
  else
    echo "fuzz: fuzz_$t ok"
  fi
done
exit $status
