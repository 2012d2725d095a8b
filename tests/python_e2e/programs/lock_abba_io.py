# threading.Lock ABBA across two Python threads, one after the other, with a GIL release between the
# two acquisitions (time.sleep; any I/O, or a forced switch after the switch interval, does the same).
# The order a -> b is the same whether or not the thread let the GIL go in between.
import threading
import time

a = threading.Lock()
b = threading.Lock()


def take_a_then_b():
    with a:
        time.sleep(0.001)  # the GIL is released and taken again while a is held
        with b:  # @AB
            pass


def take_b_then_a():
    with b:
        time.sleep(0.001)
        with a:  # @BA
            pass


for fn in (take_a_then_b, take_b_then_a):
    t = threading.Thread(target=fn)
    t.start()
    t.join()
print("done")
