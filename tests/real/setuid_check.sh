#!/usr/bin/env bash
# tests/real/setuid_check.sh — does the dynamic loader apply LD_PRELOAD=liblocksan.so to a setuid
# program? (docs/limits.md says it does not; this checks it on this machine.) Needs root: creates the
# user `locksan-nobody` if missing, builds a setuid-root copy of a small program in a private
# directory, and runs it as that user with LD_PRELOAD set, and (control) a non-setuid copy.
#
#   tests/real/setuid_check.sh [--lib PATH]
# Prints one line per case and exits 0 when the loader behaved as documented (setuid: locksan not
# loaded; non-setuid: loaded), 1 otherwise, 77 when it cannot run (not root, no useradd/su, nosuid).
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
lib="$root/build/liblocksan.so"
[ "${1:-}" = "--lib" ] && lib="$2"
lib="$(readlink -f "$lib")"
[ "$(id -u)" -eq 0 ] || { echo "setuid_check: needs root (skipped)"; exit 77; }
command -v useradd >/dev/null && command -v su >/dev/null || { echo "setuid_check: no useradd/su (skipped)"; exit 77; }
id locksan-nobody >/dev/null 2>&1 || useradd -M -s /bin/sh locksan-nobody || exit 77
dir="$(mktemp -d /var/tmp/locksan-setuid.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
cat >"$dir/p.c" <<'EOF'
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  char line[4096];
  int found = 0;
  FILE* f = fopen("/proc/self/maps", "r");
  while (f && fgets(line, sizeof line, f)) found |= strstr(line, "liblocksan") != NULL;
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&m);
  pthread_mutex_unlock(&m);
  printf("uid %d euid %d liblocksan mapped: %s\n", (int)getuid(), (int)geteuid(), found ? "yes" : "no");
  return 0;
}
EOF
gcc -pthread "$dir/p.c" -o "$dir/setuid_prog" && cp "$dir/setuid_prog" "$dir/plain_prog" || exit 77
chown root:root "$dir/setuid_prog" && chmod 4755 "$dir/setuid_prog"
chmod 755 "$dir/plain_prog"
# The library must be readable by the user for the control case.
libdir="$dir/lib"
mkdir -p "$libdir" && cp "$lib" "$libdir/" && cp "$(dirname "$lib")"/lib{unwind.so.8,dw.so.1,elf.so.1} "$libdir/" 2>/dev/null
chmod -R a+rX "$libdir"
run_as() { su -s /bin/sh locksan-nobody -c "LD_PRELOAD=$libdir/liblocksan.so LOCKSAN_OPTIONS=verbosity=1 $1" 2>&1; }
out_s="$(run_as "$dir/setuid_prog")"
out_p="$(run_as "$dir/plain_prog")"
echo "setuid-root program run by locksan-nobody with LD_PRELOAD: $(echo "$out_s" | grep -E '^uid')"
echo "    locksan lines: $(echo "$out_s" | grep -c '==locksan')"
echo "plain program run by locksan-nobody with LD_PRELOAD:       $(echo "$out_p" | grep -E '^uid')"
echo "    locksan lines: $(echo "$out_p" | grep -c 'locksan:')"
if echo "$out_s" | grep -q "euid 0 liblocksan mapped: no" && echo "$out_p" | grep -q "liblocksan mapped: yes"; then
  echo "setuid_check: as documented: the loader ignores LD_PRELOAD for the setuid program"
  exit 0
fi
if ! echo "$out_s" | grep -q "euid 0"; then
  echo "setuid_check: the setuid bit had no effect here (nosuid mount?): skipped"
  exit 77
fi
echo "setuid_check: UNEXPECTED"
echo "$out_s"
echo "$out_p"
exit 1
