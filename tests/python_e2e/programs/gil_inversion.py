# GIL <-> library mutex inversion, run one after the other (nothing hangs).
# Thread 1 calls the library through ctypes.CDLL (GIL released); the library holds lib_mu while it calls
# back into Python, which takes the GIL: lib_mu -> GIL.  Thread 2 calls the library through ctypes.PyDLL
# (GIL held) and the library takes lib_mu: GIL -> lib_mu.
import ctypes
import os
import threading

lib = ctypes.CDLL(os.environ["PYE2E_CBLIB"])
pylib = ctypes.PyDLL(os.environ["PYE2E_CBLIB"])
CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)


def on_event(x):  # @ON_EVENT
    return x + 1


cb = CB(on_event)


def run_callback():
    r = lib.lib_call_with_callback(cb, 41)  # @CALLBACK
    assert r == 42, r


def touch_holding_gil():
    pylib.lib_touch()  # @TOUCH


t = threading.Thread(target=run_callback)
t.start()
t.join()
t = threading.Thread(target=touch_holding_gil)
t.start()
t.join()
print("done")
