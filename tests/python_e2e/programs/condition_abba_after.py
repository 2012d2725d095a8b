# threading.Lock ABBA, one thread after the other (nothing hangs), after a Condition built on lock A
# was notified once: the notify's ownership probe (a sem_trywait that fails on the caller's own lock)
# leaves A tracked.
import threading

a = threading.Lock()
cond = threading.Condition(a)
b = threading.Lock()

with cond:
    cond.notify()


def take_a_then_b():
    with a:
        with b:  # @AB
            pass


def take_b_then_a():
    with b:
        with a:  # @BA
            pass


for fn in (take_a_then_b, take_b_then_a):
    t = threading.Thread(target=fn)
    t.start()
    t.join()
print("done")
