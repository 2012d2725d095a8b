# callback_in_fake_driver.py's pattern, but the stand-in driver waits on a condition variable with its
# mutex (the wait times out and re-acquires the mutex) before it calls the Python ctypes callback: the
# mutex re-acquired by pthread_cond_timedwait is still a lock taken inside libcuda, so locksan reports
# python-callback-in-driver-call from it (no CUPTI here).
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
    result.append(driver.cuFakeOccupancyAfterWait(cb, 32))  # @OCCUPANCY


# A thread creation after the library is loaded: locksan looks for libcuda then.
t = threading.Thread(target=occupancy)
t.start()
t.join()
print("done", result[0])
