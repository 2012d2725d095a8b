/* tests/python/gil_probe.c — a test-only LD_PRELOAD library that checks LocateGil() against what the
 * interpreter really does at the pthread/semaphore layer.
 *
 * It intercepts pthread_mutex_{lock,trylock,unlock}, pthread_cond_{wait,timedwait,clockwait,signal,
 * broadcast}, sem_{init,wait,trywait,timedwait,clockwait,post} and syscall(); locates the GIL lazily
 * (lsb_locate, i.e. locksan::python::LocateGil), and runs the state machine the runtime is meant to
 * use: at pthread_mutex_unlock(gil.mutex), *gil.locked == 1 and this thread not marked -> acquired;
 * == 0 and marked -> released; entering pthread_cond_timedwait(gil.cond) -> waiting for the GIL.
 *
 * Checks it keeps (read from Python through ctypes, see test_gil_probe.py):
 *  - per-thread and global acquire/release/wait counts;
 *  - mutual exclusion: at most one thread marked as holder at any time (`overlaps`);
 *  - agreement with PyGILState_Check() sampled at every sem_* call and on request (`mismatches`).
 * With GILPROBE_TRACE=<file> it also records every event (after the GIL is located) and writes
 * them at exit, one per line: "seq thread op class addr value".
 *
 * Test-only: it calls dlsym and PyGILState_Check from interceptors, which the runtime must not. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))

int lsb_locate(const void** out, int* version, const char** why);
int lsb_holds(void);

/* ---- event classes and operations ---- */
enum { C_OTHER = 0, C_GIL_M = 1, C_GIL_C = 2, C_GIL_SM = 3, C_GIL_SC = 4, C_SEM = 5, C_MARK = 6, NCLS = 7 };
enum {
  OP_LOCK, OP_LOCKED, OP_TRYLOCK, OP_UNLOCK, OP_WAIT, OP_WAITED, OP_TIMEDWAIT, OP_TIMEDWAITED,
  OP_CLOCKWAIT, OP_CLOCKWAITED, OP_SIGNAL, OP_BROADCAST, OP_SEM_INIT, OP_SEM_WAIT, OP_SEM_WAITED,
  OP_SEM_TRYWAIT, OP_SEM_TIMEDWAIT, OP_SEM_TIMEDWAITED, OP_SEM_CLOCKWAIT, OP_SEM_CLOCKWAITED,
  OP_SEM_POST, OP_FUTEX, OP_MARK, OP_ACQUIRED, OP_RELEASED, NOPS
};
static const char* kOpNames[NOPS] = {
    "lock", "locked", "trylock", "unlock", "wait", "waited", "timedwait", "timedwaited",
    "clockwait", "clockwaited", "signal", "broadcast", "sem_init", "sem_wait", "sem_waited",
    "sem_trywait", "sem_timedwait", "sem_timedwaited", "sem_clockwait", "sem_clockwaited",
    "sem_post", "futex", "mark", "ACQUIRED", "RELEASED"};
static const char* kClsNames[NCLS] = {"other", "gil.mutex", "gil.cond", "gil.switch_mutex",
                                      "gil.switch_cond", "sem", "mark"};

/* ---- state ---- */
static const void* g_gil[5];  /* mutex, cond, switch_cond, switch_mutex, locked */
static atomic_int g_located;
static atomic_int g_locating;
static atomic_long g_attempts;
static int g_version;
static const char* g_why = "not tried yet";
static const char* g_first_why;  /* the reason of the first refusal, if any */
static int (*g_pygilstate_check)(void);

static atomic_long g_acq, g_rel, g_waits, g_overlaps, g_samples, g_mismatches, g_holders;
static atomic_long g_ops[NOPS][NCLS];

static TLS int t_guard;
static TLS int t_holds = -1; /* -1 unknown, 0, 1 */
static TLS long t_acq, t_rel, t_waits;
static TLS int t_index;
static atomic_int g_next_index;

