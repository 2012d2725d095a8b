"""tests/report/progs/py_frames.py — a lock-order inversion reached from Python code, so that its
report carries Python stacks: two threads, one after the other, call libabba's two lock orders
through ctypes.  Usage: py_frames.py LIBABBA"""
import ctypes
import sys
import threading


def post_from_python():
    ctypes.PyDLL(sys.argv[1]).lock_forward()


def audit_from_python():
    ctypes.CDLL(sys.argv[1]).lock_backward()


for fn in (post_from_python, audit_from_python):
    t = threading.Thread(target=fn)
    t.start()
    t.join()
