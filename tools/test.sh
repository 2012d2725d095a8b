#!/usr/bin/env bash
# tools/test.sh — builds locksan and runs every test: unit (GoogleTest), end-to-end programs under the
# preload, Python tests on every interpreter found, GPU tests (skipped without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
cd "${LOCKSAN_BUILD_DIR:-build}"
ctest -j"$(nproc)" --output-on-failure --timeout 600
