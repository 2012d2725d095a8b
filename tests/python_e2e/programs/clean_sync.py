# threading.Condition / Event / Semaphore / BoundedSemaphore / Barrier / RLock / Timer, with several
# threads, timeouts and nested use.  No locksan output expected.
import threading
import time

# Condition: a bounded buffer
cond = threading.Condition()
buf = []
consumed = []


def produce():
    for i in range(300):
        with cond:
            while len(buf) >= 4:
                cond.wait()
            buf.append(i)
            cond.notify_all()


def consume(n):
    got = 0
    for _ in range(n):
        with cond:
            cond.wait_for(lambda: buf)
            buf.pop(0)
            got += 1
            cond.notify_all()
    consumed.append(got)


ts = [threading.Thread(target=produce)] + [threading.Thread(target=consume, args=(100,)) for _ in range(3)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("condition", sum(consumed))
with cond:
    print("wait timeout", cond.wait(timeout=0.02))

# Condition over an RLock held twice
rc = threading.Condition(threading.RLock())
flag = []


def setter():
    with rc:
        flag.append(1)
        rc.notify()


with rc:
    with rc:
        t = threading.Thread(target=setter)
        t.start()
        rc.wait_for(lambda: flag, timeout=10)
t.join()
print("rlock condition", flag)

# Event
ev = threading.Event()
hits = []
ws = [threading.Thread(target=lambda: hits.append(ev.wait(10))) for _ in range(5)]
for w in ws:
    w.start()
time.sleep(0.02)
ev.set()
for w in ws:
    w.join()
print("event", hits.count(True), ev.wait(0))
ev.clear()
print("event timeout", ev.wait(0.01))
# zero timeouts: Condition.wait(0) re-takes its waiter lock with a failing non-blocking acquire
print("event poll", threading.Event().wait(0), ev.wait(timeout=0))
with cond:
    print("condition poll", cond.wait(0), cond.wait_for(lambda: False, timeout=0))

# Semaphore / BoundedSemaphore
sem = threading.Semaphore(3)
bsem = threading.BoundedSemaphore(2)
inside = [0]
peak = [0]
mu = threading.Lock()


def limited():
    for _ in range(50):
        with sem:
            with bsem:
                with mu:
                    inside[0] += 1
                    peak[0] = max(peak[0], inside[0])
                with mu:
                    inside[0] -= 1


ws = [threading.Thread(target=limited) for _ in range(6)]
for w in ws:
    w.start()
for w in ws:
    w.join()
print("semaphore peak<=2", peak[0] <= 2)
try:
    bsem.release()
except ValueError:
    print("bounded semaphore over-release refused")

# Barrier
bar = threading.Barrier(4)
order = []


def at_barrier(k):
    for r in range(20):
        bar.wait()
    order.append(k)


ws = [threading.Thread(target=at_barrier, args=(k,)) for k in range(4)]
for w in ws:
    w.start()
for w in ws:
    w.join()
print("barrier", sorted(order))
b2 = threading.Barrier(2, timeout=0.02)
try:
    b2.wait()
except threading.BrokenBarrierError:
    print("barrier broken after timeout")

# Lock with timeout, non-blocking, released by another thread
lk = threading.Lock()
lk.acquire()
print("try", lk.acquire(False), lk.acquire(timeout=0.01))
threading.Thread(target=lk.release).start()
print("acquired after foreign release", lk.acquire(timeout=10))
lk.release()

# Timer
fired = threading.Event()
tm = threading.Timer(0.01, fired.set)
tm.start()
print("timer", fired.wait(10))
tm.join()
print("done")
