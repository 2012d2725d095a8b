#!/usr/bin/env python3
"""bench/cpu_speed.py — how fast each CPU of this machine runs the same pure-Python loop.

A process's speed on the shared GPU machines is not a property of the program alone: the same
per-item work (bench/torch_items.py) read ~30 µs in some processes and ~47–52 µs in others of the same
configuration (2026-11-29, H200), best of 5 batches within each process — a property of where the
process ran, not of the batch. This runs a fixed loop on each CPU in turn (the child pinned with
sched_setaffinity), best of --repeat runs, and prints one line per CPU and the CPUs within 10% of the
fastest, so that an A/B (bench/gpu_ab.sh --cpus) can run every configuration on the same CPUs.

    bench/cpu_speed.py [--loops N] [--repeat R] [--cpus LIST]

Output: `CPU cpu=K best_ms=X` lines, then `FAST cpus=K,K,...`.
"""
import argparse
import os
import sys
import time


def work(loops):
    acc, x = 0, 1
    for i in range(loops):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc ^= x >> (i & 7)
    return acc


def time_on(cpu, loops, repeat):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.sched_setaffinity(0, {cpu})
            best = min(_timed(loops) for _ in range(repeat))
            os.write(w, ("%.6f" % best).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return float(out) if out else None


def _timed(loops):
    t = time.perf_counter()
    work(loops)
    return time.perf_counter() - t


def parse_cpus(text):
    cpus = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return sorted(cpus)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--loops", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpus", help="CPUs to test (e.g. 0-3,8); default: all this process may use")
    a = ap.parse_args()
    try:
        cpus = parse_cpus(a.cpus) if a.cpus else sorted(os.sched_getaffinity(0))
    except ValueError:
        print("cpu_speed.py: --cpus: expected a list like 0-3,8, got %r" % a.cpus, file=sys.stderr)
        return 2
    times = {}
    for c in cpus:
        try:
            t = time_on(c, a.loops, a.repeat)
        except OSError as e:
            print("cpu_speed.py: CPU %d: %s" % (c, e.strerror), file=sys.stderr)
            continue
        if t is None:
            print("cpu_speed.py: CPU %d: cannot run there" % c, file=sys.stderr)
            continue
        times[c] = t
        print("CPU cpu=%d best_ms=%.1f" % (c, 1e3 * t), flush=True)
    if not times:
        return 1
    best = min(times.values())
    print("FAST cpus=%s" % ",".join(str(c) for c in sorted(times) if times[c] <= 1.1 * best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
