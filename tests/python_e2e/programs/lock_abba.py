# threading.Lock ABBA across two Python threads, one after the other (nothing hangs).
import threading

a = threading.Lock()
b = threading.Lock()


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
