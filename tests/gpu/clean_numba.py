"""clean_numba.py — numba-cuda: a @cuda.jit kernel, a stream, and Stream.add_callback (a Python
callback that numba runs through a ctypes trampoline on the driver's callback thread) while the main
thread waits in stream.synchronize(). Expected PASS (numba releases the GIL while it waits), no report."""
import os
import sys
import threading

import numpy as np

# numba-cuda 0.30 registers an overload for np.row_stack, which the GPU machine's numpy (2.5.2) no longer has:
# without this shim the first kernel launch fails there (an environment problem, not a CUDA one).
if not hasattr(np, "row_stack"):
    np.row_stack = np.vstack

try:
    from numba import cuda
except ImportError as e:
    print("SKIP: numba not installed (%s)" % e)
    sys.exit(0)
if not cuda.is_available():
    print("SKIP: no GPU (numba.cuda.is_available() is False)")
    sys.exit(0)


@cuda.jit
def add(x):
    i = cuda.grid(1)
    if i < x.size:
        x[i] += 1


x = cuda.to_device(np.zeros(4096))
add[16, 256](x)
stream = cuda.stream()
add[16, 256, stream](x)
ran = []


def cb(strm, status, arg):
    ran.append((threading.get_native_id(), status, arg))


import faulthandler  # noqa: E402
if not os.environ.get("LOCKSAN_GPU_NO_FAULTHANDLER"):
    faulthandler.dump_traceback_later(15, exit=True)   # a hang shows up as "Timeout (0:00:15)!"
how = "Stream.add_callback"
try:
    stream.add_callback(cb, "hello")
except AttributeError as e:
    # numba-cuda 0.30 with the cuda.bindings driver: add_callback reads `self.handle.value`, which a
    # cuda.bindings CUstream lacks. Do what add_callback does (a ctypes Python trampoline given to the
    # driver as a host function) by hand on the same stream.
    import ctypes
    print("NOTE: numba Stream.add_callback is broken here (%s); using cuLaunchHostFunc + ctypes" % e)
    how = "cuLaunchHostFunc(ctypes trampoline) on numba's stream"
    _hostfn_t = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    _tramp = _hostfn_t(lambda _: cb(stream, 0, "hello"))
    _lib = ctypes.CDLL("libcuda.so.1")
    _lib.cuLaunchHostFunc.argtypes = [ctypes.c_void_p, _hostfn_t, ctypes.c_void_p]
    _h = stream.handle
    rc = _lib.cuLaunchHostFunc(ctypes.c_void_p(_h.value if hasattr(_h, "value") else int(_h)), _tramp, None)
    assert rc == 0, rc
stream.synchronize()   # numba's own synchronize (through cuda.bindings)
faulthandler.cancel_dump_traceback_later()
out = x.copy_to_host()
assert out[0] == 2.0, out[:4]
print("FACT: numba: a Python stream callback (%s) ran on tid %s (main %d) while the main thread waited in "
      "numba's stream.synchronize()" % (how, ran[0][0] if ran else None, threading.get_native_id()))
if not ran:
    print("FAIL: callback did not run")
    sys.exit(1)
import numba  # noqa: E402
print("numba %s, numpy %s" % (numba.__version__, np.__version__))
print("PASS")
