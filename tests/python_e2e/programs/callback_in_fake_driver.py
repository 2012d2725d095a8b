# The seed pattern of issue #4 without a GPU: a "driver" (fakecuda.c, loaded under the file name
# libcuda.so.1) holds its own mutex while it calls a Python ctypes callback. No other thread competes,
# so nothing hangs; locksan reports python-callback-in-driver-call (from the held lock that code in
# libcuda took: no CUPTI here) and names the callback.
# With the argument `wait`, the driver first waits on a condition variable with its mutex (the wait
# times out and re-acquires the mutex) before it calls the callback: the mutex re-acquired by
# pthread_cond_timedwait is still a lock taken inside libcuda.
import ctypes
import os
import sys
import threading

driver = ctypes.CDLL(os.environ["PYE2E_FAKECUDA"])
occupancy_call = driver.cuFakeOccupancyAfterWait if sys.argv[1:] == ["wait"] else driver.cuFakeOccupancy
B2D = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_int)


def b2d(block_size):  # @B2D
    return block_size * 4


cb = B2D(b2d)
result = []


def occupancy():
    result.append(occupancy_call(cb, 32))  # @OCCUPANCY


# A thread creation after the library is loaded: locksan looks for libcuda then.
t = threading.Thread(target=occupancy)
t.start()
t.join()
print("done", result[0])
