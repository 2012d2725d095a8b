# Signal handlers and locksan's signal blocking (docs/design.md, "Signals"). CPython's own C handlers
# (signal.signal(), SIGINT, faulthandler) take no lock, so they do not make locksan block signals around
# its lock graph; a C handler the program installs itself (here through ctypes) is deferred out of
# locksan's critical sections (or, with defer_signals=0, makes locksan block signals around them).
# argv[1]: "python" (signal.signal + faulthandler) or "c" (libc signal() with a ctypes C callback).
import ctypes
import faulthandler
import os
import signal
import sys

got = []
if sys.argv[1:] == ["c"]:
    libc = ctypes.CDLL(None)
    HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_int)
    handler = HANDLER(lambda signum: None)
    libc.signal.restype = ctypes.c_void_p
    libc.signal.argtypes = [ctypes.c_int, HANDLER]
    libc.signal(signal.SIGUSR2, handler)
else:
    signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(signum))
    faulthandler.enable()
    faulthandler.register(signal.SIGUSR2, file=sys.stderr, chain=False)
    os.kill(os.getpid(), signal.SIGUSR1)
    assert got == [signal.SIGUSR1], got
print("done")
