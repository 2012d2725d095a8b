# Two threading.Locks always taken in the same order (a, then b) by several threads, each letting the
# GIL go in between (time.sleep, output) while it holds a: the GIL is re-taken on top of a, and the
# order a -> b is recorded from a (the GIL is transparent for the choice of edge sources), never
# b -> a.  Also an RLock and a Condition in the same pattern.  No locksan output expected.
import threading
import time

a = threading.Lock()
b = threading.Lock()
r = threading.RLock()
cond = threading.Condition()
count = [0]


def worker(k):
    for i in range(5):
        with a:
            time.sleep(0.0005)
            with b:
                count[0] += 1
        with r:
            time.sleep(0.0005)
            with r:
                with a:
                    pass
        with cond:
            cond.notify_all()


ts = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("count", count[0])
