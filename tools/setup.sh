#!/usr/bin/env bash
# tools/setup.sh — installs what building and testing locksan needs (Debian/Ubuntu packages), once.
# Safe to run again: it installs only what is missing.
set -euo pipefail
pkgs=(build-essential cmake g++ clang libclang-rt-14-dev libgtest-dev libabsl-dev libunwind-dev
      libdw-dev graphviz valgrind python3 nlohmann-json3-dev python3-jsonschema)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "locksan setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "locksan setup: dependencies present"
