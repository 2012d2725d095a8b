# -*- coding: utf-8 -*-
# tests/python/test_pystack.py — checks locksan::python::CaptureCurrentThreadStack() against the
# interpreter's own view of the stack, exactly (file, function, line of every frame).
#
# Usage: python3 test_pystack.py /path/to/pystack_testlib.so
# Runs on CPython 3.7+ (3.6 only checks that locating refuses cleanly). Prints "PASS name" /
# "FAIL name: why" lines and a last line "RESULT passed=N failed=M".
#
# How the expectation is made exact: lsb_capture_then_call() captures the stack in C and then calls
# a ctypes callback; the callback reads sys._getframe(1), the caller's frame, which has not moved
# since the capture (it is still inside the same CALL instruction). Both views must be equal.
import ctypes
import sys
import threading

LIB_PATH = sys.argv[1]
PY = sys.version_info
LIB = ctypes.PyDLL(LIB_PATH)     # keeps the GIL during calls
NOGIL = ctypes.CDLL(LIB_PATH)    # releases the GIL around calls
CB_T = ctypes.CFUNCTYPE(None)
SIZE = 1 << 20
MAXF = 1024
for lib in (LIB, NOGIL):
    lib.lsb_capture.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    lib.lsb_capture_then_call.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, CB_T]
    lib.lsb_call.argtypes = [CB_T]
    lib.lsb_call_in_thread.argtypes = [CB_T, ctypes.c_int]
    lib.lsb_capture_in_native_thread.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.lsb_locate.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int),
                               ctypes.POINTER(ctypes.c_char_p)]

passed = 0
failed = 0
_count_lock = threading.Lock()


def check(name, ok, detail=""):
    global passed, failed
    with _count_lock:
        if ok:
            passed += 1
            print("PASS %s" % name)
        else:
            failed += 1
            print("FAIL %s: %s" % (name, detail))
    sys.stdout.flush()


# ---- what the runtime should produce, computed from Python's side ----

def utf8_units(s):
    out = []
    for ch in s:
        c = ord(ch)
        out.append(("?" if 0xD800 <= c <= 0xDFFF else ch).encode("utf-8"))
    return out


def trunc_head(s, size):
    out = b""
    for u in utf8_units(s):
        if len(out) + len(u) > size - 1:
            break
        out += u
    return out.decode("utf-8")


def trunc_tail(s, size):
    units = utf8_units(s)
    if sum(len(u) for u in units) <= size - 1:
        return b"".join(units).decode("utf-8")
    budget = size - 1 - 3
    tail = b""
    for u in reversed(units):
        if len(tail) + len(u) > budget:
            break
        tail = u + tail
    return "..." + tail.decode("utf-8")


def funcname(code):
    return code.co_qualname if PY >= (3, 11) else code.co_name


def expected_from(frame, limit=MAXF):
    out = []
    while frame is not None and len(out) < limit:
        line = frame.f_lineno
        out.append((trunc_tail(frame.f_code.co_filename, 256), trunc_head(funcname(frame.f_code), 128),
                    -1 if line is None else line))
        frame = frame.f_back
    return out


def parse(raw):
    out = []
    for rec in raw.decode("utf-8").split("\n"):
        if rec:
            f, fn, line = rec.split("\x1f")
            out.append((f, fn, int(line)))
    return out


_tls = threading.local()


def buffer():
    b = getattr(_tls, "buf", None)
    if b is None:
        b = _tls.buf = ctypes.create_string_buffer(SIZE)
    return b


def capture_here(max_frames=MAXF):
    """Returns (captured, expected) for the caller of capture_here (both start with capture_here)."""
    box = []

    def cb():
        box.append(expected_from(sys._getframe(1), max_frames))
    cbp = CB_T(cb)
    buf = buffer()
    n = LIB.lsb_capture_then_call(buf, SIZE, max_frames, cbp)
    got = parse(buf.value)
    if n != len(got):
        got.append(("<count mismatch>", str(n), len(got)))
    return got, box[0]


