# A driver object re-created at the same address on every call (fakecuda.c, loaded as libcuda.so.1):
# libcuda re-initialises two recursive mutexes per CuPy step. locksan keeps one graph node for it
# (the recurring-driver-lock rule, revive_locks): no new lock, edge or order check per call.
#   driver_lock_recurring.py [loop|parked_cycle|inversion]
import ctypes
import os
import sys
import threading

driver = ctypes.CDLL(os.environ["PYE2E_FAKECUDA"])
mode = sys.argv[1] if len(sys.argv) > 1 else "loop"


def first():
    driver.cuFakeRecurring(1 if mode == "parked_cycle" else 1000)
    if mode == "inversion":
        driver.cuFakeRecurringKeep()


def second():
    if mode == "parked_cycle":
        driver.cuFakeInnerThenOuter()
    elif mode == "inversion":
        driver.cuFakeInnerThenObj()


# Threads created after the library is loaded (locksan looks for libcuda then), one after the other:
# the second thread's orders are made under other Python locks than the first's (no common gate).
for f in (first, second):
    t = threading.Thread(target=f)
    t.start()
    t.join()
print("done")
