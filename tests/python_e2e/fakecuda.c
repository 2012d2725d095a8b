// fakecuda.c -- a stand-in for libcuda.so.1 (built by run_py_e2e.py as <workdir>/fakecuda/libcuda.so.1):
// locksan recognises the driver by its file name, so a mutex first taken by code in this library is
// "a lock taken inside libcuda". cuFakeOccupancy holds it while it calls a block-size callback, as
// cuOccupancyMaxPotentialBlockSize does with its b2dFunc (the seed bug of issue #4): a Python callback
// passed here makes its thread take the GIL while it holds the driver's lock.
#include <pthread.h>
#include <stddef.h>
#include <time.h>

static pthread_mutex_t driver_mu = PTHREAD_MUTEX_INITIALIZER;
typedef size_t (*b2d_t)(int);

int cuFakeOccupancy(b2d_t b2d, int block) {
  pthread_mutex_lock(&driver_mu);
  size_t smem = b2d(block);
  pthread_mutex_unlock(&driver_mu);
  return (int)smem;
}

// The same, but the driver first waits on a condition variable with its mutex (a 1 ms timed wait that
// times out: the mutex is re-acquired inside pthread_cond_timedwait) before it calls the callback.
static pthread_cond_t driver_cv = PTHREAD_COND_INITIALIZER;

int cuFakeOccupancyAfterWait(b2d_t b2d, int block) {
  pthread_mutex_lock(&driver_mu);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_nsec += 1000000;
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000;
  }
  pthread_cond_timedwait(&driver_cv, &driver_mu, &deadline);
  size_t smem = b2d(block);
  pthread_mutex_unlock(&driver_mu);
  return (int)smem;
}

// A driver object re-created at the same address on every call, as libcuda re-creates two recursive
// mutexes on every CuPy step: its mutex is initialised, taken under the driver's outer lock, held
// while the inner lock is taken (an edge out of it), and destroyed.
static pthread_mutex_t outer_mu = PTHREAD_MUTEX_INITIALIZER, inner_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  long header;
  pthread_mutex_t mu;
} obj;

static void obj_init(void) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&obj.mu, &a);
  pthread_mutexattr_destroy(&a);
}

// The object's one first-acquisition call site.
__attribute__((noinline)) static void obj_take(void) { pthread_mutex_lock(&obj.mu); }

static void obj_use(void) {  // outer -> obj -> inner
  pthread_mutex_lock(&outer_mu);
  obj_take();
  pthread_mutex_lock(&inner_mu);
  pthread_mutex_unlock(&inner_mu);
  pthread_mutex_unlock(&obj.mu);
  pthread_mutex_unlock(&outer_mu);
}

int cuFakeRecurring(int n) {
  for (int i = 0; i < n; i++) {
    obj_init();
    obj_use();
    pthread_mutex_destroy(&obj.mu);
  }
  return n;
}

// One more object, used as before (its chains are known), left alive.
int cuFakeRecurringKeep(void) {
  obj_init();
  obj_use();
  return 0;
}

// On another thread: inner -> obj. With the live object's obj -> inner, a real inversion.
int cuFakeInnerThenObj(void) {
  pthread_mutex_lock(&inner_mu);
  pthread_mutex_lock(&obj.mu);  // @INVERSION
  pthread_mutex_unlock(&obj.mu);
  pthread_mutex_unlock(&inner_mu);
  pthread_mutex_destroy(&obj.mu);
  return 0;
}

// On another thread, after the object was destroyed: inner -> outer closes outer -> obj -> inner ->
// outer only through a lock that no longer exists (its node parked by the recurring rule): no inversion.
int cuFakeInnerThenOuter(void) {
  pthread_mutex_lock(&inner_mu);
  pthread_mutex_lock(&outer_mu);
  pthread_mutex_unlock(&outer_mu);
  pthread_mutex_unlock(&inner_mu);
  return 0;
}

// --- driver calls reported to CUPTI (the copy built as fakecuda_cupti/libcuda.so.1, with the soname
// libcuda.so.1, beside fakecupti.c's libcupti.so.13) ---------------------------------------------------
// The real driver reports each API call's entry and exit to its CUPTI subscriber; this one hands them
// to the stand-in libcupti named by LOCKSAN_CUPTI_PATH once locksan has loaded it (nothing is reported
// before: no subscriber).
#include <dlfcn.h>
#include <stdlib.h>

typedef int (*driver_api_t)(int, const char*);

static driver_api_t g_api;  // found once the stand-in libcupti is loaded

static void report_call(int enter, const char* name) {
  if (!g_api) {
    const char* path = getenv("LOCKSAN_CUPTI_PATH");
    void* h = path && *path ? dlopen(path, RTLD_LAZY | RTLD_NOLOAD) : NULL;
    if (!h) return;
    g_api = (driver_api_t)dlsym(h, "fakecupti_driver_api");
    dlclose(h);  // still loaded: locksan holds its own handle
  }
  if (g_api) g_api(enter, name);
}

// cuInit: as the real driver, load the injection library named by CUDA_INJECTION64_PATH (locksan sets
// it to liblocksan.so) and call its InitializeInjection.
int cuInit(unsigned flags) {
  (void)flags;
  const char* inj = getenv("CUDA_INJECTION64_PATH");
  if (!inj || !*inj) return 0;
  void* h = dlopen(inj, RTLD_LAZY);
  if (!h) return 0;
  int (*init)(void) = (int (*)(void))dlsym(h, "InitializeInjection");
  if (init) init();
  return 0;
}

// cuOccupancyMaxPotentialBlockSize's pattern, reported to CUPTI and holding no pthread lock: the
// block-size callback runs inside the driver call (the seed bug of issue #4 as locksan sees it with
// CUPTI on).
int cuFakeOccupancyTracked(b2d_t b2d, int block) {
  report_call(1, "cuOccupancyMaxPotentialBlockSize");
  size_t smem = b2d(block);
  report_call(0, "cuOccupancyMaxPotentialBlockSize");
  return (int)smem;
}

// A driver call without a callback, reported to CUPTI (for a count of tracked calls).
int cuFakeCtxGetCurrent(void) {
  report_call(1, "cuCtxGetCurrent");
  report_call(0, "cuCtxGetCurrent");
  return 0;
}
