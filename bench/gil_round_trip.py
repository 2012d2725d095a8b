#!/usr/bin/env python3
"""bench/gil_round_trip.py — instructions a GIL round trip costs under a preloaded lock sanitizer.

A ctypes call of libc's abs() releases and takes the GIL again (drop_gil, take_gil: the GIL's mutex
locked and unlocked twice, its condition signalled, the switch mutex taken): the cheapest blocking
call a Python thread makes. Counts instructions with callgrind for two loop lengths and prints the
difference per call, natively and under each library, so that start-up and exit cancel out. Python's
string hashing is fixed (PYTHONHASHSEED=0): with a random seed a dictionary look-up in the loop moves
the count by ~70 instructions between runs.

    bench/gil_round_trip.py [--python PY] [--calls 2000,22000] [--lib LIB[@OPTIONS]] ...

Prints one line per configuration: `GIL name=... instr_per_call=N over_native=N`.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

LOOP = "import ctypes, sys\nf = ctypes.CDLL(None).abs\nfor i in range(int(sys.argv[1])): f(i)\n"


def count(python, calls, lib, options):
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("LD_PRELOAD", None)
    if lib:
        env["LD_PRELOAD"] = lib
    if options:
        env["LOCKSAN_OPTIONS"] = options
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "loop.py")
        with open(script, "w") as f:
            f.write(LOOP)
        out = os.path.join(d, "cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", "-q", "--callgrind-out-file=" + out, python,
                        script, str(calls)], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with open(out) as f:
            for line in f:
                m = re.match(r"^(?:summary|totals):\s+(\d+)", line)
                if m:
                    return int(m.group(1))
    raise RuntimeError("no instruction total in callgrind's output")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--calls", default="2000,22000", help="two loop lengths, comma-separated")
    ap.add_argument("--lib", action="append", default=[], help="a library to preload, LIB[@OPTIONS]")
    a = ap.parse_args()
    lo, hi = (int(x) for x in a.calls.split(","))
    if hi <= lo:
        ap.error("--calls: the second length must be larger")
    configs = [("native", None, None)]
    for spec in a.lib:
        lib, _, opts = spec.partition("@")
        configs.append((spec, os.path.abspath(lib), opts or None))
    native = None
    for name, lib, opts in configs:
        per = (count(a.python, hi, lib, opts) - count(a.python, lo, lib, opts)) / (hi - lo)
        if native is None:
            native = per
        print("GIL name=%s instr_per_call=%.0f over_native=%.0f" % (name, per, per - native), flush=True)


if __name__ == "__main__":
    main()
