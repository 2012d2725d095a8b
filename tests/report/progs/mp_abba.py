"""tests/report/progs/mp_abba.py — N multiprocessing children (spawn) each run libabba's two lock
orders in two Python threads, one after the other: N processes report the same lock-order inversion.
Usage: mp_abba.py LIBABBA N

(Each path runs in its own thread: a Python thread holds its own thread-state lock for its whole
life, so a cycle made by one Python thread is serialised by that lock, a gate lock, and not reported.)
"""
import ctypes
import multiprocessing
import sys
import threading


def work(lib_path):
    lib = ctypes.CDLL(lib_path)
    for fn in (lib.lock_forward, lib.lock_backward):
        t = threading.Thread(target=fn)
        t.start()
        t.join()


if __name__ == "__main__":
    lib, n = sys.argv[1], int(sys.argv[2])
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=work, args=(lib,)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    # multiprocessing ends its children with os._exit: their status is the program's own (0), not
    # locksan's exitcode; the reports are in the log directory.
    sys.exit(max(p.exitcode for p in procs))