/* ---- trace ---- */
typedef struct { long seq; int thread; short op, cls; const void* addr; long value; } Event;
#define MAX_EVENTS (1 << 20)
static Event* g_events;
static atomic_long g_nevents;
static int g_trace_enabled = -1;

static int ThreadIndex(void) {
  if (t_index == 0) t_index = atomic_fetch_add(&g_next_index, 1) + 1;
  return t_index;
}

static void Record(int op, int cls, const void* addr, long value) {
  atomic_fetch_add_explicit(&g_ops[op][cls], 1, memory_order_relaxed);
  if (g_events == NULL) return;
  long i = atomic_fetch_add(&g_nevents, 1);
  if (i >= MAX_EVENTS) return;
  Event* e = &g_events[i];
  e->seq = i;
  e->thread = ThreadIndex();
  e->op = (short)op;
  e->cls = (short)cls;
  e->addr = addr;
  e->value = value;
}

static int Classify(const void* p) {
  if (!atomic_load_explicit(&g_located, memory_order_acquire)) return -1;
  if (p == g_gil[0]) return C_GIL_M;
  if (p == g_gil[1]) return C_GIL_C;
  if (p == g_gil[3]) return C_GIL_SM;
  if (p == g_gil[2]) return C_GIL_SC;
  return C_OTHER;
}

static void TryLocate(void) {
  if (atomic_load_explicit(&g_located, memory_order_acquire) || t_guard) return;
  long n = atomic_fetch_add(&g_attempts, 1);
  if (n % 16 != 0) return;
  int expected = 0;
  if (!atomic_compare_exchange_strong(&g_locating, &expected, 1)) return;
  t_guard = 1;
  const void* out[5];
  int version = 0;
  const char* why = NULL;
  if (lsb_locate(out, &version, &why)) {
    memcpy(g_gil, out, sizeof out);
    g_version = version;
    g_why = "located";
    g_pygilstate_check = (int (*)(void))dlsym(RTLD_DEFAULT, "PyGILState_Check");
    if (g_trace_enabled < 0) {
      const char* path = getenv("GILPROBE_TRACE");
      g_trace_enabled = path != NULL && path[0] != '\0';
      if (g_trace_enabled) g_events = (Event*)calloc(MAX_EVENTS, sizeof(Event));
    }
    if (lsb_holds()) { /* the locating thread may already hold it */
      t_holds = 1;
      atomic_store(&g_holders, 1);
    }
    atomic_store_explicit(&g_located, 1, memory_order_release);
  } else {
    g_version = version;
    g_why = why;
    if (g_first_why == NULL) g_first_why = why;
  }
  t_guard = 0;
  atomic_store(&g_locating, 0);
}

static void Sample(void) {
  if (!g_pygilstate_check || t_holds < 0) return;
  int py = g_pygilstate_check();
  atomic_fetch_add(&g_samples, 1);
  if ((py != 0) != (t_holds == 1)) atomic_fetch_add(&g_mismatches, 1);
}

/* ---- real functions ---- */
#define REAL(name) real_##name
#define DECL_REAL(ret, name, args) static ret(*real_##name) args
DECL_REAL(int, pthread_mutex_lock, (pthread_mutex_t*));
DECL_REAL(int, pthread_mutex_trylock, (pthread_mutex_t*));
DECL_REAL(int, pthread_mutex_unlock, (pthread_mutex_t*));
DECL_REAL(int, pthread_cond_wait, (pthread_cond_t*, pthread_mutex_t*));
DECL_REAL(int, pthread_cond_timedwait, (pthread_cond_t*, pthread_mutex_t*, const struct timespec*));
DECL_REAL(int, pthread_cond_clockwait, (pthread_cond_t*, pthread_mutex_t*, clockid_t, const struct timespec*));
DECL_REAL(int, pthread_cond_signal, (pthread_cond_t*));
DECL_REAL(int, pthread_cond_broadcast, (pthread_cond_t*));
DECL_REAL(int, sem_init, (sem_t*, int, unsigned));
DECL_REAL(int, sem_wait, (sem_t*));
DECL_REAL(int, sem_trywait, (sem_t*));
DECL_REAL(int, sem_timedwait, (sem_t*, const struct timespec*));
DECL_REAL(int, sem_clockwait, (sem_t*, clockid_t, const struct timespec*));
DECL_REAL(int, sem_post, (sem_t*));
DECL_REAL(long, syscall, (long, long, long, long, long, long, long));

