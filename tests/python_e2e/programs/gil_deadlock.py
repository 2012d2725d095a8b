# GIL <-> library mutex inversion run concurrently until it deadlocks for real: one thread loops calls
# that hold lib_mu and call back into Python (lib_mu -> GIL), the other loops PyDLL calls that take
# lib_mu while holding the GIL (GIL -> lib_mu).  The test kills the process.
import ctypes
import os
import sys
import threading

lib = ctypes.CDLL(os.environ["PYE2E_CBLIB"])
pylib = ctypes.PyDLL(os.environ["PYE2E_CBLIB"])
CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)
libc = ctypes.CDLL(None)


def on_event(x):  # @ON_EVENT
    return x + 1


cb = CB(on_event)


def say(text):
    os.write(1, (text + "\n").encode())


def callback_loop():
    say("tid callback_loop %d" % libc.syscall(186))
    while True:
        lib.lib_call_with_callback_slow(cb, 1, 200)  # @CALLBACK


def touch_loop():
    say("tid touch_loop %d" % libc.syscall(186))
    while True:
        pylib.lib_touch()  # @TOUCH


sys.setswitchinterval(0.0005)
threads = [threading.Thread(target=callback_loop, daemon=True), threading.Thread(target=touch_loop, daemon=True)]
for t in threads:
    t.start()
for t in threads:
    t.join()
say("not reached")
