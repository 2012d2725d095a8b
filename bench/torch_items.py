#!/usr/bin/env python3
"""bench/torch_items.py — the per-item CPU work of bench/gpu_bench.py's DataLoader workers, alone.

Each item makes a torch.Generator (a new std::mutex on the heap), draws a 3x32x32 image with it, flips
every other one and normalises it: what one worker does per item in the torch workload. No GPU needed
(torch's CPU ops only). Prints one line: `ITEMS n=N per_item_us=X` (the best of --rounds batches: wall
time, and the thread's CPU time; after one warm-up batch). Used to tell whether the torch loop's overhead under locksan is in the
workers (run it natively and under LD_PRELOAD=liblocksan.so).
--worker-handlers installs the signal handlers a DataLoader worker installs (SIGBUS, SIGSEGV, SIGFPE,
SIGTERM: torch._C._set_worker_signal_handlers), as in a real worker.
--batch B fetches items as a worker does: B items kept alive, then collated into one batch
(torch's default_collate) and dropped. The heap then moves between items, so each item's Generator
mutex is new at a new address (a lock class's member) instead of at the last one's (revived in
place): the pattern of a real worker (docs/design.md, "Recurring keys").
Usage: torch_items.py [--items N] [--rounds R] [--worker-handlers] [--batch B]
       torch_items.py --callgrind [--lib LIB ...] [--python PY] [--items N] [--batch B] [--worker-handlers]
  Instructions per item, repeatable on a loaded machine: natively and under each LIB (LD_PRELOAD),
  one process under `valgrind --tool=callgrind` with N items and one with 3N (after the same
  warm-up), PYTHONHASHSEED=0 in both (so that their dicts probe alike); (I(3N) - I(N)) / 2N leaves
  out start-up. Example (docs/design.md, "Recurring keys"; torch from Debian's python3-torch):
    python3 bench/torch_items.py --callgrind --python /usr/bin/python3.11 --batch 64 --items 320 \
        --lib build/liblocksan.so
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

if "--callgrind" not in sys.argv:
    import torch


def item(i):
    g = torch.Generator().manual_seed(i)
    x = torch.rand(3, 32, 32, generator=g)
    if i % 2:
        x = torch.flip(x, dims=[2])
    return (x - 0.5) / 0.25, i % 10


def callgrind(a):
    def instructions(lib, n):
        env = dict(os.environ, PYTHONHASHSEED="0")
        env.pop("LD_PRELOAD", None)
        if lib:
            env["LD_PRELOAD"] = lib
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "cg.out")
            cmd = ["valgrind", "--tool=callgrind", "-q", "--callgrind-out-file=" + out, a.python,
                   os.path.abspath(__file__), "--child", "--items", str(n), "--batch", str(a.batch)]
            if a.worker_handlers:
                cmd.append("--worker-handlers")
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
            for line in open(out):
                if line.startswith("totals:") or line.startswith("summary:"):
                    return int(line.split()[1])
        raise SystemExit("torch_items.py: no totals in callgrind's output")

    base = None
    for lib in [None] + a.lib:
        i1, i3 = instructions(lib, a.items), instructions(lib, 3 * a.items)
        per = (i3 - i1) / (2.0 * a.items)
        if base is None:
            base = per
        print("CALLGRIND %-40s %10.0f instructions an item%s" % (
            lib or "native", per, "" if lib is None else "  (%+.0f over native)" % (per - base)), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--worker-handlers", action="store_true")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--lib", action="append", default=[])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.callgrind:
        return callgrind(a)
    if a.worker_handlers:
        torch._C._set_worker_signal_handlers()
    torch.set_num_threads(1)  # a DataLoader worker runs torch with one thread

    def run(items):
        if not a.batch:
            for i in range(items):
                item(i)
            return
        from torch.utils.data._utils.collate import default_collate
        for b in range(0, items, a.batch):
            default_collate([item(i) for i in range(b, min(items, b + a.batch))])

    if a.child:  # one run under callgrind: the same warm-up, then N items
        run(3 * (a.batch or 64))
        run(a.items)
        return
    run(a.items)
    best = best_cpu = float("inf")
    for _ in range(a.rounds):
        t0, c0 = time.perf_counter(), time.thread_time()
        run(a.items)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.thread_time() - c0)
    print("ITEMS n=%d per_item_us=%.2f cpu_us=%.2f" % (a.items, 1e6 * best / a.items, 1e6 * best_cpu / a.items),
          flush=True)


if __name__ == "__main__":
    main()
