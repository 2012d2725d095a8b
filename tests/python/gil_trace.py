# tests/python/gil_trace.py — an experiment, not a pass/fail test: runs small scenarios under
# LD_PRELOAD=gil_probe.so with GILPROBE_TRACE=<file>, then (second invocation) prints, per scenario
# and thread, the sequence of pthread/semaphore calls that the interpreter made on the GIL and on
# semaphores. This is how the sequences in docs/python.md were obtained.
#
#   GILPROBE_TRACE=/tmp/t.txt LD_PRELOAD=$B/gil_probe.so python3 gil_trace.py run $B/gil_probe.so
#   python3 gil_trace.py show /tmp/t.txt
import sys

SCENARIOS = {
    1: "one thread: time.sleep(0.0001) x2 (Py_BEGIN/END_ALLOW_THREADS, uncontended)",
    2: "two CPU-bound threads, switch interval 5 ms, ~25 ms (contended take, forced switch)",
    3: "threading.Lock: acquire+release uncontended, then a blocking acquire that waits ~20 ms",
    4: "ctypes callback called from a new native thread (PyGILState_Ensure/Release)",
    5: "ctypes callback called in the same thread from a CDLL function (GIL released by ctypes)",
    6: "cffi callback from a new native thread (if cffi is installed)",
}


def run(probe):
    import ctypes
    import threading
    import time
    P = ctypes.PyDLL(probe)
    N = ctypes.CDLL(probe)
    CB_T = ctypes.CFUNCTYPE(None)
    P.gilprobe_mark.argtypes = [ctypes.c_long]
    for lib in (P, N):
        lib.lsb_call.argtypes = [CB_T]
        lib.lsb_call_in_thread.argtypes = [CB_T, ctypes.c_int]

    def mark(k):
        P.gilprobe_mark(k)

    if not P.gilprobe_located():
        print("GIL not located")
        return
    time.sleep(0.01)
    mark(1)
    time.sleep(0.0001)
    time.sleep(0.0001)
    mark(-1)

    stop = []

    def spin():
        while not stop:
            sum(range(100))
    sys.setswitchinterval(0.005)
    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.005)
    mark(2)
    end = time.time() + 0.025
    while time.time() < end:
        sum(range(100))
    mark(-2)
    stop.append(1)
    t.join()

    lock = threading.Lock()
    started = threading.Event()

    def holder():
        with lock:
            started.set()
            time.sleep(0.02)
    mark(3)
    lock.acquire()
    lock.release()
    t = threading.Thread(target=holder)
    t.start()
    started.wait()
    lock.acquire()
    lock.release()
    t.join()
    mark(-3)

    cb = CB_T(lambda: None)
    mark(4)
    N.lsb_call_in_thread(cb, 1)
    mark(-4)
    mark(5)
    N.lsb_call(cb)
    mark(-5)
    try:
        import cffi
        ffi = cffi.FFI()
        ffi.cdef("void lsb_call_in_thread(void (*cb)(void), int times);")
        clib = ffi.dlopen(probe)
        fcb = ffi.callback("void(void)")(lambda: None)
        mark(6)
        clib.lsb_call_in_thread(fcb, 1)
        mark(-6)
    except ImportError:
        pass


SHORT = {"gil.mutex": "M", "gil.cond": "C", "gil.switch_mutex": "SM", "gil.switch_cond": "SC"}


def show(path):
    events = []
    with open(path) as f:
        for line in f:
            seq, thread, op, cls, addr, value = line.split()
            events.append((int(seq), int(thread), op, cls, addr, int(value)))
    scenario = 0
    per = {}
    names = {}

    def name_of(cls, addr):
        if cls in SHORT:
            return SHORT[cls]
        key = (cls, addr)
        if key not in names:
            names[key] = ("S%d" if cls == "sem" else "O%d") % (len(names) + 1)
        return names[key]

    def flush():
        if scenario > 0:
            print("== scenario %d: %s" % (scenario, SCENARIOS.get(scenario, "")))
            for th, toks in sorted(per.items()):
                print("  thread %d: %s" % (th, compress(toks)))
    for seq, th, op, cls, addr, value in events:
        if op == "mark":
            flush()
            per = {}
            names.clear()
            scenario = value if value > 0 else 0
            continue
        if scenario <= 0:
            continue
        if cls == "other" and op not in ("futex",):
            continue   # non-GIL mutexes and conditions: left out of the picture
        n = name_of(cls, addr)
        if op in ("ACQUIRED", "RELEASED"):
            tok = "<" + op + ">"
        elif cls == "gil.mutex" and op in ("locked", "unlock"):
            tok = "%s(%s)[locked=%d]" % (op, n, value)
        elif op in ("sem_trywait", "timedwaited", "clockwaited", "sem_timedwaited", "sem_clockwaited"):
            tok = "%s(%s)=%d" % (op, n, value)
        elif op == "sem_init":
            tok = "sem_init(%s,%d)" % (n, value)
        else:
            tok = "%s(%s)" % (op, n)
        per.setdefault(th, []).append(tok)
    flush()


def compress(toks, limit=120):
    out = []
    i = 0
    while i < len(toks):
        # collapse a repeated block of length 1..8
        best = (1, 1)
        for L in range(1, 9):
            block = toks[i:i + L]
            if len(block) < L:
                break
            reps = 1
            while toks[i + reps * L:i + (reps + 1) * L] == block:
                reps += 1
            if reps > 1 and reps * L > best[0] * best[1]:
                best = (L, reps)
        L, reps = best
        if reps > 1:
            out.append("[" + " ".join(toks[i:i + L]) + "] x%d" % reps)
        else:
            out.append(toks[i])
        i += L * reps
        if len(out) >= limit:
            out.append("...")
            break
    return " ".join(out)


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2])
    else:
        show(sys.argv[2])
