# concurrent.futures.ThreadPoolExecutor: map, submit/as_completed, nested pools, tasks sharing locks
# in one consistent order.  No locksan output expected.
import concurrent.futures as cf
import threading

a = threading.Lock()
b = threading.RLock()
total = [0]


def work(i):
    with a:
        with b:
            with b:
                total[0] += i
    return i * i


with cf.ThreadPoolExecutor(max_workers=8) as ex:
    squares = list(ex.map(work, range(100)))
    futs = [ex.submit(work, i) for i in range(100)]
    done = sorted(f.result() for f in cf.as_completed(futs))
print(sum(squares), sum(done), total[0])


def outer(n):
    with cf.ThreadPoolExecutor(max_workers=2) as inner:
        return sum(inner.map(work, range(n)))


with cf.ThreadPoolExecutor(max_workers=4) as ex:
    print(sorted(ex.map(outer, range(1, 5))))

ex = cf.ThreadPoolExecutor(max_workers=3)
f = ex.submit(lambda: 1 / 0)
try:
    f.result(timeout=10)
except ZeroDivisionError:
    print("exception propagated")
ex.shutdown(wait=True)
print("done")
