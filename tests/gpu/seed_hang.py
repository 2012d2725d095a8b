"""seed_hang.py — the 2019 seed deadlock with nothing but ctypes and libcuda.

Thread A: cuOccupancyMaxPotentialBlockSize with a Python b2d callback, in a loop (ctypes.CDLL: the GIL is
          released for the call; the callback takes it back — while libcuda holds its rwlock for write).
Thread B: cuMemAlloc/cuMemFree in a loop through ctypes.PyDLL, i.e. *with the GIL held* (like Cython
          code that does not release it); cuMemAlloc needs the same libcuda rwlock.
A holds the rwlock and waits for the GIL; B holds the GIL and waits for the rwlock: deadlock.

Expected: HANG within seconds. The script is killable and ends by itself: the main thread re-arms a
faulthandler watchdog every 0.5 s; once it cannot get the GIL back the watchdog thread prints all
Python stacks ("Timeout (0:00:05)!") and exits with status 1. If no hang happens within --seconds it
prints "NO HANG" and exits 0. Run it under `timeout` anyway.
"""
import argparse
import ctypes
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cudactx  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=30.0, help="give up (NO HANG) after this long")
ap.add_argument("--watchdog", type=float, default=5.0, help="declare a hang after this long without the GIL")
args = ap.parse_args()

cudactx.watchdog(60)
cu = cudactx.Cuda()
stop = False
progress = {"occupancy": 0, "alloc": 0}


def b2d(block_size):
    return 0


cb = cudactx.B2D(b2d)


def occupancy_loop():
    cu.make_current()
    while not stop:
        cu.occupancy(cb)                      # CDLL: GIL released; callback re-takes it
        progress["occupancy"] += 1


def alloc_loop():
    cu.make_current()
    p = ctypes.c_uint64()
    while not stop:
        cudactx.check(cu.py.cuMemAlloc_v2(ctypes.byref(p), 1 << 16), "cuMemAlloc_v2")   # GIL held
        cudactx.check(cu.py.cuMemFree_v2(p), "cuMemFree_v2")                           # GIL held
        progress["alloc"] += 1


threads = [threading.Thread(target=occupancy_loop, daemon=True, name="occupancy"),
           threading.Thread(target=alloc_loop, daemon=True, name="alloc-with-gil")]
t0 = time.time()
cudactx.watchdog(args.watchdog)
for t in threads:
    t.start()
last = 0.0
while time.time() - t0 < args.seconds:
    cudactx.watchdog(args.watchdog)
    time.sleep(0.5)
    now = time.time() - t0
    if now - last >= 2.0:
        print("t=%.1fs occupancy=%d alloc=%d" % (now, progress["occupancy"], progress["alloc"]), flush=True)
        last = now
stop = True
print("NO HANG after %.0f s: occupancy=%d alloc=%d" % (args.seconds, progress["occupancy"], progress["alloc"]))