#define RESOLVE(name)                                                   \
  do {                                                                  \
    if (!real_##name) *(void**)(&real_##name) = dlsym(RTLD_NEXT, #name); \
  } while (0)
#define RESOLVE_V(name, ver)                                                      \
  do {                                                                            \
    if (!real_##name) *(void**)(&real_##name) = dlvsym(RTLD_NEXT, #name, ver);    \
    if (!real_##name) *(void**)(&real_##name) = dlsym(RTLD_NEXT, #name);          \
  } while (0)

/* ---- GIL state machine ---- */
static void BeforeGilMutexUnlock(void) {
  int v = *(const volatile int*)g_gil[4];
  if (v == 1 && t_holds != 1) {
    t_holds = 1;
    t_acq++;
    atomic_fetch_add(&g_acq, 1);
    if (atomic_fetch_add(&g_holders, 1) != 0) atomic_fetch_add(&g_overlaps, 1);
    Record(OP_ACQUIRED, C_GIL_M, g_gil[0], v);
  } else if (v == 0 && t_holds == 1) {
    t_holds = 0;
    t_rel++;
    atomic_fetch_add(&g_rel, 1);
    atomic_fetch_sub(&g_holders, 1);
    Record(OP_RELEASED, C_GIL_M, g_gil[0], v);
  } else if (v == 0 && t_holds < 0) {
    t_holds = 0;
  }
}

/* ---- interceptors ---- */
EXPORT int pthread_mutex_lock(pthread_mutex_t* m) {
  RESOLVE(pthread_mutex_lock);
  if (t_guard) return real_pthread_mutex_lock(m);
  TryLocate();
  int c = Classify(m);
  if (c >= 0) Record(OP_LOCK, c, m, 0);
  int r = real_pthread_mutex_lock(m);
  if (c >= 0) Record(OP_LOCKED, c, m, c == C_GIL_M ? *(const volatile int*)g_gil[4] : 0);
  return r;
}

EXPORT int pthread_mutex_trylock(pthread_mutex_t* m) {
  RESOLVE(pthread_mutex_trylock);
  if (t_guard) return real_pthread_mutex_trylock(m);
  int r = real_pthread_mutex_trylock(m);
  int c = Classify(m);
  if (c >= 0) Record(OP_TRYLOCK, c, m, r);
  return r;
}

EXPORT int pthread_mutex_unlock(pthread_mutex_t* m) {
  RESOLVE(pthread_mutex_unlock);
  if (t_guard) return real_pthread_mutex_unlock(m);
  TryLocate();
  int c = Classify(m);
  if (c == C_GIL_M) BeforeGilMutexUnlock();
  if (c >= 0) Record(OP_UNLOCK, c, m, c == C_GIL_M ? *(const volatile int*)g_gil[4] : 0);
  return real_pthread_mutex_unlock(m);
}

EXPORT int pthread_cond_wait(pthread_cond_t* cv, pthread_mutex_t* m) {
  RESOLVE_V(pthread_cond_wait, "GLIBC_2.3.2");
  if (t_guard) return real_pthread_cond_wait(cv, m);
  int c = Classify(cv);
  if (c >= 0) Record(OP_WAIT, c, cv, 0);
  int r = real_pthread_cond_wait(cv, m);
  if (c >= 0) Record(OP_WAITED, c, cv, r);
  return r;
}

EXPORT int pthread_cond_timedwait(pthread_cond_t* cv, pthread_mutex_t* m, const struct timespec* ts) {
  RESOLVE_V(pthread_cond_timedwait, "GLIBC_2.3.2");
  if (t_guard) return real_pthread_cond_timedwait(cv, m, ts);
  TryLocate();
  int c = Classify(cv);
  if (c == C_GIL_C) {
    t_waits++;
    atomic_fetch_add(&g_waits, 1);
  }
  if (c >= 0) Record(OP_TIMEDWAIT, c, cv, 0);
  int r = real_pthread_cond_timedwait(cv, m, ts);
  if (c >= 0) Record(OP_TIMEDWAITED, c, cv, r);
  return r;
}

EXPORT int pthread_cond_clockwait(pthread_cond_t* cv, pthread_mutex_t* m, clockid_t clk,
                                  const struct timespec* ts) {
  RESOLVE(pthread_cond_clockwait);
  if (t_guard) return real_pthread_cond_clockwait(cv, m, clk, ts);
  int c = Classify(cv);
  if (c == C_GIL_C) {
    t_waits++;
    atomic_fetch_add(&g_waits, 1);
  }
  if (c >= 0) Record(OP_CLOCKWAIT, c, cv, 0);
  int r = real_pthread_cond_clockwait(cv, m, clk, ts);
  if (c >= 0) Record(OP_CLOCKWAITED, c, cv, r);
  return r;
}

EXPORT int pthread_cond_signal(pthread_cond_t* cv) {
  RESOLVE_V(pthread_cond_signal, "GLIBC_2.3.2");
  if (t_guard) return real_pthread_cond_signal(cv);
  int c = Classify(cv);
  if (c >= 0) Record(OP_SIGNAL, c, cv, 0);
  return real_pthread_cond_signal(cv);
}

EXPORT int pthread_cond_broadcast(pthread_cond_t* cv) {
  RESOLVE_V(pthread_cond_broadcast, "GLIBC_2.3.2");
  if (t_guard) return real_pthread_cond_broadcast(cv);
  int c = Classify(cv);
  if (c >= 0) Record(OP_BROADCAST, c, cv, 0);
  return real_pthread_cond_broadcast(cv);
}

#define SEM_PROLOGUE(name)             \
  RESOLVE(name);                       \
  int tracked = 0;                     \
  if (!t_guard && atomic_load_explicit(&g_located, memory_order_acquire)) { \
    tracked = 1;                       \
    t_guard = 1;                       \
    Sample();                          \
    t_guard = 0;                       \
  }

EXPORT int sem_init(sem_t* s, int pshared, unsigned value) {
  SEM_PROLOGUE(sem_init);
  if (tracked) Record(OP_SEM_INIT, C_SEM, s, value);
  return real_sem_init(s, pshared, value);
}

EXPORT int sem_wait(sem_t* s) {
  SEM_PROLOGUE(sem_wait);
  if (tracked) Record(OP_SEM_WAIT, C_SEM, s, t_holds);
  int r = real_sem_wait(s);
  if (tracked) Record(OP_SEM_WAITED, C_SEM, s, r);
  return r;
}

EXPORT int sem_trywait(sem_t* s) {
  SEM_PROLOGUE(sem_trywait);
  int r = real_sem_trywait(s);
  if (tracked) Record(OP_SEM_TRYWAIT, C_SEM, s, r);
  return r;
}

EXPORT int sem_timedwait(sem_t* s, const struct timespec* ts) {
  SEM_PROLOGUE(sem_timedwait);
  if (tracked) Record(OP_SEM_TIMEDWAIT, C_SEM, s, t_holds);
  int r = real_sem_timedwait(s, ts);
  if (tracked) Record(OP_SEM_TIMEDWAITED, C_SEM, s, r);
  return r;
}

EXPORT int sem_clockwait(sem_t* s, clockid_t clk, const struct timespec* ts) {
  SEM_PROLOGUE(sem_clockwait);
  if (tracked) Record(OP_SEM_CLOCKWAIT, C_SEM, s, t_holds);
  int r = real_sem_clockwait(s, clk, ts);
  if (tracked) Record(OP_SEM_CLOCKWAITED, C_SEM, s, r);
  return r;
}

EXPORT int sem_post(sem_t* s) {
  SEM_PROLOGUE(sem_post);
  if (tracked) Record(OP_SEM_POST, C_SEM, s, 0);
  return real_sem_post(s);
}

EXPORT long syscall(long n, ...) {
  va_list ap;
  va_start(ap, n);
  long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
  long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
  va_end(ap);
  RESOLVE(syscall);
  if (n == SYS_futex && !t_guard && atomic_load_explicit(&g_located, memory_order_acquire)) {
    Record(OP_FUTEX, C_OTHER, (const void*)a, b);
  }
  return real_syscall(n, a, b, c, d, e, f);
}

/* ---- read back from Python (ctypes) ---- */
EXPORT int gilprobe_located(void) { return atomic_load(&g_located); }
EXPORT const char* gilprobe_why(void) { return g_why; }
EXPORT const char* gilprobe_first_why(void) { return g_first_why; }
EXPORT int gilprobe_version(void) { return g_version; }
EXPORT int gilprobe_holds(void) { return t_holds; }
EXPORT void gilprobe_thread_counts(long* out) {
  out[0] = t_acq;
  out[1] = t_rel;
  out[2] = t_waits;
  out[3] = t_holds;
}
EXPORT void gilprobe_global_counts(long* out) {
  out[0] = atomic_load(&g_acq);
  out[1] = atomic_load(&g_rel);
  out[2] = atomic_load(&g_waits);
  out[3] = atomic_load(&g_overlaps);
  out[4] = atomic_load(&g_samples);
  out[5] = atomic_load(&g_mismatches);
  out[6] = atomic_load(&g_holders);
}
EXPORT long gilprobe_op_count(int op, int cls) {
  return op >= 0 && op < NOPS && cls >= 0 && cls < NCLS ? atomic_load(&g_ops[op][cls]) : -1;
}
EXPORT const char* gilprobe_op_name(int op) { return op >= 0 && op < NOPS ? kOpNames[op] : NULL; }
EXPORT const char* gilprobe_cls_name(int cls) { return cls >= 0 && cls < NCLS ? kClsNames[cls] : NULL; }
/* gilprobe_check — samples PyGILState_Check() now: returns (marked holder << 1) | PyGILState_Check(). */
EXPORT int gilprobe_check(void) {
  if (!g_pygilstate_check) return -1;
  t_guard = 1;
  int py = g_pygilstate_check();
  t_guard = 0;
  atomic_fetch_add(&g_samples, 1);
  if ((py != 0) != (t_holds == 1)) atomic_fetch_add(&g_mismatches, 1);
  return ((t_holds == 1) << 1) | (py != 0);
}
EXPORT void gilprobe_mark(long value) { Record(OP_MARK, C_MARK, NULL, value); }

__attribute__((destructor)) static void DumpTrace(void) {
  const char* path = getenv("GILPROBE_TRACE");
  if (g_events == NULL || path == NULL) return;
  t_guard = 1;
  FILE* f = fopen(path, "w");
  if (f == NULL) return;
  long n = atomic_load(&g_nevents);
  if (n > MAX_EVENTS) n = MAX_EVENTS;
  for (long i = 0; i < n; ++i) {
    const Event* e = &g_events[i];
    fprintf(f, "%ld %d %s %s %p %ld\n", e->seq, e->thread, kOpNames[e->op], kClsNames[e->cls], e->addr,
            e->value);
  }
  fclose(f);
}
