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
"""
import argparse
import time

import torch


def item(i):
    g = torch.Generator().manual_seed(i)
    x = torch.rand(3, 32, 32, generator=g)
    if i % 2:
        x = torch.flip(x, dims=[2])
    return (x - 0.5) / 0.25, i % 10


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--worker-handlers", action="store_true")
    ap.add_argument("--batch", type=int, default=0)
    a = ap.parse_args()
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
