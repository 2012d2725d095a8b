#!/usr/bin/env bash
# tools/demo.sh — builds locksan and runs examples/transfer.c under it: two bank transfers that lock
# accounts in opposite orders. The run never hangs, yet locksan reports the lock-order inversion
# that would deadlock once both transfers run at the same moment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh >/dev/null
b=${LOCKSAN_BUILD_DIR:-build}
cc -g -O0 -pthread examples/transfer.c -o "$b/transfer"
echo "\$ $b/locksan run -- $b/transfer"
set +e
"$b/locksan" run -- "$b/transfer"
rc=$?
set -e
echo "(exit status $rc: 66 means locksan reported; LOCKSAN_OPTIONS=exitcode=0 keeps the program's own)"
