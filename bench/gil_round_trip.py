#!/usr/bin/env python3
"""bench/gil_round_trip.py — instructions a GIL round trip costs under a preloaded lock sanitizer.

A ctypes call of libc's abs() releases and takes the GIL again (drop_gil, take_gil: the GIL's mutex
locked and unlocked twice, its condition signalled, the switch mutex taken): the cheapest blocking
call a Python thread makes. Counts instructions with callgrind for two loop lengths and prints the
difference per call, natively and under each library, so that start-up and exit cancel out. Python's
string hashing is fixed (PYTHONHASHSEED=0): with a random seed a dictionary look-up in the loop moves
the count by ~70 instructions between runs.

    bench/gil_round_trip.py [--python PY] [--calls 2000,22000] [--driver-lock LIBCUDA] [--lib LIB[@OPTIONS]] ...

--driver-lock LIBCUDA: the loop runs in a threading.Thread (which holds its own tstate lock at every
GIL take) after a mutex was taken by code in LIBCUDA — a stand-in driver loaded under the file name
libcuda.so.1 (tests/python_e2e/fakecuda.c, `cuFakeOccupancy` with a C callback): a DataLoader
worker's case, a Python thread holding a lock in a process where libcuda's locks exist.

Prints one line per configuration: `GIL name=... instr_per_call=N over_native=N`.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

LOOP = "import ctypes, sys\nf = ctypes.CDLL(None).abs\nfor i in range(int(sys.argv[1])): f(i)\n"
# The same loop in a threading.Thread, after a lock taken in the stand-in driver (found as libcuda at
# the thread's creation, so the lock counts as libcuda's).
THREAD_LOOP = """import ctypes, os, sys, threading
libc = ctypes.CDLL(None)
f = libc.abs
driver = ctypes.CDLL(os.environ["GIL_RT_DRIVER"])
B2D = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_int)
def loop(n):
    driver.cuFakeOccupancy(ctypes.cast(libc.abs, B2D), 32)
    for i in range(n): f(i)
t = threading.Thread(target=loop, args=(int(sys.argv[1]),))
t.start(); t.join()
"""


def count(python, calls, lib, options, driver=None):
    env = dict(os.environ, PYTHONHASHSEED="0")
    if driver:
        env["GIL_RT_DRIVER"] = driver
    env.pop("LD_PRELOAD", None)
    if lib:
        env["LD_PRELOAD"] = lib
    if options:
        env["LOCKSAN_OPTIONS"] = options
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "loop.py")
        with open(script, "w") as f:
            f.write(THREAD_LOOP if driver else LOOP)
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
    ap.add_argument("--driver-lock", metavar="LIBCUDA", default=None,
                    help="run the loop in a thread after a lock taken in this stand-in libcuda.so.1")
    a = ap.parse_args()
    if a.driver_lock:
        if os.path.basename(a.driver_lock) != "libcuda.so.1" or not os.path.exists(a.driver_lock):
            ap.error("--driver-lock: a file named libcuda.so.1 (e.g. cc -shared -fPIC -pthread "
                     "tests/python_e2e/fakecuda.c -o DIR/libcuda.so.1)")
        a.driver_lock = os.path.abspath(a.driver_lock)
    lo, hi = (int(x) for x in a.calls.split(","))
    if hi <= lo:
        ap.error("--calls: the second length must be larger")
    configs = [("native", None, None)]
    for spec in a.lib:
        lib, _, opts = spec.partition("@")
        configs.append((spec, os.path.abspath(lib), opts or None))
    native = None
    for name, lib, opts in configs:
        per = (count(a.python, hi, lib, opts, a.driver_lock) - count(a.python, lo, lib, opts, a.driver_lock)) / (hi - lo)
        if native is None:
            native = per
        print("GIL name=%s instr_per_call=%.0f over_native=%.0f" % (name, per, per - native), flush=True)


if __name__ == "__main__":
    main()
