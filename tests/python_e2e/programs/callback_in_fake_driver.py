# The seed pattern of issue #4 without a GPU: a "driver" (fakecuda.c, loaded under the file name
# libcuda.so.1) holds its own mutex while it calls a Python ctypes callback. No other thread competes,
# so nothing hangs; locksan reports python-callback-in-driver-call (from the held lock that code in
# libcuda took: no CUPTI here) and names the callback.
import ctypes
import os
import threading

driver = ctypes.CDLL(os.environ["PYE2E_FAKECUDA"])
B2D = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_int)


def b2d(block_size):  # @B2D
    return block_size * 4


cb = B2D(b2d)
result = []


def occupancy():
    result.append(driver.cuFakeOccupancy(cb, 32))  # @OCCUPANCY


# A thread creation after the library is loaded: locksan looks for libcuda then.
t = threading.Thread(target=occupancy)
t.start()
t.join()
print("done", result[0])
