# A thread forks; in the child that thread (the child's only thread) starts and joins another thread,
# then returns.  CPython ends a thread with pthread_exit(), and glibc ends the process when its last
# thread exits: the child must exit with status 0 (CPython's test_threading does this in
# ThreadJoinOnShutdown).  A helper thread of the sanitizer must not keep the child alive.
import os
import threading
import time
import warnings

# CPython 3.12+ warns about fork() with the main thread alive: expected here, with or without locksan.
warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)

result = []


def worker():
    pid = os.fork()
    if pid == 0:
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
        return  # the child's last thread ends: the child process ends
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            result.append("child exit status %d" % os.WEXITSTATUS(status) if os.WIFEXITED(status)
                          else "child killed by signal %d" % os.WTERMSIG(status))
            return
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    result.append("child still running after 10 s: killed")


w = threading.Thread(target=worker)
w.start()
w.join()
if result:  # only the parent gets here (the child's main thread does not exist)
    print(result[0])
print("done")
