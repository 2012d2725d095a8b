# faulthandler's watchdog, as test runners use it (CPython's regrtest, pytest's faulthandler_timeout):
# dump_traceback_later() arms a C thread that waits on an internal lock for the timeout, output and
# threads run meanwhile, cancel_dump_traceback_later() disarms it.  No locksan output expected.
import faulthandler
import sys
import threading

for i in range(3):
    faulthandler.dump_traceback_later(600)
    print("armed", i, flush=True)
    t = threading.Thread(target=lambda: sys.stdout.write("thread output\n"))
    t.start()
    t.join()
    sys.stdout.flush()
    faulthandler.cancel_dump_traceback_later()
faulthandler.dump_traceback_later(600, exit=True)
print("done", flush=True)
faulthandler.cancel_dump_traceback_later()
