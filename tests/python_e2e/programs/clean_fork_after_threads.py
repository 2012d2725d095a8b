# os.fork() right after all other threads have exited.  CPython 3.12+ warns (DeprecationWarning) on
# fork() in a multi-threaded process, counting the OS threads of the process (/proc/self/stat); this one
# is single-threaded again when it forks, so no warning may appear under locksan either (stdout lists
# the warnings caught).
import os
import re
import threading
import time
import warnings


def program_threads():
    """The OS threads of this process other than locksan's watchdog ("locksan-watch")."""
    n = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/comm" % tid) as f:
                n += f.read().strip() != "locksan-watch"
        except OSError:
            pass
    return n


ts = [threading.Thread(target=lambda: None) for _ in range(3)]
for t in ts:
    t.start()
for t in ts:
    t.join()
# join() returns when the Python thread is done; its OS thread ends a moment later. Wait for that (the
# program's own threads only), then fork at once: the sanitizer's helper thread must not be counted.
deadline = time.monotonic() + 3
while program_threads() > 1 and time.monotonic() < deadline:
    time.sleep(0.001)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    pid = os.fork()
    if pid == 0:
        os._exit(7)
_, status = os.waitpid(pid, 0)
print("warnings at fork:", [re.sub(r"pid=\d+", "pid=N", str(w.message)) for w in caught
                            if issubclass(w.category, DeprecationWarning)])
print("child exit", os.WEXITSTATUS(status))
print("done")
