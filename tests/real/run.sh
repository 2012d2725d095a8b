#!/usr/bin/env bash
# tests/real/run.sh — real multi-threaded software with and without locksan.
#
#   tests/real/run.sh [--lib PATH] [--out DIR] [--only glib|sqlite|memcached] [--options 'k=v:...']
#
# Suites (installed with apt-get when missing):
#   glib    GLib's installed tests (package libglib2.0-tests): the thread, mutex, rec-mutex, rwlock,
#           cond, once, thread-pool, async queue, GPrivate, GTask, main loop, cancellable, spawn tests.
#           GLib's GMutex and GCond are futex-based on Linux (invisible to locksan, docs/limits.md);
#           GRecMutex and GRWLock are pthread locks, GOnce/GThreadPool/GAsyncQueue/GMainContext
#           nest them with GMutexes.
#   memcached  the Debian memcached (1.6, 4 worker threads plus its LRU maintainer/crawler and slab
#           rebalancer threads: item, LRU, slab and stats locks nested) driven for 20 s by
#           tests/real/memcached_load.py from 8 client connections; then `shutdown`.
#   sqlite  tests/real/sqlite_mt.c against the Debian libsqlite3 (SQLITE_THREADSAFE=1: pthread
#           mutexes inside): WAL with a connection per thread, one serialized connection shared by
#           8 threads, shared-cache mode, and all of it at once with backups and interrupts.
# Each test runs natively and under LD_PRELOAD=liblocksan.so (LOCKSAN_OPTIONS=exitcode=0 and
# log_path=OUT/logs/SUITE.TEST, so the program's own exit status is compared; the reports are counted
# from the log files, one per process). Prints a Markdown table:
#   suite | test | native (exit, time) | locksan (exit, time) | locks/edges locksan saw | reports
# and exits 1 when a test's exit status differs between the two runs or any report was printed.
# Takes a few minutes; not part of the default ctest run (see docs/reliability.md).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lib="$root/build/liblocksan.so"
out="${TMPDIR:-/tmp}/locksan-real"
only=""
extra_opts=""
while [ $# -gt 0 ]; do
  case "$1" in
    --lib) lib="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --options) extra_opts="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'"; exit 2 ;;
  esac
done
lib="$(readlink -f "$lib")"
[ -f "$lib" ] || { echo "run.sh: $lib not found (cmake --build build)"; exit 2; }
rm -rf "$out" && mkdir -p "$out/logs" "$out/work"

need_pkgs=()
[ -x /usr/libexec/installed-tests/glib/mutex ] || need_pkgs+=(libglib2.0-tests)
[ -f /usr/include/sqlite3.h ] || need_pkgs+=(libsqlite3-dev)
command -v memcached >/dev/null 2>&1 || need_pkgs+=(memcached)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing ${need_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_pkgs[@]}" >"$out/apt.log" 2>&1 ||
    { apt-get update >>"$out/apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_pkgs[@]}" >>"$out/apt.log" 2>&1; } ||
    { echo "apt-get install failed (log: $out/apt.log)"; exit 2; }
fi

rows=()
bad=0
now() { date +%s.%N; }

