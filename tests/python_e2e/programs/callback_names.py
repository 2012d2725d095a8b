# The GIL <-> lib_mu inversion of gil_inversion.py, with the Python callback made in different ways
# (argv[1]); the report must name the callback (locksan's "Python callback:" line):
#   function      a plain function through ctypes.CFUNCTYPE
#   method        a bound method: named by its function's qualified name
#   partial       functools.partial: not a function, named by its type
#   native_thread the callback runs on a thread the C library created (no Python thread state yet)
#   cffi          cffi's ffi.callback (the cffi package)
#   cffi_backend  the same through _cffi_backend alone (Debian's python3-cffi-backend has no cffi package)
# Every variant prints "done" and the callback's result.
import ctypes
import functools
import os
import sys
import threading

variant = sys.argv[1]
path = os.environ["PYE2E_CBLIB"]
lib = ctypes.CDLL(path)
pylib = ctypes.PyDLL(path)
CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)


def on_event(x):  # @ON_EVENT
    return x + 1


class Handler:
    def on_event(self, x):  # @METHOD
        return x + 2


def add(a, x):
    return a + x


def call_with_callback():
    if variant == "function":
        return lib.lib_call_with_callback(CB(on_event), 41)
    if variant == "method":
        return lib.lib_call_with_callback(CB(Handler().on_event), 41)
    if variant == "partial":
        return lib.lib_call_with_callback(CB(functools.partial(add, 3)), 41)
    if variant == "native_thread":
        return lib.lib_call_in_new_thread(CB(on_event), 41)
    if variant == "cffi":
        import cffi
        ffi = cffi.FFI()
        ffi.cdef("int lib_call_with_callback(int (*cb)(int), int x);")
        clib = ffi.dlopen(path)
        cb = ffi.callback("int(int)", on_event)
        return clib.lib_call_with_callback(cb, 41)  # cffi releases the GIL around the call
    if variant == "cffi_backend":
        import _cffi_backend as B
        int_t = B.new_primitive_type("int")
        cb_t = B.new_function_type((int_t,), int_t, False)
        call_t = B.new_function_type((cb_t, int_t), int_t, False)
        fn = B.load_library(path).load_function(call_t, "lib_call_with_callback")
        return fn(B.callback(cb_t, on_event), 41)
    raise SystemExit("unknown variant " + variant)


result = []
t = threading.Thread(target=lambda: result.append(call_with_callback()))
t.start()
t.join()
t = threading.Thread(target=pylib.lib_touch)
t.start()
t.join()
print("done", result[0])
