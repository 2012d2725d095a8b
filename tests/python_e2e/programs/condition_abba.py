# threading.Lock ABBA where the first half notifies a Condition built on one of the locks, one thread
# after the other (nothing hangs). Condition.notify first asks whether the caller owns the lock by
# probing it (a sem_trywait that fails on the caller's own lock): the lock keeps its identity.
import threading

a = threading.Lock()
cond = threading.Condition(a)
b = threading.Lock()


def take_a_then_b():
    with cond:
        with b:  # @AB
            pass
        cond.notify()


def take_b_then_a():
    with b:
        with a:  # @BA
            pass


for fn in (take_a_then_b, take_b_then_a):
    t = threading.Thread(target=fn)
    t.start()
    t.join()
print("done")
