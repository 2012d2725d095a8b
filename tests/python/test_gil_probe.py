# tests/python/test_gil_probe.py — runs under LD_PRELOAD=gil_probe.so and checks that the GIL found by
# locksan::python::LocateGil(), driven by the pthread-level state machine of gil_probe.c, matches
# what the interpreter does: known patterns give exact counts, at most one holder at a time, and
# agreement with PyGILState_Check().
#
# Usage: LD_PRELOAD=/path/gil_probe.so python3 test_gil_probe.py /path/gil_probe.so
# Prints PASS/FAIL/INFO lines and a last line "RESULT passed=N failed=M".
import ctypes
import sys
import threading
import time

PROBE_PATH = sys.argv[1]
PY = sys.version_info
P = ctypes.PyDLL(PROBE_PATH)     # GIL kept during the call
N = ctypes.CDLL(PROBE_PATH)      # GIL released around the call
CB_T = ctypes.CFUNCTYPE(None)
LongArr = ctypes.c_long * 8
for lib in (P, N):
    lib.gilprobe_why.restype = ctypes.c_char_p
    lib.gilprobe_first_why.restype = ctypes.c_char_p
    lib.gilprobe_op_name.restype = ctypes.c_char_p
    lib.gilprobe_cls_name.restype = ctypes.c_char_p
    lib.gilprobe_op_count.restype = ctypes.c_long
    lib.gilprobe_mark.argtypes = [ctypes.c_long]
    lib.lsb_call.argtypes = [CB_T]
    lib.lsb_call_in_thread.argtypes = [CB_T, ctypes.c_int]

passed = 0
failed = 0
_lock = threading.Lock()


def check(name, ok, detail=""):
    global passed, failed
    with _lock:
        if ok:
            passed += 1
            print("PASS %s" % name)
        else:
            failed += 1
            print("FAIL %s: %s" % (name, detail))
    sys.stdout.flush()


def info(msg):
    print("INFO %s" % msg)
    sys.stdout.flush()


def tcounts(lib=P):
    a = LongArr()
    lib.gilprobe_thread_counts(a)
    return a[0], a[1], a[2], a[3]   # acquired, released, waits, holds


def gcounts():
    a = LongArr()
    P.gilprobe_global_counts(a)
    return dict(acq=a[0], rel=a[1], waits=a[2], overlaps=a[3], samples=a[4], mismatches=a[5],
                holders=a[6])


NOPS = 25
NCLS = 7
OPS = [P.gilprobe_op_name(i).decode() for i in range(NOPS)]
CLS = [P.gilprobe_cls_name(i).decode() for i in range(NCLS)]


def ops_snapshot():
    return {(OPS[o], CLS[c]): P.gilprobe_op_count(o, c) for o in range(NOPS) for c in range(NCLS)}


def ops_delta(before, after, classes=("sem", "other")):
    return {k: after[k] - before[k] for k in after if after[k] != before[k] and k[1] in classes}


def fmt(delta):
    return ", ".join("%s(%s)=%d" % (k[0], k[1], v) for k, v in sorted(delta.items())) or "nothing"


