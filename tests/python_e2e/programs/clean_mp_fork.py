# multiprocessing with the fork start method: Pool, Process + Queue, a Lock shared between processes.
# No locksan output expected.
import multiprocessing as mp
import threading


def square(x):
    return x * x


def child(q, lock, k):
    with lock:
        q.put(k * 2)


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    # threads in the parent before forking (joined: the program is single-threaded again)
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    with ctx.Pool(2) as pool:
        print(sum(pool.map(square, range(100))))
        print(pool.apply_async(square, (7,)).get(timeout=60))
    q = ctx.Queue()
    lock = ctx.Lock()
    ps = [ctx.Process(target=child, args=(q, lock, k)) for k in range(2)]
    for p in ps:
        p.start()
    got = sorted(q.get(timeout=60) for _ in ps)
    for p in ps:
        p.join()
    print(got, [p.exitcode for p in ps])
    print("done")
