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
 * Built with -DPASSTHROUGH_REUSE as well, it also models locksan's in-place reuse of a held slot per
 * thread (a lock taken again at the same depth, under the same held locks, needs no fill): each
 * acquisition (mutex, rwlock, successful trylock) counts as "acq"; "reuseK" counts those that a
 * K-entry per-depth cache would have served (K = 1 is locksan's one entry a slot; K = 2, 4, 8 keep
 * the last K locks taken at that depth, least recently used out). A depth's caches above it are
 * emptied when the lock at that depth changes or a lock below is released out of order: what
 * locksan's validation needs. It tells how many of a workload's fills a wider slot would save.
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

#if defined(PASSTHROUGH_COUNT) && defined(PASSTHROUGH_REUSE)
enum { kDepth = 64, kWays = 4 };
static const int kWaysOf[kWays] = {1, 2, 4, 8};
struct ReuseThread {
  const void* held[kDepth];
  int nheld;
  const void* ways[kWays][kDepth][8];  /* per K, per depth: up to K locks, most recent first */
};
static __thread struct ReuseThread t_reuse;
/* Empties every cache at depths >= d. */
static void reuse_clear_from(struct ReuseThread* t, int d) {
  for (int w = 0; w < kWays; w++)
    for (int i = d; i < kDepth; i++)
      for (int j = 0; j < kWaysOf[w]; j++) t->ways[w][i][j] = NULL;
}
static void reuse_acquire(const void* l) {
  struct ReuseThread* t = &t_reuse;
  int d = t->nheld;
  COUNT("acq");
  if (d >= kDepth) return;
  for (int w = 0; w < kWays; w++) {
    const void** c = t->ways[w][d];
    int k = kWaysOf[w], j = 0;
    while (j < k && c[j] != l) j++;
    if (j < k) {
      switch (w) {  /* COUNT keeps one static slot per call site: one site per name */
        case 0: COUNT("reuse1"); break;
        case 1: COUNT("reuse2"); break;
        case 2: COUNT("reuse4"); break;
        default: COUNT("reuse8"); break;
      }
    } else {
      j = k - 1;  /* a miss: the least recent goes */
    }
    for (; j > 0; j--) c[j] = c[j - 1];
    c[0] = l;
  }
  if (t->held[d] != l) reuse_clear_from(t, d + 1);
  t->held[d] = l;
  t->nheld = d + 1;
}
static void reuse_release(const void* l) {
  struct ReuseThread* t = &t_reuse;
  int n = t->nheld < kDepth ? t->nheld : kDepth, i = n - 1;
  while (i >= 0 && t->held[i] != l) i--;
  if (i < 0) return;                          /* not held here (a lock of another thread's, or too deep) */
  if (i != n - 1) {                           /* out of order: the locks above move down */
    for (int j = i; j < n - 1; j++) t->held[j] = t->held[j + 1];
    t->held[n - 1] = NULL;
    reuse_clear_from(t, i);
  }
  t->nheld--;
}
#define REUSE_ACQ(l) reuse_acquire(l)
#define REUSE_REL(l) reuse_release(l)
#else
#define REUSE_ACQ(l) ((void)0)
#define REUSE_REL(l) ((void)0)
#endif

#define FWD(ret, name, params, args)                                  \
  ret name params {                                                   \
    static ret(*real) params;                                         \
    if (!real) real = (ret(*) params)dlsym(RTLD_NEXT, #name);         \
    COUNT(#name);                                                     \
    return real args;                                                 \
  }

/* A lock call: the model of in-place reuse (PASSTHROUGH_REUSE) sees it when it succeeds. */
#define FWD_LOCK(name, type, params, args)                            \
  int name params {                                                   \
    static int(*real) params;                                         \
    if (!real) real = (int(*) params)dlsym(RTLD_NEXT, #name);         \
    COUNT(#name);                                                     \
    int rc = real args;                                               \
    if (rc == 0) REUSE_ACQ(l);                                        \
    return rc;                                                        \
  }
#define FWD_UNLOCK(name, type)                                        \
  int name(type* l) {                                                 \
    static int (*real)(type*);                                        \
    if (!real) real = (int (*)(type*))dlsym(RTLD_NEXT, #name);        \
    COUNT(#name);                                                     \
    REUSE_REL(l);                                                     \
    return real(l);                                                   \
  }

FWD_LOCK(pthread_mutex_lock, pthread_mutex_t, (pthread_mutex_t * l), (l))
FWD_LOCK(pthread_mutex_trylock, pthread_mutex_t, (pthread_mutex_t * l), (l))
FWD_UNLOCK(pthread_mutex_unlock, pthread_mutex_t)
FWD_LOCK(pthread_mutex_timedlock, pthread_mutex_t, (pthread_mutex_t * l, const struct timespec* t), (l, t))
FWD_LOCK(pthread_rwlock_rdlock, pthread_rwlock_t, (pthread_rwlock_t * l), (l))
FWD_LOCK(pthread_rwlock_wrlock, pthread_rwlock_t, (pthread_rwlock_t * l), (l))
FWD_LOCK(pthread_rwlock_tryrdlock, pthread_rwlock_t, (pthread_rwlock_t * l), (l))
FWD_LOCK(pthread_rwlock_trywrlock, pthread_rwlock_t, (pthread_rwlock_t * l), (l))
FWD_UNLOCK(pthread_rwlock_unlock, pthread_rwlock_t)
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