def main():
    located = P.gilprobe_located()
    why = P.gilprobe_why().decode()
    if PY < (3, 7):
        check("3.6 refused", not located and "3.6" in why, why)
        return
    check("GIL located", located == 1, why)
    if not located:
        return
    first = P.gilprobe_first_why()
    info("first LocateGil refusal before the interpreter was ready: %s" % first)
    check("early LocateGil calls refused as 'not initialised'",
          first is None or b"not initialised" in first or b"not created" in first, repr(first))
    check("holds GIL in PyDLL call", tcounts()[3] == 1, str(tcounts()))
    check("does not hold GIL in CDLL call", N.gilprobe_holds() == 0)
    check("PyGILState_Check agrees (PyDLL)", P.gilprobe_check() == 3, str(P.gilprobe_check()))
    check("PyGILState_Check agrees (CDLL)", N.gilprobe_check() == 0)

    # One thread, K sleeps: exactly K releases and K acquisitions.
    K = 200
    a0 = tcounts()
    for _ in range(K):
        time.sleep(0.0001)
    a1 = tcounts()
    info("single thread, %d x time.sleep: acquired %d released %d waits %d"
         % (K, a1[0] - a0[0], a1[1] - a0[1], a1[2] - a0[2]))
    check("sleep: K acquisitions", a1[0] - a0[0] == K, str((a0, a1)))
    check("sleep: K releases", a1[1] - a0[1] == K, str((a0, a1)))

    # K calls through CDLL: each releases and re-takes the GIL once; PyDLL calls: none.
    a0 = tcounts()
    inside = [N.gilprobe_holds() for _ in range(K)]
    a1 = tcounts()
    check("CDLL: K acquisitions and releases", (a1[0] - a0[0], a1[1] - a0[1]) == (K, K), str((a0, a1)))
    check("CDLL: never holds inside", inside.count(0) == K, str(set(inside)))
    a0 = tcounts()
    for _ in range(K):
        P.gilprobe_holds()
    a1 = tcounts()
    check("PyDLL: no GIL traffic", a1[:2] == a0[:2], str((a0, a1)))

    # T threads doing sleeps: per-thread balance, >= K each; never two holders.
    T = 4
    results = {}

    def sleeper(i):
        b0 = tcounts()
        for _ in range(100):
            time.sleep(0.0001)
        b1 = tcounts()
        results[i] = (b1[0] - b0[0], b1[1] - b0[1], b1[3])
    ts = [threading.Thread(target=sleeper, args=(i,)) for i in range(T)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    info("%d threads x 100 sleeps: (acquired, released, holds) per thread %s" % (T, sorted(results.values())))
    check("threads: balanced and >= 100 each",
          all(acq == rel and acq >= 100 and holds == 1 for acq, rel, holds in results.values()),
          str(results))

    # Contention: CPU-bound threads with a short switch interval: waits on gil.cond, forced drops.
    g0 = gcounts()
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    stop = []
    per = {}

    def spin(i):
        b0 = tcounts()
        n = 0
        while not stop:
            n += sum(range(50))
        b1 = tcounts()
        per[i] = (b1[0] - b0[0], b1[1] - b0[1], b1[2] - b0[2])
    ts = [threading.Thread(target=spin, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    time.sleep(0.3)
    stop.append(1)
    for t in ts:
        t.join()
    sys.setswitchinterval(old)
    g1 = gcounts()
    info("contention, 4 spinning threads 0.3 s: global acquired %d released %d waits %d; per thread %s"
         % (g1["acq"] - g0["acq"], g1["rel"] - g0["rel"], g1["waits"] - g0["waits"], sorted(per.values())))
    check("contention: threads waited on gil.cond", g1["waits"] > g0["waits"], str((g0, g1)))
    check("contention: balanced per thread", all(a == r for a, r, w in per.values()), str(per))

    # ctypes callbacks.
    inner = []

    def cb_record():
        inner.append(tcounts())
    cbp = CB_T(cb_record)
    N.lsb_call_in_thread(cbp, 3)
    info("ctypes callback x3 from one native thread: counts inside %s" % inner)
    check("native-thread callback: acquired once per call, holding inside",
          [(c[0], c[1], c[3]) for c in inner] == [(1, 0, 1), (2, 1, 1), (3, 2, 1)], str(inner))
    inner[:] = []
    a0 = tcounts()
    N.lsb_call(cbp)
    a1 = tcounts()
    check("same-thread callback from CDLL: 2 acquisitions, 2 releases, holding inside",
          (a1[0] - a0[0], a1[1] - a0[1]) == (2, 2) and inner[0][3] == 1, str((a0, inner, a1)))
    inner[:] = []
    a0 = tcounts()
    P.lsb_call(cbp)
    a1 = tcounts()
    check("same-thread callback from PyDLL: no GIL traffic", a1[:2] == a0[:2] and inner[0][3] == 1,
          str((a0, inner, a1)))

    try:
        import cffi
    except ImportError:
        cffi = None
    if cffi is not None:
        ffi = cffi.FFI()
        ffi.cdef("void lsb_call_in_thread(void (*cb)(void), int times); void lsb_call(void (*cb)(void));")
        clib = ffi.dlopen(PROBE_PATH)
        inner[:] = []

        @ffi.callback("void(void)")
        def cffi_cb():
            inner.append(tcounts())
        clib.lsb_call_in_thread(cffi_cb, 3)
        info("cffi callback x3 from one native thread: counts inside %s" % inner)
        check("cffi native-thread callback: acquired once per call, holding inside",
              [(c[0], c[1], c[3]) for c in inner] == [(1, 0, 1), (2, 1, 1), (3, 2, 1)], str(inner))
        inner[:] = []
        a0 = tcounts()
        clib.lsb_call(cffi_cb)   # cffi releases the GIL around calls too
        a1 = tcounts()
        info("cffi same-thread callback: delta acquired %d released %d" % (a1[0] - a0[0], a1[1] - a0[1]))
        check("cffi same-thread callback: holding inside", inner and inner[0][3] == 1, str(inner))
    else:
        info("cffi not installed for this interpreter: cffi checks skipped")

    # threading.Lock at the pthread/semaphore layer (recorded, and the invariants checked).
    lock = threading.Lock()
    s0 = ops_snapshot()
    for _ in range(100):
        lock.acquire()
        lock.release()
    info("threading.Lock uncontended acquire+release x100: %s" % fmt(ops_delta(s0, ops_snapshot())))
    lock.acquire()
    s0 = ops_snapshot()
    for _ in range(10):
        lock.acquire(False)
    info("threading.Lock acquire(blocking=False) on a held lock x10: %s" % fmt(ops_delta(s0, ops_snapshot())))
    s0 = ops_snapshot()
    for _ in range(10):
        lock.acquire(timeout=0.001)
    info("threading.Lock acquire(timeout=0.001) on a held lock x10: %s" % fmt(ops_delta(s0, ops_snapshot())))
    lock.release()
    held = threading.Event()
    go = threading.Event()

    def holder():
        lock.acquire()
        held.set()
        go.wait()
        time.sleep(0.05)
        lock.release()
    t = threading.Thread(target=holder)
    t.start()
    held.wait()
    s0 = ops_snapshot()
    go.set()
    a0 = tcounts()
    lock.acquire()      # blocks ~50 ms
    a1 = tcounts()
    lock.release()
    t.join()
    info("threading.Lock contended blocking acquire (1 waiter, holder releases after 50 ms): %s; "
         "waiter's GIL acquired %d released %d" % (fmt(ops_delta(s0, ops_snapshot())), a1[0] - a0[0], a1[1] - a0[1]))
    rl = threading.RLock()
    s0 = ops_snapshot()
    for _ in range(100):
        rl.acquire()
        rl.release()
    info("threading.RLock uncontended acquire+release x100: %s" % fmt(ops_delta(s0, ops_snapshot())))

    g = gcounts()
    info("global: %s" % g)
    check("never two GIL holders at once", g["overlaps"] == 0, str(g))
    check("PyGILState_Check agreement at sampled points (<= 1%% mismatches)",
          g["samples"] > 0 and g["mismatches"] * 100 <= g["samples"], str(g))
    check("exactly one holder now (this thread)", g["holders"] == 1, str(g))


main()
print("RESULT passed=%d failed=%d" % (passed, failed))