def same(name, got, exp):
    if got == exp and got:
        check(name, True)
        return
    detail = "captured %d frames, expected %d" % (len(got), len(exp))
    for i in range(max(len(got), len(exp))):
        g = got[i] if i < len(got) else None
        e = exp[i] if i < len(exp) else None
        if g != e:
            detail += "; first difference at #%d: got %r, expected %r" % (i, g, e)
            break
    check(name, False, detail)


# ---- test cases ----

def t_locate():
    out = (ctypes.c_void_p * 5)()
    ver = ctypes.c_int()
    why = ctypes.c_char_p()
    ok = LIB.lsb_locate(out, ctypes.byref(ver), ctypes.byref(why))
    hexv = (PY[0] << 24) | (PY[1] << 16) | (PY[2] << 8)
    if PY < (3, 7):
        check("locate refuses 3.6", ok == 0 and why.value and b"3.6" in why.value, repr(why.value))
        return False
    check("locate", ok == 1, repr(why.value))
    check("locate version", (ver.value & ~0xFF) == hexv, "%x vs %x" % (ver.value, hexv))
    return ok == 1


def level3():
    return capture_here()


def level2():
    return level3()


def level1():
    return level2()


class Klass:
    def method(self):
        return capture_here()

    @classmethod
    def cmethod(cls):
        return capture_here()

    @staticmethod
    def smethod():
        return capture_here()


def outer():
    def inner():
        return capture_here()
    return inner()


def gen():
    yield capture_here()


def gen_outer():
    result = yield from gen()
    return result


async def coro():
    return capture_here()


def fünf():
    return capture_here()


def 函数():
    return capture_here()


def recurse(n, max_frames):
    if n == 0:
        return capture_here(max_frames)
    return recurse(n - 1, max_frames)


def marked():
    buf = buffer()
    n = LIB.lsb_capture(buf, SIZE, 8)  # MARK-A
    return n, parse(buf.value)


