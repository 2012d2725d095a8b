# threading.Lock ABBA: the main thread, which created both locks, takes A then B itself; then another
# thread takes B then A. Each lock is first taken by CPython's own code in the thread that created
# it, so the report says where ("first locked at", the interpreter's lock function) without the
# runtime having captured a stack for that first acquisition (core/detector.cc, ResolveLockSlow).
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


take_a_then_b()
t = threading.Thread(target=take_b_then_a)
t.start()
t.join()
print("done")
