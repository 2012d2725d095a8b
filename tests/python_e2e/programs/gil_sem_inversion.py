# GIL <-> binary semaphore inversion in two Python threads, run one after the other (nothing hangs).
# Each thread takes the library's semaphore through ctypes.PyDLL, i.e. blocks on it with the GIL held
# (GIL -> lib_sem), then sleeps while holding it and takes the GIL back (lib_sem -> GIL). Run at the same
# time, one thread sleeps holding lib_sem while the other blocks on lib_sem holding the GIL: a deadlock.
# The same done by a single thread only is not reported (clean_gil_sem_one_thread.py: the
# confined-GIL-cycle rule, docs/design.md).
import ctypes
import os
import threading
import time

pylib = ctypes.PyDLL(os.environ["PYE2E_CBLIB"])
assert pylib.lib_sem_init() == 0


def hold_sem_first():
    pylib.lib_sem_take()  # @TAKE1
    time.sleep(0.001)  # @SLEEP1
    pylib.lib_sem_give()


def hold_sem_second():
    pylib.lib_sem_take()  # @TAKE2
    time.sleep(0.001)  # @SLEEP2
    pylib.lib_sem_give()


for fn in (hold_sem_first, hold_sem_second):
    t = threading.Thread(target=fn)
    t.start()
    t.join()
print("done")
