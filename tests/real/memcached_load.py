#!/usr/bin/env python3
"""tests/real/memcached_load.py -- drive a multi-threaded memcached (Debian package) for a while.

    memcached_load.py [PRELOAD] [SECONDS]

Starts memcached with 4 worker threads and its background threads (LRU maintainer, LRU crawler, slab
rebalancer with automove) on a free local port -- under LD_PRELOAD=PRELOAD when one is given (the
driver itself runs without it) -- and hits it from 8 client threads with set/add/get/gets/cas/append/
prepend/incr/decr/touch/delete, multi-gets, large values (slab class moves), stats and crawler
commands, then asks it to shut down. Exits with memcached's exit status, or 1 when a reply was wrong
or memcached did not stop. Items are checked: every get of a key this thread owns returns the last
value it stored.
"""
import os
import random
import socket
import subprocess
import sys
import threading
import time

preload = sys.argv[1] if len(sys.argv) > 1 else ""
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


port = free_port()
env = dict(os.environ)
env.pop("LD_PRELOAD", None)
if preload:
    env["LD_PRELOAD"] = preload
args = ["memcached", "-u", "root", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", "4", "-m", "64",
        "-c", "512", "-A", "-o", "slab_reassign,slab_automove=2,lru_maintainer,lru_crawler,hash_algorithm=murmur3"]
proc = subprocess.Popen(args, env=env)
errors = []


class Conn:
    def __init__(self):
        for _ in range(200):
            try:
                self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("cannot connect to memcached")
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def exact(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def cmd(self, text, data=None):
        self.send(text.encode() + b"\r\n" + ((data + b"\r\n") if data is not None else b""))
        return self.line()

    def get(self, keys, cas=False):
        self.send(("%s %s\r\n" % ("gets" if cas else "get", " ".join(keys))).encode())
        out = {}
        while True:
            l = self.line()
            if l == b"END":
                return out
            parts = l.split()
            if parts[0] != b"VALUE":
                raise RuntimeError("bad reply %r" % l)
            val = self.exact(int(parts[3]) + 2)[:-2]
            out[parts[1].decode()] = (val, int(parts[4]) if cas else None)


def client(tid, stop):
    c = Conn()
    rnd = random.Random(tid)
    mine = {}
    n = 0
    try:
        while not stop.is_set():
            n += 1
            k = "t%d-k%d" % (tid, rnd.randrange(200))
            op = rnd.randrange(12)
            if op < 3:
                v = (b"v%d-" % n) * rnd.choice([1, 10, 100, 3000])  # small and large (slab classes)
                if c.cmd("set %s 0 0 %d" % (k, len(v)), v) != b"STORED":
                    raise RuntimeError("set failed")
                mine[k] = v
            elif op < 5:
                got = c.get([k])
                if k in got and mine.get(k) is not None and got[k][0] != mine[k]:
                    raise RuntimeError("wrong value for %s" % k)
            elif op == 5:
                got = c.get([k], cas=True)
                if k in got:
                    v = b"cas%d" % n
                    r = c.cmd("cas %s 0 0 %d %d" % (k, len(v), got[k][1]), v)
                    if r == b"STORED":
                        mine[k] = v
                    elif r not in (b"EXISTS", b"NOT_FOUND"):
                        raise RuntimeError("cas: %r" % r)
            elif op == 6:
                r = c.cmd("append %s 0 0 1" % k, b"a")
                if r == b"STORED" and k in mine:
                    mine[k] += b"a"
            elif op == 7:
                ck = "t%d-counter" % tid
                c.cmd("add %s 0 0 1" % ck, b"0")
                r = c.cmd("incr %s 1" % ck)
                if not (r.isdigit() or r == b"NOT_FOUND"):
                    raise RuntimeError("incr: %r" % r)
            elif op == 8:
                c.cmd("delete %s" % k)
                mine.pop(k, None)
            elif op == 9:
                c.cmd("touch %s 100" % k)
            elif op == 10:
                c.get(["t%d-k%d" % (tid, i) for i in range(0, 200, 7)])
            else:
                if rnd.randrange(20) == 0:
                    for sub in ("", "slabs", "items", "settings", "conns"):
                        c.send(("stats %s\r\n" % sub).encode())
                        while c.line() != b"END":
                            pass
                    if tid == 0:
                        c.cmd("lru_crawler crawl all")
                        c.cmd("slabs automove 2")
    except Exception as e:  # noqa: BLE001
        errors.append("client %d: %s" % (tid, e))


stop = threading.Event()
threads = [threading.Thread(target=client, args=(i, stop)) for i in range(8)]
for t in threads:
    t.start()
time.sleep(seconds)
stop.set()
for t in threads:
    t.join()
try:
    Conn().send(b"shutdown\r\n")
except Exception as e:  # noqa: BLE001
    errors.append("shutdown: %s" % e)
try:
    rc = proc.wait(timeout=60)
except subprocess.TimeoutExpired:
    errors.append("memcached did not stop")
    proc.kill()
    rc = proc.wait()
for e in errors:
    print(e, file=sys.stderr)
print("memcached exit %d, %d client errors" % (rc, len(errors)))
# memcached exits 0 after "shutdown" (1.6.18); a signal would be negative.
sys.exit(1 if errors else (rc if rc >= 0 else 128 - rc))