# run_one SUITE TEST CWD CMD... : native, then under locksan.
run_one() {
  local suite="$1" test="$2" cwd="$3"
  shift 3
  local t0 t1 rc_n rc_l tn tl reports="" logp="$out/logs/$suite.$test"
  t0=$(now)
  (cd "$cwd" && timeout -k 5 600 "$@") >"$out/logs/$suite.$test.native.out" 2>&1
  rc_n=$?
  t1=$(now)
  tn=$(echo "$t1 - $t0" | bc)
  t0=$(now)
  (cd "$cwd" && timeout -k 5 900 env LD_PRELOAD="$lib" \
     LOCKSAN_OPTIONS="exitcode=0:verbosity=1:log_path=$logp${extra_opts:+:$extra_opts}" "$@") \
    >"$out/logs/$suite.$test.locksan.out" 2>&1
  rc_l=$?
  t1=$(now)
  tl=$(echo "$t1 - $t0" | bc)
  # Reports: headlines in the per-process logs (and on stderr, for messages locksan printed there).
  reports="$(cat "$logp".* "$out/logs/$suite.$test.locksan.out" 2>/dev/null |
             grep -oE '^==[0-9]+==WARNING: locksan: [a-z-]+' | sed 's/.*locksan: //' | sort | uniq -c |
             awk '{printf "%s%s=%s", (NR>1?", ":""), $2, $1}')"
  [ -z "$reports" ] && reports="none"
  # What locksan saw (verbosity=1 statistics at each process's exit): locks and lock-order edges,
  # summed over the processes; proves the preload was active.
  local seen
  seen="$(cat "$logp".* 2>/dev/null | grep -oE 'stats: [0-9]+ locks live \([0-9]+ seen\), [0-9]+ edges' |
          awk '{gsub(/\(/,"",$5); l+=$5; e+=$7; p++} END {printf "%d locks, %d edges, %d proc", l, e, p}')"
  local flag=""
  if [ "$rc_n" != "$rc_l" ] || [ "$reports" != "none" ]; then flag=" **!**"; bad=1; fi
  rows+=("| $suite | $test | $rc_n, $(printf '%.2f' "$tn") s | $rc_l, $(printf '%.2f' "$tl") s | $seen | $reports$flag |")
  printf '%-8s %-22s native %3s %7.2fs   locksan %3s %7.2fs   %-36s %s\n' "$suite" "$test" "$rc_n" "$tn" "$rc_l" "$tl" "$seen" "$reports"
}

if [ -z "$only" ] || [ "$only" = glib ]; then
  g=/usr/libexec/installed-tests/glib
  export G_TEST_SRCDIR="$g" G_TEST_BUILDDIR="$g"
  for t in thread once cond mutex rec-mutex rwlock private thread-pool asyncqueue threadtests task \
           mainloop contexts cancellable spawn-multithreaded slice-concurrent bitlock atomic; do
    [ -x "$g/$t" ] || continue
    args=()
    case "$t" in
      # GLib's lock micro-benchmarks (seconds each, and they measure speed, not correctness).
      mutex) args=(--skip-prefix=/thread/mutex/perf) ;;
      rec-mutex) args=(--skip-prefix=/thread/rec-mutex/perf) ;;
    esac
    mkdir -p "$out/work/glib.$t"
    run_one glib "$t" "$out/work/glib.$t" "$g/$t" "${args[@]}"
  done
fi

if [ -z "$only" ] || [ "$only" = sqlite ]; then
  exe="$out/sqlite_mt"
  gcc -O1 -g -pthread "$here/sqlite_mt.c" -lsqlite3 -o "$exe" || { echo "cannot build sqlite_mt"; exit 2; }
  for m in wal shared cache mixed; do
    # A fresh directory per run (native and locksan each start from empty databases).
    d="$out/work/sqlite.$m"
    mkdir -p "$d"
    run_one sqlite "$m" "$d" sh -c 'rm -rf db && mkdir db && exec "$0" db "$1"' "$exe" "$m"
  done
fi

if [ -z "$only" ] || [ "$only" = memcached ]; then
  # The driver runs without the preload and starts memcached with the LD_PRELOAD it was given.
  mkdir -p "$out/work/memcached"
  run_one memcached "load-20s" "$out/work/memcached" \
    sh -c 'p="${LD_PRELOAD:-}"; unset LD_PRELOAD; exec python3 "$0" "$p" 20' "$here/memcached_load.py"
fi

echo
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)   command: tests/real/run.sh${only:+ --only $only}   library: $lib"
echo "host: $(uname -srm), $(nproc) cores; glib $(dpkg-query -W -f='${Version}' libglib2.0-tests 2>/dev/null), sqlite $(dpkg-query -W -f='${Version}' libsqlite3-0 2>/dev/null), memcached $(dpkg-query -W -f='${Version}' memcached 2>/dev/null)"
echo
echo "| suite | test | native: exit, time | locksan: exit, time | locksan saw | reports |"
echo "|---|---|---|---|---|---|"
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "logs: $out/logs"
exit $bad
