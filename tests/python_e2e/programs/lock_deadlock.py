# threading.Lock ABBA that deadlocks for real: a barrier makes both threads hold their first lock before
# they take the second.  The test kills the process.
import ctypes
import os
import threading

libc = ctypes.CDLL(None)
a = threading.Lock()
b = threading.Lock()
barrier = threading.Barrier(2)


def take_a_then_b():
    os.write(1, b"tid take_a_then_b %d\n" % libc.syscall(186))
    with a:
        barrier.wait()
        with b:  # @AB
            pass


def take_b_then_a():
    os.write(1, b"tid take_b_then_a %d\n" % libc.syscall(186))
    with b:
        barrier.wait()
        with a:  # @BA
            pass


threads = [threading.Thread(target=take_a_then_b, daemon=True), threading.Thread(target=take_b_then_a, daemon=True)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("not reached")
