# faulthandler's watchdog armed while the program forks, as CPython's regrtest runs test_threading's
# fork tests (its per-test timeout): the child inherits the parent's lock orders (the main thread holds
# cancel_event and re-takes the GIL meanwhile), starts and joins threads, and ends with os._exit (as
# those tests do: faulthandler's watchdog thread does not exist in the child, and finalising with it
# armed would wait for it forever, with or without locksan).  No locksan output expected (a report in
# the child made it exit 66, and tests that check a forked child's exit status failed).
import faulthandler
import os
import sys
import threading
import warnings

# 3.12+ warn about fork() with faulthandler's watchdog thread running (with or without locksan; the
# message carries the pid, which differs between the runs compared).
warnings.simplefilter("ignore", DeprecationWarning)

faulthandler.dump_traceback_later(600, exit=True)
print("armed", flush=True)
t = threading.Thread(target=lambda: print("parent thread", flush=True))
t.start()
t.join()
for i in range(2):
    pid = os.fork()
    if pid == 0:
        t = threading.Thread(target=lambda: sys.stdout.write("child thread\n"))
        t.start()
        t.join()
        sys.stdout.flush()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print("child exit status", status >> 8, flush=True)
t = threading.Thread(target=lambda: print("parent thread", flush=True))
t.start()
t.join()
faulthandler.cancel_dump_traceback_later()
print("done", flush=True)
