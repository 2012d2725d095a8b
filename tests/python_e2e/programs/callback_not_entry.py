# Takes of the GIL that are no callback entry, next to callbacks that are: the report must name no
# callback. Two threads, one after the other, each: runs a ctypes callback (CDLL call: lib_mu -> GIL,
# an entry, outside the reported cycle), then takes the library's semaphore through ctypes.PyDLL (the GIL
# held: GIL -> lib_sem) and, holding it, makes a ctypes.CDLL call (the GIL released and taken back when
# the call returns, from _ctypes' frames: lib_sem -> GIL). The cycle GIL <-> lib_sem is reported; its
# lib_sem -> GIL edge was made by a ctypes call returning, with the callbacks' objects (CThunkObjects)
# created and used just before at the same stack depth.
import ctypes
import os
import threading

path = os.environ["PYE2E_CBLIB"]
lib = ctypes.CDLL(path)
pylib = ctypes.PyDLL(path)
CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)
assert pylib.lib_sem_init() == 0


def on_event(x):
    return x + 1


def worker():
    for i in range(3):
        assert lib.lib_call_with_callback(CB(on_event), i) == i + 1
    pylib.lib_sem_take()  # @TAKE
    lib.lib_a_then_b()  # @RETURN
    pylib.lib_sem_give()


for _ in range(2):
    t = threading.Thread(target=worker)
    t.start()
    t.join()
print("done")