def line_of(marker):
    with open(__file__, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if line.rstrip().endswith("# " + marker):
                return i
    return -1


def multiline():
    box = []

    def cb():
        box.append(expected_from(sys._getframe(1)))
    cbp = CB_T(cb)
    buf = buffer()
    LIB.lsb_capture_then_call(
        buf,
        SIZE,
        MAXF,
        cbp)
    return parse(buf.value), box[0]


def many_lines():
    results = []
    x = 0
    for i in range(3):
        if i % 2:
            results.append(capture_here())
        else:
            results.append(capture_here())
        try:
            raise ValueError(i)
        except ValueError:
            results.append(capture_here())
        finally:
            x += 1
    with open(__file__, encoding="utf-8") as f:
        results.append(capture_here())
    results.extend([capture_here() for _ in range(2)])
    results.append((lambda: capture_here())())
    results.append(sorted([1], key=lambda v: capture_here() and v) and capture_here())
    while x < 5:
        x += 1
        results.append(capture_here())
    return results


def run_exec(src, filename, fname):
    ns = {"capture_here": capture_here}
    exec(compile(src, filename, "exec"), ns)
    return ns[fname]()


def main():
    if not t_locate():
        return
    same("nested functions", *level1())
    k = Klass()
    same("method", *k.method())
    same("classmethod", *Klass.cmethod())
    same("staticmethod", *Klass.smethod())
    same("closure", *outer())
    same("lambda", *(lambda: capture_here())())
    same("generator", *next(gen()))
    same("yield from", *next(gen_outer()))
    c = coro()
    try:
        c.send(None)
    except StopIteration as e:
        same("coroutine", *e.value)
    same("latin-1 function name", *fünf())
    same("non-latin function name", *函数())
    same("exec <string>", *run_exec("def f():\n    return capture_here()\n", "<string>", "f"))
    astral = "/tmp/\U0001d523ile_\u00e9\u4e2d.py"
    same("astral filename", *run_exec("\n\ndef g():\n    return capture_here()\n", astral, "g"))
    longname = "/tmp/" + "d\u00e9\u4e2d\U0001d523/" * 40 + "end.py"
    got, exp = run_exec("def h():\n    return capture_here()\n", longname, "h")
    same("long filename truncated", got, exp)
    # got[0] is capture_here itself, got[1] the exec'd function.
    check("long filename has ... prefix", len(got) > 1 and got[1][0].startswith("...") and
          got[1][0].endswith("end.py") and len(got[1][0].encode("utf-8")) <= 255, repr(got[1:2]))
    lfn = "f" + "\u00e9" * 100 + "x" * 80
    same("long function name truncated",
         *run_exec("def %s():\n    return capture_here()\n" % lfn, "<long>", lfn))
    same("deep recursion", *recurse(300, MAXF))
    got, exp = recurse(300, 256)
    same("max=256 of deep stack", got, exp)
    check("max=256 returns 256", len(got) == 256, str(len(got)))
    got, exp = recurse(10, 5)
    same("max=5", got, exp)
    n, got = marked()
    check("exact line of caller", n >= 2 and got[0] == (trunc_tail(__file__, 256), "marked", line_of("MARK-A")),
          repr(got[:1]))
    same("multi-line call", *multiline())
    for i, (got, exp) in enumerate(many_lines()):
        same("line variety #%d" % i, got, exp)

    # Thread checks: capture in a threading.Thread; callbacks from C threads.
    res = []
    t = threading.Thread(target=lambda: res.append(level1()), name="worker")
    t.start()
    t.join()
    same("threading.Thread", *res[0])

    res = []
    cb_foreign = CB_T(lambda: res.append(capture_here()))
    NOGIL.lsb_call_in_thread(cb_foreign, 3)   # GIL released so that the C thread can take it
    check("callback from native thread ran", len(res) == 3, str(len(res)))
    for i, r in enumerate(res):
        same("callback from native thread #%d" % i, *r)

    res = []
    cb_same = CB_T(lambda: res.append(capture_here()))
    LIB.lsb_call(cb_same)                       # C called with the GIL, calls back into Python
    same("callback in same thread (GIL held)", *res[0])
    res = []
    NOGIL.lsb_call(cb_same)                     # C called without the GIL, callback re-takes it
    same("callback in same thread (GIL re-taken)", *res[0])

    # No GIL, no Python: nothing.
    buf = buffer()
    check("CDLL call (GIL released) captures 0", NOGIL.lsb_capture(buf, SIZE, 64) == 0)
    check("holds GIL in PyDLL call", LIB.lsb_holds() == 1)
    check("does not hold GIL in CDLL call", NOGIL.lsb_holds() == 0)
    check("native thread captures 0", LIB.lsb_capture_in_native_thread(buf, SIZE) == 0)
    check("max=0 captures 0", LIB.lsb_capture(buf, SIZE, 0) == 0)

    # With a trace function installed (3.7–3.10 keep f_lineno themselves then).
    def tracer(frame, event, arg):
        return tracer
    sys.settrace(tracer)
    try:
        r = level1()
    finally:
        sys.settrace(None)
    same("under sys.settrace", *r)

    # Stress: threads capturing concurrently while others switch the GIL.
    errors = []
    stop = []

    def spin():
        while not stop:
            sum(range(100))

    def worker(k):
        for _ in range(300):
            got, exp = recurse(k % 7, MAXF)
            if got != exp:
                errors.append((k, got[:2], exp[:2]))
                return
    spinners = [threading.Thread(target=spin) for _ in range(2)]
    workers = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.0001)
    for t in spinners + workers:
        t.start()
    for t in workers:
        t.join()
    stop.append(1)
    for t in spinners:
        t.join()
    sys.setswitchinterval(old)
    check("concurrent captures under forced switching", not errors, repr(errors[:1]))


main()
print("RESULT passed=%d failed=%d" % (passed, failed))
