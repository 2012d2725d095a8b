"""hostfunc_gil.py — a host function (cuLaunchHostFunc) written in Python, and a main thread that
waits for the stream while holding the GIL.

--sync pydll: the main thread calls cuStreamSynchronize through ctypes.PyDLL (GIL held). The host
              function runs on a driver thread and needs the GIL to run Python; the stream cannot
              finish until it has run: deadlock. Expected: HANG (faulthandler watchdog, exit 1).
--sync cdll:  the same through ctypes.CDLL (GIL released while waiting). Expected: PASS.
The host function is queued behind a 300 ms spin kernel so that the main thread is always already
waiting when it runs. Prints which thread ran the host function.
"""
import argparse
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cudactx  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--sync", choices=["pydll", "cdll"], default="pydll")
ap.add_argument("--watchdog", type=float, default=5.0)
args = ap.parse_args()

cudactx.watchdog(60)
cu = cudactx.Cuda()
st = cudactx.stub()
info = {}


def host_fn(_):
    tid = threading.get_native_id()
    info["tid"] = tid
    info["name"] = cudactx.thread_name(tid)
    info["python_thread"] = threading.current_thread().name
    if st is not None:
        info["current"] = st.locksan_stub_current()


fn = cudactx.HOSTFN(host_fn)
for rnd in range(3):
    cudactx.watchdog(args.watchdog)
    cu.launch_spin(300_000_000)
    cudactx.check(cu.lib.cuLaunchHostFunc(None, fn, None), "cuLaunchHostFunc")
    dll = cu.py if args.sync == "pydll" else cu.lib
    cudactx.check(dll.cuStreamSynchronize(None), "cuStreamSynchronize")
cudactx.watchdog(60)
print("FACT: the cuLaunchHostFunc function ran on tid %s (%s, Python thread %r); main thread tid %d%s" % (
    info.get("tid"), info.get("name"), info.get("python_thread"), threading.get_native_id(),
    "; CurrentDriverCall() there: %s" % info.get("current") if st is not None else ""))
print("PASS")
