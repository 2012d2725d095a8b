#!/usr/bin/env bash
# tools/build.sh — configures and builds locksan into build/ (or $LOCKSAN_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${LOCKSAN_BUILD_DIR:-build}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
cmake --build "$dir" -j"$(nproc)"
