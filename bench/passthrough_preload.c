/* bench/passthrough_preload.c — an LD_PRELOAD library that interposes the functions locksan
 * interposes on a Python or GPU program's hot paths (mutex, condition-variable, reader-writer lock and
 * semaphore calls, free and realloc) and only forwards them to libc. It is the anchor for "what
 * interposition alone costs": the same symbols, the same PLT indirection and the same preloaded
 * library in the process, and none of locksan's work. Used by bench/gpu_ab.sh.
 *   cc -O2 -shared -fPIC bench/passthrough_preload.c -o passthrough.so -ldl
 *   LD_PRELOAD=$PWD/passthrough.so python3 job.py
 * Built with -DPASSTHROUGH_COUNT it also counts the calls of each function (and the non-null frees)
 * and prints the counts to stderr when the process exits normally ("passthrough counts pid=..."):
 * how many of each call a workload makes, to weigh locksan's per-call costs by (bench/gpu_count.sh).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <time.h>

#ifdef PASSTHROUGH_COUNT
#include <stdio.h>
#include <unistd.h>
enum { kMaxCounters = 32 };
static const char* g_names[kMaxCounters];
static unsigned long g_counts[kMaxCounters];
static int g_ncounters;
/* One counter per function, registered on its first call (relaxed atomics: counts, not timing). */
static int counter_slot(const char* name) {
  int n = __atomic_fetch_add(&g_ncounters, 1, __ATOMIC_RELAXED);
  if (n >= kMaxCounters) return kMaxCounters - 1;
  g_names[n] = name;
  return n;
}
#define COUNT(name)                                                            \
  do {                                                                         \
    static int slot = -1;                                                      \
    if (slot < 0) slot = counter_slot(name);                                   \
    __atomic_fetch_add(&g_counts[slot], 1, __ATOMIC_RELAXED);                  \
  } while (0)
__attribute__((destructor)) static void print_counts(void) {
  char buf[2048];
  int len = snprintf(buf, sizeof buf, "passthrough counts pid=%d:", (int)getpid());
  int n = g_ncounters < kMaxCounters ? g_ncounters : kMaxCounters;
  for (int i = 0; i < n && len < (int)sizeof buf - 64; i++)
    if (g_names[i]) len += snprintf(buf + len, sizeof buf - len, " %s=%lu", g_names[i], g_counts[i]);
  buf[len++] = '\n';
  if (write(2, buf, len) < 0) return;
}
#else
#define COUNT(name) ((void)0)
#endif

#define FWD(ret, name, params, args)                                  \
  ret name params {                                                   \
    static ret(*real) params;                                         \
    if (!real) real = (ret(*) params)dlsym(RTLD_NEXT, #name);         \
    COUNT(#name);                                                     \
    return real args;                                                 \
  }

FWD(int, pthread_mutex_lock, (pthread_mutex_t * m), (m))
FWD(int, pthread_mutex_trylock, (pthread_mutex_t * m), (m))
FWD(int, pthread_mutex_unlock, (pthread_mutex_t * m), (m))
FWD(int, pthread_mutex_timedlock, (pthread_mutex_t * m, const struct timespec* t), (m, t))
FWD(int, pthread_rwlock_rdlock, (pthread_rwlock_t * l), (l))
FWD(int, pthread_rwlock_wrlock, (pthread_rwlock_t * l), (l))
FWD(int, pthread_rwlock_tryrdlock, (pthread_rwlock_t * l), (l))
FWD(int, pthread_rwlock_trywrlock, (pthread_rwlock_t * l), (l))
FWD(int, pthread_rwlock_unlock, (pthread_rwlock_t * l), (l))
FWD(int, sem_wait, (sem_t * s), (s))
FWD(int, sem_trywait, (sem_t * s), (s))
FWD(int, sem_timedwait, (sem_t * s, const struct timespec* t), (s, t))
FWD(int, sem_clockwait, (sem_t * s, clockid_t c, const struct timespec* t), (s, c, t))
FWD(int, sem_post, (sem_t * s), (s))

/* The condition-variable functions have two versions in glibc; dlvsym picks the current one. */
#define FWDV(ret, name, params, args)                                          \
  ret name params {                                                            \
    static ret(*real) params;                                                  \
    if (!real) real = (ret(*) params)dlvsym(RTLD_NEXT, #name, "GLIBC_2.3.2");  \
    COUNT(#name);                                                              \
    return real args;                                                          \
  }
FWDV(int, pthread_cond_wait, (pthread_cond_t * c, pthread_mutex_t* m), (c, m))
FWDV(int, pthread_cond_timedwait, (pthread_cond_t * c, pthread_mutex_t* m, const struct timespec* t),
     (c, m, t))

/* dlsym may free (its error buffer) before the real free is known: such a block is leaked. */
static void (*real_free)(void*);
static void* (*real_realloc)(void*, size_t);
static __thread int resolving;
static int resolve(void) {
  if (real_free && real_realloc) return 1;
  if (resolving) return 0;
  resolving = 1;
  void* f = dlsym(RTLD_NEXT, "free");
  void* r = dlsym(RTLD_NEXT, "realloc");
  resolving = 0;
  real_free = (void (*)(void*))f;
  real_realloc = (void* (*)(void*, size_t))r;
  return real_free && real_realloc;
}
void free(void* p) {
  if (!real_free && !resolve()) return;
  if (p) COUNT("free");
  real_free(p);
}
void* realloc(void* p, size_t n) {
  if (!real_realloc && !resolve()) return NULL;
  COUNT("realloc");
  return real_realloc(p, n);
}
