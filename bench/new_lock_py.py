#!/usr/bin/env python3
"""bench/new_lock_py.py -- the cost of a NEW lock and a NEW lock-order edge in a Python process.

What PyTorch's DataLoader does per item (a torch.Generator, whose std::mutex is a new heap lock, taken
under the GIL), reduced to ctypes and libc: each item mallocs a 64-byte block, takes the mutex in it
twice and frees it. Under locksan every item is a new lock, a new edge between it and the GIL, and a
freed lock (the Python stack at the call is `--depth` frames deep).

  cdll   ctypes.CDLL: the call releases the GIL; the mutex is still held when the thread takes the GIL
         back on return, so the new edge is  mutex -> GIL  (made in take_gil).
  pydll  ctypes.PyDLL: the GIL is held during the call, so the new edge is  GIL -> mutex.
  cdll_known, pydll_known  the same calls, but every item takes one mutex allocated once (a known
         lock, a known edge): what the loop costs under locksan without anything new. The difference
         to cdll/pydll is the cost of the new lock, its new edge and forgetting it at free().
  MODE_handlers (e.g. pydll_handlers)  the same with a C-level SIGTERM handler installed first, as in
         a PyTorch DataLoader worker: locksan then blocks signals around its lock graph.

Usage:
  new_lock_py.py [--python PY] [--lib LIB[@OPTIONS] ...] [--rounds R] [--items N] [--depth D] [--modes cdll,pydll]
      Interleaved rounds: in each round, for each mode, natively and under each LIB (LD_PRELOAD, with
      LOCKSAN_OPTIONS=OPTIONS where given: build/liblocksan.so@lock_identity=site), one
      child process runs N items; prints, per mode and library, the median and the best over the
      rounds of the wall time and of the thread's CPU time (time.thread_time: what the process itself
      spent, page faults included, less sensitive to a loaded machine) per item, in microseconds, and
      the difference to native.
  new_lock_py.py --callgrind [--python PY] [--lib LIB ...] [--items N] [--depth D] [--modes ...]
      Instructions per item, repeatable on a loaded machine: each configuration runs under
      `valgrind --tool=callgrind` with N and with 3N items; (I(3N) - I(N)) / 2N leaves out start-up.
  new_lock_py.py --child MODE N D
      One run (what the parent starts): prints "wall_us cpu_us" per item.

Example (docs/bench.md, "Cost of a new lock in a Python process"):
  PY=/root/.pyenv/versions/3.12.1/bin/python3.12
  $PY bench/new_lock_py.py --lib build/liblocksan.so --rounds 7 --items 5000 --depth 30
"""
import argparse
import os
import statistics
import subprocess
import sys
import time


def child(mode, n, depth):
    import ctypes
    known = "_known" in mode
    if "_handlers" in mode:
        # A C-level signal handler of the program's own (never called): what PyTorch's DataLoader
        # workers have (SIGTERM, SIGBUS, ...), so that locksan blocks signals around its lock graph.
        import signal as _signal
        global _HANDLER
        _HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_int)(lambda s: None)
        ctypes.CDLL(None).signal(_signal.SIGTERM, _HANDLER)
    libc = ctypes.PyDLL(None) if mode.startswith("pydll") else ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    lock, unlock = libc.pthread_mutex_lock, libc.pthread_mutex_unlock
    lock.argtypes = unlock.argtypes = [ctypes.c_void_p]

    fixed = libc.malloc(64)
    ctypes.memset(fixed, 0, 64)

    def body():
        w0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(n):
            m = libc.malloc(64)
            ctypes.memset(m, 0, 64)  # PTHREAD_MUTEX_INITIALIZER
            k = fixed if known else m
            lock(k)
            unlock(k)
            lock(k)
            unlock(k)
            libc.free(m)
        w1, c1 = time.perf_counter(), time.thread_time()
        return (w1 - w0) / n * 1e6, (c1 - c0) / n * 1e6

    def deep(d):
        return body() if d == 0 else deep(d - 1)

    wall, cpu = deep(depth)
    print("%.3f %.3f" % (wall, cpu))


def child_env(cfg):
    """The environment of a child run of configuration (name, lib, options): LD_PRELOAD=lib (none for
    native) and LOCKSAN_OPTIONS=options (the caller's own LOCKSAN_OPTIONS when the --lib gave none)."""
    _, lib, opts = cfg
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if lib:
        env["LD_PRELOAD"] = lib
    if opts is not None:
        env["LOCKSAN_OPTIONS"] = opts
    return env


def instructions(a, cfg, mode, items):
    import re
    import tempfile
    env = child_env(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + os.path.join(tmp, "cg"),
                            a.python, os.path.abspath(__file__), "--child", mode, str(items), str(a.depth)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    m = re.search(r"Collected : (\d+)", p.stderr)
    if p.returncode != 0 or not m:
        raise SystemExit("callgrind run failed:\n" + p.stderr[-2000:])
    return int(m.group(1))


def callgrind(a, configs, modes):
    print("instructions per item (callgrind, (I(%d) - I(%d)) / %d), Python depth %d, %s" %
          (3 * a.items, a.items, 2 * a.items, a.depth, a.python))
    print("%-6s %-40s %14s %14s" % ("mode", "library", "instr/item", "- native"))
    for m in modes:
        native = None
        for cfg in configs:
            per = (instructions(a, cfg, m, 3 * a.items) - instructions(a, cfg, m, a.items)) / (2.0 * a.items)
            if native is None:
                native = per
            print("%-6s %-40s %14.0f %+14.0f" % (m, cfg[0], per, per - native))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--lib", action="append", default=[],
                    help="LIB[@OPTIONS]: a liblocksan.so to compare, run with LOCKSAN_OPTIONS=OPTIONS if "
                         "given, e.g. build/liblocksan.so@lock_identity=site (repeatable)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--modes", default="cdll,pydll")
    ap.add_argument("--callgrind", action="store_true")
    a = ap.parse_args()
    configs = [("native", None, None)]
    for spec in a.lib:
        lib, sep, opts = spec.partition("@")
        configs.append((spec, os.path.abspath(lib), opts if sep else None))
    modes = a.modes.split(",")
    if a.callgrind:
        callgrind(a, configs, modes)
        return
    res = {(m, cfg[0]): [] for m in modes for cfg in configs}
    for _ in range(a.rounds):
        for m in modes:
            for cfg in configs:
                out = subprocess.run([a.python, os.path.abspath(__file__), "--child", m, str(a.items),
                                      str(a.depth)], env=child_env(cfg), stdout=subprocess.PIPE, check=True,
                                     universal_newlines=True).stdout.split()
                res[(m, cfg[0])].append((float(out[0]), float(out[1])))
    print("new lock + new edge + free, %d items, Python depth %d, %d rounds, %s" %
          (a.items, a.depth, a.rounds, a.python))
    print("%-6s %-40s %22s %22s %16s" % ("mode", "library", "wall us (median/best)", "cpu us (median/best)",
                                          "cpu - native"))
    for m in modes:
        native_cpu = statistics.median(c for _, c in res[(m, "native")])
        for name, _, _ in configs:
            w = [x for x, _ in res[(m, name)]]
            c = [y for _, y in res[(m, name)]]
            print("%-6s %-40s %10.2f / %-9.2f %10.2f / %-9.2f %+10.2f" %
                  (m, name, statistics.median(w), min(w), statistics.median(c), min(c),
                   statistics.median(c) - native_cpu))


if __name__ == "__main__":
    main()
