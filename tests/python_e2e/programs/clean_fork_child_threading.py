# os.fork() from the main thread; the child uses threading (active_count, a thread started and joined,
# enumerate) and exits.  In the child CPython re-creates the main thread's lock (_tstate_lock, 3.7-3.12)
# under threading's _active_limbo_lock; that lock is never waited for by anybody while the child's main
# thread lives, so nothing here can deadlock.  No locksan output expected.
import os
import threading

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    n = threading.active_count()
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    names = sorted(th.name for th in threading.enumerate())
    os.write(w, ("child: active_count %d, threads %s\n" % (n, names)).encode())
    os._exit(0)
os.close(w)
with os.fdopen(r) as f:
    print(f.read(), end="")
_, status = os.waitpid(pid, 0)
print("child exit", os.WEXITSTATUS(status))
print("done")
