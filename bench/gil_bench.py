#!/usr/bin/env python3
"""GIL-heavy Python workload for timing a lock sanitizer preloaded under CPython.

All of these run at the same time, a fixed amount of work each (about 2-4 s of wall time
natively on a 2-core machine):
  * CPU-bound threads running pure-Python loops (they hold the GIL and are forced to hand it
    over every switch interval);
  * a socket ping-pong on loopback between two threads (every send/recv drops the GIL);
  * a pipe writer and a pipe reader thread;
  * a thread re-reading a temporary file in small chunks;
  * threads contending for one threading.Lock;
  * queue.Queue producers and consumers.

Prints '#' lines for people and one machine-readable line:
  RESULT mode=gil wall_s=2.345 ...
Usage: gil_bench.py [--scale F] [--cpu-threads N]
"""
import argparse
import os
import queue
import socket
import sys
import tempfile
import threading
import time


def cpu_worker(n, out, idx):
    # Pure-Python arithmetic: holds the GIL except at switch intervals.
    acc = 0
    x = idx + 1
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc ^= x >> (i & 7)
    out[idx] = acc


def socket_pingpong(rounds, out):
    a, b = socket.socketpair()  # AF_UNIX on Linux; a TCP loopback pair follows below
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.create_connection(srv.getsockname())
    s, _ = srv.accept()
    srv.close()
    for sock in (c, s):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def echo(sock, n):
        for _ in range(n):
            data = sock.recv(64)
            if not data:
                return
            sock.sendall(data)

    half = rounds // 2
    t1 = threading.Thread(target=echo, args=(b, half))
    t2 = threading.Thread(target=echo, args=(s, rounds - half))
    t1.start()
    t2.start()
    got = 0
    for i in range(half):
        a.sendall(b"ping%06d" % i)
        got += len(a.recv(64))
    for i in range(rounds - half):
        c.sendall(b"pong%06d" % i)
        got += len(c.recv(64))
    t1.join()
    t2.join()
    for sock in (a, b, c, s):
        sock.close()
    out["socket"] = got


def pipe_transfer(chunks, out):
    r, w = os.pipe()
    payload = b"x" * 4096

    def writer():
        for _ in range(chunks):
            os.write(w, payload)
        os.close(w)

    t = threading.Thread(target=writer)
    t.start()
    total = 0
    while True:
        data = os.read(r, 4096)
        if not data:
            break
        total += len(data)
    t.join()
    os.close(r)
    out["pipe"] = total


def file_reader(path, passes, out):
    total = 0
    for _ in range(passes):
        with open(path, "rb", buffering=0) as f:
            while True:
                data = f.read(4096)
                if not data:
                    break
                total += len(data)
    out["file"] = total


def lock_contender(lock, n, counter):
    for _ in range(n):
        with lock:
            counter[0] += 1


def producer(q, n, nconsumers):
    for i in range(n):
        q.put(i)
    for _ in range(nconsumers):
        q.put(None)


def consumer(q, out, idx):
    total = 0
    while True:
        item = q.get()
        if item is None:
            break
        total += item
    out[idx] = total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every work amount (default 1)")
    ap.add_argument("--cpu-threads", type=int, default=3)
    args = ap.parse_args()
    sc = args.scale

    cpu_iters = int(3_000_000 * sc)
    ping_rounds = int(18_000 * sc)
    pipe_chunks = int(60_000 * sc)
    file_passes = int(200 * sc)
    lock_threads, lock_iters = 4, int(600_000 * sc)
    producers, consumers, q_items = 2, 2, int(150_000 * sc)

    tmp = tempfile.NamedTemporaryFile(prefix="gil_bench_", delete=False)
    try:
        tmp.write(os.urandom(1 << 20))
        tmp.close()

        out = {}
        cpu_out = [None] * args.cpu_threads
        counter = [0]
        lock = threading.Lock()
        q = queue.Queue(maxsize=256)
        cons_out = [None] * consumers
        threads = []
        finished = {}

        def timed(name, fn):
            def run(*a):
                fn(*a)
                finished[name] = max(finished.get(name, 0.0), time.monotonic() - t0)
            return run

        threads += [threading.Thread(target=timed("cpu", cpu_worker), args=(cpu_iters, cpu_out, i)) for i in range(args.cpu_threads)]
        threads.append(threading.Thread(target=timed("socket", socket_pingpong), args=(ping_rounds, out)))
        threads.append(threading.Thread(target=timed("pipe", pipe_transfer), args=(pipe_chunks, out)))
        threads.append(threading.Thread(target=timed("file", file_reader), args=(tmp.name, file_passes, out)))
        threads += [threading.Thread(target=timed("lock", lock_contender), args=(lock, lock_iters, counter)) for _ in range(lock_threads)]
        per_producer = q_items // producers
        # each producer sends its own sentinels; consumers stop at the first, so give each
        # consumer exactly one sentinel in total
        threads += [threading.Thread(target=timed("producer", producer), args=(q, per_producer, 1 if i < consumers else 0))
                    for i in range(producers)]
        threads += [threading.Thread(target=timed("consumer", consumer), args=(q, cons_out, i)) for i in range(consumers)]

        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
    finally:
        os.unlink(tmp.name)

    # Check that all the work was done.
    errors = []
    if any(v is None for v in cpu_out):
        errors.append("cpu thread did not finish")
    if out.get("pipe") != pipe_chunks * 4096:
        errors.append("pipe: %r bytes" % out.get("pipe"))
    if out.get("file") != file_passes * (1 << 20):
        errors.append("file: %r bytes" % out.get("file"))
    if out.get("socket") != ping_rounds * 10:
        errors.append("socket: %r bytes" % out.get("socket"))
    if counter[0] != lock_threads * lock_iters:
        errors.append("lock counter %d" % counter[0])
    if sum(cons_out) != producers * (per_producer * (per_producer - 1) // 2):
        errors.append("queue sum %r" % (cons_out,))
    if errors:
        print("gil_bench: work check failed: " + "; ".join(errors), file=sys.stderr)
        return 1

    print("# finished at: " + ", ".join("%s %.3f s" % kv for kv in sorted(finished.items(), key=lambda kv: kv[1])))
    print("# gil_bench: python %s, %d threads, switch interval %.4f s: %.3f s wall"
          % (sys.version.split()[0], len(threads), sys.getswitchinterval(), wall))
    print("RESULT mode=gil python=%s threads=%d scale=%g wall_s=%.4f"
          % (sys.version.split()[0], len(threads), sc, wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
