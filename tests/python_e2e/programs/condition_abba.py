# threading.Lock ABBA, one thread after the other (nothing hangs), through the lock of a Condition
# built on lock A. Condition.notify first asks whether the caller owns the lock by probing it (a
# sem_trywait that fails on the caller's own lock): A stays tracked, with its identity.
#   condition_abba.py         the first half notifies while it holds A
#   condition_abba.py after   a notify() before both halves, which take A as a plain lock
import sys
import threading

AFTER = sys.argv[1:] == ["after"]
a = threading.Lock()
cond = threading.Condition(a)
b = threading.Lock()

if AFTER:
    with cond:
        cond.notify()


def take_a_then_b():
    with cond:
        with b:  # @AB
            pass
        if not AFTER:
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
