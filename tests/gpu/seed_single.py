"""seed_single.py — the 2019 seed pattern, alone: one thread calls cuOccupancyMaxPotentialBlockSize
with a Python (ctypes) block-to-dynamic-shared-memory callback. Nothing else holds the GIL, so nothing
hangs: expected PASS. The hazard is still there (the driver runs Python code while it holds its own
rwlock for write); locksan is expected to report it. Under the smoke preload it also prints which driver
call the callback thread is in (CurrentDriverCall) and the locks it holds.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cudactx  # noqa: E402

cudactx.watchdog(60)
cu = cudactx.Cuda()
st = cudactx.stub()
seen = {"calls": 0, "current": None, "locks": None}


def b2d(block_size):
    seen["calls"] += 1
    if st is not None and seen["current"] is None:
        seen["current"] = st.locksan_stub_current()
        seen["locks"] = st.locksan_stub_held_locks()
    return 0


cb = cudactx.B2D(b2d)
for i in range(200):
    grid, block = cu.occupancy(cb)
print("occupancy: grid=%d block=%d; b2d callback ran %d times" % (grid, block, seen["calls"]))
if st is not None:
    print("FACT: CurrentDriverCall() inside the Python b2d callback: %s" % seen["current"])
    print("FACT: locks held there: [%s]" % (seen["locks"] or b"").decode())
print("PASS")
