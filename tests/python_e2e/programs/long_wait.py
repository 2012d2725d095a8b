# long_wait_ms (run with long_wait_ms=300): a threading.Lock held for 1.5 s by a worker while the main
# thread waits for it is one `long-wait` report, naming the main thread's Python frame; the waits that
# follow are not on a held lock and must not be reported: Thread.join() (CPython 3.7-3.12 waits on the
# joined thread's tstate lock), Condition.wait, Event.wait, Queue.get, time.sleep, a pipe read.
import os
import queue
import threading
import time

lock = threading.Lock()
held = threading.Event()


def hold():
    with lock:
        held.set()
        time.sleep(1.5)


def main_waits():
    with lock:  # @WAIT
        pass


t = threading.Thread(target=hold)
t.start()
held.wait()
main_waits()
t.join()
print("got the lock")

t = threading.Thread(target=time.sleep, args=(1,))
t.start()
t.join()
cond = threading.Condition()


def notify_later():
    time.sleep(1)
    with cond:
        cond.notify()


t = threading.Thread(target=notify_later)
with cond:
    t.start()
    cond.wait()
t.join()
ev = threading.Event()
threading.Timer(1, ev.set).start()
ev.wait()
q = queue.Queue()
threading.Timer(1, q.put, args=(1,)).start()
q.get()
time.sleep(1)
r, w = os.pipe()
threading.Timer(1, os.write, args=(w, b"x")).start()
os.read(r, 1)
print("done")
