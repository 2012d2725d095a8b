# A binary semaphore that only one Python thread ever takes with the GIL held, as faulthandler's
# cancel_event: the thread blocks on it with the GIL held (ctypes.PyDLL: GIL -> lib_sem) and lets the
# GIL go while it holds it (time.sleep, output: lib_sem -> GIL). No other Python thread touches it, so
# this single-thread cycle cannot become a deadlock (the confined-GIL-cycle rule, docs/design.md);
# other threads run meanwhile.  No locksan output expected.  Two threads doing this are reported
# (gil_sem_inversion.py).
import ctypes
import os
import threading
import time

pylib = ctypes.PyDLL(os.environ["PYE2E_CBLIB"])
assert pylib.lib_sem_init() == 0
for i in range(3):
    pylib.lib_sem_take()
    time.sleep(0.001)
    print("holding", i, flush=True)
    t = threading.Thread(target=lambda: time.sleep(0.001))
    t.start()
    t.join()
    pylib.lib_sem_give()
print("done")
