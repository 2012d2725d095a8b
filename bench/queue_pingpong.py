"""bench/queue_pingpong.py — two Python threads bouncing an item through two queue.Queue objects.

Every blocking get() waits in threading.Condition.wait, which allocates a new waiter lock (a new
semaphore) each time: a Python program's steady stream of new locks that are taken by CPython's own
code and never ordered against another lock. Prints "RESULT rounds=N us_per_round=X".

    python3 bench/queue_pingpong.py [ROUNDS]
    LD_PRELOAD=build/liblocksan.so python3 bench/queue_pingpong.py [ROUNDS]
"""
import queue
import sys
import threading
import time


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    a, b = queue.Queue(), queue.Queue()

    def echo():
        for _ in range(n):
            b.put(a.get())

    t = threading.Thread(target=echo)
    t.start()
    t0 = time.perf_counter()
    for i in range(n):
        a.put(i)
        if b.get() != i:
            raise SystemExit("queue_pingpong: wrong item")
    dt = time.perf_counter() - t0
    t.join()
    print("RESULT rounds=%d us_per_round=%.2f" % (n, dt / n * 1e6))


if __name__ == "__main__":
    main()
