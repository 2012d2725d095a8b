# tests/python/layout_check.py — compares the layout LocateGil() published in this interpreter
# (lsb_layout_dump) with the offsets the compiler computed from the interpreter's headers
# (the output of layout_dump.c built against them).
#
# Usage: python3 layout_check.py /path/pystack_testlib.so /path/layout_dump_output.txt
import ctypes
import sys

lib = ctypes.PyDLL(sys.argv[1])
out = (ctypes.c_void_p * 5)()
ver = ctypes.c_int()
why = ctypes.c_char_p()
lib.lsb_locate.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int),
                           ctypes.POINTER(ctypes.c_char_p)]
ok = lib.lsb_locate(out, ctypes.byref(ver), ctypes.byref(why))
passed = failed = 0
if not ok:
    print("FAIL layout: LocateGil refused: %r" % why.value)
    failed += 1
else:
    buf = ctypes.create_string_buffer(1 << 16)
    lib.lsb_layout_dump(buf, len(buf))
    published = dict(line.split() for line in buf.value.decode().splitlines())
    with open(sys.argv[2]) as f:
        headers = dict(line.split() for line in f if line.strip())
    names = sorted(set(published) | set(headers))
    diffs = ["%s: runtime %s, headers %s" % (n, published.get(n, "-"), headers.get(n, "-"))
             for n in names if published.get(n) != headers.get(n)]
    if diffs:
        print("FAIL layout matches headers (%d fields): %s" % (len(names), "; ".join(diffs)))
        failed += 1
    else:
        print("PASS layout matches headers (%d fields)" % len(names))
        passed += 1
print("RESULT passed=%d failed=%d" % (passed, failed))
