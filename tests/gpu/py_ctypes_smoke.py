"""py_ctypes_smoke.py — the tracker seen from Python (run under LD_PRELOAD=libsmoke_preload.so):
driver calls through ctypes, a Python b2d callback inside a driver call, and (if installed)
cuda-bindings, which reaches the driver through cuGetProcAddress pointers."""
import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cudactx  # noqa: E402

cudactx.watchdog(60)
st = cudactx.stub()
if st is None:
    print("FAIL: run under LD_PRELOAD=libsmoke_preload.so")
    sys.exit(1)
cu = cudactx.Cuda()
print("status: %s" % st.locksan_stub_tracker_status().decode())
fails = []
inside = []
cb = cudactx.B2D(lambda bs: (inside.append(st.locksan_stub_current()), 0)[1])
cu.occupancy(cb)
p = ctypes.c_uint64()
cudactx.check(cu.lib.cuMemAlloc_v2(ctypes.byref(p), 4096), "alloc")
cudactx.check(cu.lib.cuMemFree_v2(p), "free")
cudactx.check(cu.py.cuMemAlloc_v2(ctypes.byref(p), 4096), "alloc (PyDLL)")
cudactx.check(cu.py.cuMemFree_v2(p), "free (PyDLL)")
print("FACT: CurrentDriverCall() in the Python b2d callback: %s" % (inside[0] if inside else None))
if not inside or inside[0] != b"cuOccupancyMaxPotentialBlockSize":
    fails.append("CurrentDriverCall in b2d")
print("FACT: CUPTI reported cuInit (called after subscribing): %s" % ("yes" if st.locksan_stub_seen(b"cuInit") else "no"))
for name in ["cuDevicePrimaryCtxRetain", "cuModuleLoadData", "cuMemAlloc_v2", "cuMemFree_v2",
             "cuOccupancyMaxPotentialBlockSize"]:
    if st.locksan_stub_seen(name.encode()) == 0:
        fails.append("not seen: " + name)
try:
    from cuda.bindings import driver as cbd
    before = st.locksan_stub_seen(b"cuMemAlloc_v2")
    err, dptr = cbd.cuMemAlloc(4096)
    cbd.cuMemFree(dptr)
    after = st.locksan_stub_seen(b"cuMemAlloc_v2")
    print("FACT: cuda.bindings cuMemAlloc (%s) seen by CUPTI: %s" % (err, "yes" if after > before else "no"))
    if after <= before:
        fails.append("cuda.bindings call not seen")
except ImportError as e:
    print("cuda.bindings not installed: %s" % e)
e, x, xw, mm = cudactx.counts(st)
print("counts: enter=%d exit=%d exit_without_enter=%d cbid_mismatch=%d" % (e, x, xw, mm))
if e != x or xw or mm:
    fails.append("unbalanced")
if fails:
    print("FAIL: %s" % fails)
    sys.exit(1)
print("PASS")
