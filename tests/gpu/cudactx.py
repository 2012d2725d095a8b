"""tests/gpu/cudactx.py — the CUDA driver through nothing but ctypes, for the GPU test scripts.

Two views of libcuda.so.1:
  Cuda.lib  ctypes.CDLL  — releases the GIL around each call (what numba and most bindings do)
  Cuda.py   ctypes.PyDLL — keeps the GIL held during the call (like Cython code without `nogil`)
A kernel module is built from a PTX string (no compiler needed): `noop(u64)` and `spin(u64 ns)`
(busy-waits ns nanoseconds on %globaltimer).

Scripts print "SKIP: no GPU ..." and exit 0 when there is no usable driver or device.
"""
import ctypes
import os
import sys
import threading

PTX = b"""
.version 7.0
.target sm_80
.address_size 64
.visible .entry noop(.param .u64 p)
{
  ret;
}
.visible .entry spin(.param .u64 ns)
{
  .reg .u64 %rd<5>;
  .reg .pred %p1;
  ld.param.u64 %rd1, [ns];
  mov.u64 %rd2, %globaltimer;
LOOP:
  mov.u64 %rd3, %globaltimer;
  sub.u64 %rd4, %rd3, %rd2;
  setp.lt.u64 %p1, %rd4, %rd1;
  @%p1 bra LOOP;
  ret;
}
\0"""

B2D = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_int)   # CUoccupancyB2DSize
HOSTFN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)         # CUhostFn

_P = ctypes.POINTER
_SIGS = {
    "cuInit": [ctypes.c_uint],
    "cuDeviceGetCount": [_P(ctypes.c_int)],
    "cuDeviceGet": [_P(ctypes.c_int), ctypes.c_int],
    "cuDevicePrimaryCtxRetain": [_P(ctypes.c_void_p), ctypes.c_int],
    "cuCtxSetCurrent": [ctypes.c_void_p],
    "cuCtxGetCurrent": [_P(ctypes.c_void_p)],
    "cuModuleLoadData": [_P(ctypes.c_void_p), ctypes.c_char_p],
    "cuModuleGetFunction": [_P(ctypes.c_void_p), ctypes.c_void_p, ctypes.c_char_p],
    "cuMemAlloc_v2": [_P(ctypes.c_uint64), ctypes.c_size_t],
    "cuMemFree_v2": [ctypes.c_uint64],
    "cuOccupancyMaxPotentialBlockSize": [_P(ctypes.c_int), _P(ctypes.c_int), ctypes.c_void_p, B2D,
                                         ctypes.c_size_t, ctypes.c_int],
    "cuLaunchKernel": [ctypes.c_void_p] + [ctypes.c_uint] * 7 + [ctypes.c_void_p, _P(ctypes.c_void_p),
                                                                 ctypes.c_void_p],
    "cuLaunchHostFunc": [ctypes.c_void_p, HOSTFN, ctypes.c_void_p],
    "cuStreamSynchronize": [ctypes.c_void_p],
    "cuCtxSynchronize": [],
}


class _Api:
    def __init__(self, dll):
        for name, args in _SIGS.items():
            f = getattr(dll, name)
            f.argtypes = args
            f.restype = ctypes.c_int
            setattr(self, name, f)


def skip(msg):
    print("SKIP: " + msg, flush=True)
    sys.exit(0)


def check(rc, what):
    if rc != 0:
        print("FAIL: %s -> CUresult %d" % (what, rc), flush=True)
        sys.exit(1)


class Cuda:
    def __init__(self):
        try:
            self.lib = _Api(ctypes.CDLL("libcuda.so.1"))
            self.py = _Api(ctypes.PyDLL("libcuda.so.1"))
        except OSError as e:
            skip("no GPU (libcuda.so.1: %s)" % e)
        rc = self.lib.cuInit(0)
        if rc != 0:
            skip("no GPU (cuInit -> %d)" % rc)
        n = ctypes.c_int(0)
        check(self.lib.cuDeviceGetCount(ctypes.byref(n)), "cuDeviceGetCount")
        if n.value == 0:
            skip("no GPU (no device)")
        dev = ctypes.c_int()
        check(self.lib.cuDeviceGet(ctypes.byref(dev), 0), "cuDeviceGet")
        self.ctx = ctypes.c_void_p()
        check(self.lib.cuDevicePrimaryCtxRetain(ctypes.byref(self.ctx), dev), "cuDevicePrimaryCtxRetain")
        self.make_current()
        self.mod = ctypes.c_void_p()
        check(self.lib.cuModuleLoadData(ctypes.byref(self.mod), PTX), "cuModuleLoadData")
        self.noop = ctypes.c_void_p()
        self.spin = ctypes.c_void_p()
        check(self.lib.cuModuleGetFunction(ctypes.byref(self.noop), self.mod, b"noop"), "get noop")
        check(self.lib.cuModuleGetFunction(ctypes.byref(self.spin), self.mod, b"spin"), "get spin")

    def make_current(self):
        """The context is per thread: call in every thread that uses the driver."""
        check(self.lib.cuCtxSetCurrent(self.ctx), "cuCtxSetCurrent")

    def occupancy(self, b2d, dll=None):
        grid, block = ctypes.c_int(), ctypes.c_int()
        rc = (dll or self.lib).cuOccupancyMaxPotentialBlockSize(
            ctypes.byref(grid), ctypes.byref(block), self.noop, b2d, 0, 1024)
        check(rc, "cuOccupancyMaxPotentialBlockSize")
        return grid.value, block.value

    def launch_spin(self, ns, stream=None):
        arg = ctypes.c_uint64(ns)
        params = (ctypes.c_void_p * 1)(ctypes.cast(ctypes.byref(arg), ctypes.c_void_p))
        check(self.lib.cuLaunchKernel(self.spin, 1, 1, 1, 1, 1, 1, 0, stream, params, None),
              "cuLaunchKernel(spin)")


def stub():
    """The smoke preload's query API (tests/gpu/hooks_stub.cc), or None when not preloaded."""
    me = ctypes.CDLL(None)
    if not hasattr(me, "locksan_stub_seen"):
        return None
    me.locksan_stub_seen.argtypes = [ctypes.c_char_p]
    me.locksan_stub_seen.restype = ctypes.c_uint64
    me.locksan_stub_current.restype = ctypes.c_char_p
    me.locksan_stub_tracker_status.restype = ctypes.c_char_p
    me.locksan_stub_names.restype = ctypes.c_char_p
    me.locksan_stub_names.argtypes = [ctypes.c_int]
    me.locksan_stub_held_locks.restype = ctypes.c_char_p
    return me


def counts(st):
    v = [ctypes.c_uint64() for _ in range(4)]
    st.locksan_stub_counts(*[ctypes.byref(x) for x in v])
    return [x.value for x in v]


def watchdog(seconds):
    """Arm (or re-arm) faulthandler's watchdog: if the main thread cannot come back to re-arm it within
    `seconds` (because it is stuck waiting for the GIL), the watchdog thread — which needs no GIL —
    prints every thread's Python stack under a "Timeout (h:mm:ss)!" line and exits with status 1."""
    import faulthandler
    import os
    if os.environ.get("LOCKSAN_GPU_NO_FAULTHANDLER"):
        return  # run.sh's `timeout -s KILL` still bounds the run
    faulthandler.dump_traceback_later(seconds, exit=True)


def native_id():
    return threading.get_native_id()


def thread_name(tid):
    try:
        with open("/proc/self/task/%d/comm" % tid) as f:
            return f.read().strip()
    except OSError:
        return "?"
