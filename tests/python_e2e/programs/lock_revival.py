# A new heap mutex per item, taken with the GIL held (ctypes.PyDLL), while the main thread holds a
# threading.Lock, then freed: what a PyTorch DataLoader worker does with each item's torch.Generator.
# Under locksan the allocator gives each item's block the address of the previous one, and the
# mutex takes the previous one's graph node back (revive_locks): no order check per item.
import ctypes
import threading

libc = ctypes.PyDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
libc.pthread_mutex_lock.argtypes = libc.pthread_mutex_unlock.argtypes = [ctypes.c_void_p]

held = threading.Lock()
addrs = set()
with held:
    for i in range(500):
        p = libc.malloc(64)
        libc.memset(p, 0, 64)
        addrs.add(p)
        libc.pthread_mutex_lock(p)
        libc.pthread_mutex_unlock(p)
        libc.free(p)
print("addresses: %d" % len(addrs))
print("done")
