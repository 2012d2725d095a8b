# lock_identity=site under Python: two C mutexes that Python locks by calling pthread_mutex_lock itself
# through ctypes are first locked on the interpreter's own path (libffi, _ctypes, the eval loop): the
# C frames do not tell them apart, so they keep their own identity (as one class, their ABBA would be a
# class's edge into itself and go unreported). Taken A then B, later B then A: one inversion.
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
