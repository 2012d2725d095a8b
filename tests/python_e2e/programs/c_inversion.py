# An inversion between two C mutexes of a library called through ctypes.CDLL (the GIL plays no part):
# must work on every interpreter, including those whose GIL locksan does not track.
import ctypes
import os
import threading

lib = ctypes.CDLL(os.environ["PYE2E_CBLIB"])


def a_then_b():
    lib.lib_a_then_b()  # @AB


def b_then_a():
    lib.lib_b_then_a()  # @BA


for fn in (a_then_b, b_then_a):
    t = threading.Thread(target=fn)
    t.start()
    t.join()
print("done")
