// preload/real.h — the real libc functions behind the interceptors, found in one place.
//
// InitReal() resolves every one with dlsym(RTLD_NEXT) (dlvsym for versioned symbols such as
// pthread_cond_wait@GLIBC_2.3.2). It runs from the constructor and, lazily, from the first interceptor
// that is called before it (another library's constructor may lock before ours runs). A lookup that
// finds locksan's own wrapper is refused, and the function is taken from libc.so.6 directly.
#pragma once
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/types.h>

#include "core/common.h"

#define LOCKSAN_REAL_LIST(X)                                                                         \
  X(int, pthread_mutex_init, (pthread_mutex_t*, const pthread_mutexattr_t*), nullptr)               \
  X(int, pthread_mutex_destroy, (pthread_mutex_t*), nullptr)                                         \
  X(int, pthread_mutex_lock, (pthread_mutex_t*), nullptr)                                            \
  X(int, pthread_mutex_trylock, (pthread_mutex_t*), nullptr)                                         \
  X(int, pthread_mutex_timedlock, (pthread_mutex_t*, const struct timespec*), nullptr)               \
  X(int, pthread_mutex_clocklock, (pthread_mutex_t*, clockid_t, const struct timespec*), nullptr)    \
  X(int, pthread_mutex_unlock, (pthread_mutex_t*), nullptr)                                          \
  X(int, pthread_rwlock_init, (pthread_rwlock_t*, const pthread_rwlockattr_t*), nullptr)            \
  X(int, pthread_rwlock_destroy, (pthread_rwlock_t*), nullptr)                                       \
  X(int, pthread_rwlock_rdlock, (pthread_rwlock_t*), nullptr)                                        \
  X(int, pthread_rwlock_tryrdlock, (pthread_rwlock_t*), nullptr)                                     \
  X(int, pthread_rwlock_timedrdlock, (pthread_rwlock_t*, const struct timespec*), nullptr)           \
  X(int, pthread_rwlock_clockrdlock, (pthread_rwlock_t*, clockid_t, const struct timespec*), nullptr) \
  X(int, pthread_rwlock_wrlock, (pthread_rwlock_t*), nullptr)                                        \
  X(int, pthread_rwlock_trywrlock, (pthread_rwlock_t*), nullptr)                                     \
  X(int, pthread_rwlock_timedwrlock, (pthread_rwlock_t*, const struct timespec*), nullptr)           \
  X(int, pthread_rwlock_clockwrlock, (pthread_rwlock_t*, clockid_t, const struct timespec*), nullptr) \
  X(int, pthread_rwlock_unlock, (pthread_rwlock_t*), nullptr)                                        \
  X(int, pthread_spin_init, (pthread_spinlock_t*, int), nullptr)                                     \
  X(int, pthread_spin_destroy, (pthread_spinlock_t*), nullptr)                                       \
  X(int, pthread_spin_lock, (pthread_spinlock_t*), nullptr)                                          \
  X(int, pthread_spin_trylock, (pthread_spinlock_t*), nullptr)                                       \
  X(int, pthread_spin_unlock, (pthread_spinlock_t*), nullptr)                                        \
  X(int, pthread_cond_wait, (pthread_cond_t*, pthread_mutex_t*), "GLIBC_2.3.2")                      \
  X(int, pthread_cond_timedwait, (pthread_cond_t*, pthread_mutex_t*, const struct timespec*), "GLIBC_2.3.2") \
  X(int, pthread_cond_clockwait, (pthread_cond_t*, pthread_mutex_t*, clockid_t, const struct timespec*), nullptr) \
  X(int, pthread_create, (pthread_t*, const pthread_attr_t*, void* (*)(void*), void*), nullptr)     \
  X(int, pthread_setname_np, (pthread_t, const char*), nullptr)                                      \
  X(int, sem_init, (sem_t*, int, unsigned), nullptr)                                                 \
  X(int, sem_destroy, (sem_t*), nullptr)                                                             \
  X(int, sem_wait, (sem_t*), nullptr)                                                                \
  X(int, sem_trywait, (sem_t*), nullptr)                                                             \
  X(int, sem_timedwait, (sem_t*, const struct timespec*), nullptr)                                   \
  X(int, sem_clockwait, (sem_t*, clockid_t, const struct timespec*), nullptr)                        \
  X(int, sem_post, (sem_t*), nullptr)

namespace locksan {
namespace real {
// Hidden: defined in this library, so the fast paths load them PC-relative (one instruction, e.g.
// `call *real(%rip)`) rather than through the GOT.
#define LOCKSAN_DECLARE_REAL(ret, name, args, version) \
  extern ret(*name) args __attribute__((visibility("hidden")));
LOCKSAN_REAL_LIST(LOCKSAN_DECLARE_REAL)
#undef LOCKSAN_DECLARE_REAL
extern void (*free)(void*) __attribute__((visibility("hidden")));
extern size_t (*malloc_usable_size)(void*) __attribute__((visibility("hidden")));
extern void* (*realloc)(void*, size_t) __attribute__((visibility("hidden")));
extern void* (*malloc)(size_t) __attribute__((visibility("hidden")));
extern bool resolved __attribute__((visibility("hidden")));
}  // namespace real

void InitReal();
// ResolveFree — resolves the allocator's free, malloc_usable_size, realloc and malloc only; false
// while that is under way (re-entry, or another thread). ResolvingFreeHere — this thread is doing it
// (an allocator call made by dlsym itself).
bool ResolveFree();
bool ResolvingFreeHere();
// g_heap_tracking_ok — free, malloc_usable_size, realloc and malloc come from one allocator: free()
// and realloc() may ask the size of the block they give back (set by ResolveFree). With g_free_filter
// (core/detector.h), they look for locks in the block.
extern bool g_heap_tracking_ok __attribute__((visibility("hidden")));
// g_glibc_chunk_sizes — the allocator is glibc's and a block's usable size reads from its chunk header
// as malloc_usable_size computes it (checked by ProbeChunkSizes at InitReal on heap blocks and an
// mmapped one): free() reads it inline (ChunkUsableSize) instead of calling it.
extern bool g_glibc_chunk_sizes __attribute__((visibility("hidden")));
// ChunkUsableSize — glibc's usable size of block p from its chunk header: the chunk's size less its
// header, which is 16 bytes for an mmapped chunk (flag 2) and 8 otherwise (an in-use chunk also owns
// the next chunk's first word).
LOCKSAN_NO_SANITIZE inline size_t ChunkUsableSize(const void* p) {
  size_t hdr = static_cast<const size_t*>(p)[-1];
  return (hdr & ~size_t{7}) - ((hdr & 2) ? 2 * sizeof(size_t) : sizeof(size_t));
}

}  // namespace locksan

#define REAL(name) (::locksan::real::name)
#define LOCKSAN_REAL_INIT(name) \
  if (LOCKSAN_UNLIKELY(!::locksan::real::resolved)) ::locksan::InitReal()
