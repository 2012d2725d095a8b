# The seed pattern of issue #4 as locksan sees it with CUPTI on, without a GPU: a stand-in driver
# (fakecuda.c, built with the soname libcuda.so.1) reports its calls to a stand-in libcupti
# (fakecupti.c, found through LOCKSAN_CUPTI_PATH; locksan subscribes when cuInit loads
# CUDA_INJECTION64_PATH), and runs a Python ctypes callback inside cuOccupancyMaxPotentialBlockSize
# while holding no pthread lock. Nothing competes, nothing hangs: locksan reports
# python-callback-in-driver-call from the driver-call tracking alone, once for two calls from one
# call site.
import ctypes
import os

driver = ctypes.CDLL(os.environ["PYE2E_FAKECUDA_CUPTI"])
driver.cuInit(0)
B2D = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_int)


def b2d(block_size):  # @B2D
    return block_size * 4


cb = B2D(b2d)
for _ in range(3):
    driver.cuFakeCtxGetCurrent()


def occupancy():
    return driver.cuFakeOccupancyTracked(cb, 32)  # @OCCUPANCY


results = []
for _ in range(2):  # one call site, two calls: one report
    results.append(occupancy())
print("done", *results)
