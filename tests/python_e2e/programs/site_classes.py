# lock_identity=site under Python: two C mutexes that Python locks by calling pthread_mutex_lock itself
# through ctypes are first locked on the interpreter's own path (libffi, _ctypes, the eval loop): the
# C frames do not tell them apart, the Python stack does (a is first locked at lock_two's first line,
# b at its second): two classes. Keyed by the C frames alone they would be one, and their ABBA a
# class's edge into itself, unreported. Taken a then b, later b then a: one inversion.
import ctypes
import threading

libc = ctypes.CDLL(None)
a = ctypes.create_string_buffer(64)
b = ctypes.create_string_buffer(64)
for m in (a, b):
    libc.pthread_mutex_init(m, None)


def lock_two(x, y):
    libc.pthread_mutex_lock(x)
    libc.pthread_mutex_lock(y)  # @SECOND
    libc.pthread_mutex_unlock(y)
    libc.pthread_mutex_unlock(x)


for order in ((a, b), (b, a)):
    t = threading.Thread(target=lock_two, args=order)
    t.start()
    t.join()
print("done")
