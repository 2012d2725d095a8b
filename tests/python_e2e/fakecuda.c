// fakecuda.c -- a stand-in for libcuda.so.1 (built by run_py_e2e.py as <workdir>/fakecuda/libcuda.so.1):
// locksan recognises the driver by its file name, so a mutex first taken by code in this library is
// "a lock taken inside libcuda". cuFakeOccupancy holds it while it calls a block-size callback, as
// cuOccupancyMaxPotentialBlockSize does with its b2dFunc (the seed bug of issue #4): a Python callback
// passed here makes its thread take the GIL while it holds the driver's lock.
#include <pthread.h>
#include <stddef.h>

static pthread_mutex_t driver_mu = PTHREAD_MUTEX_INITIALIZER;
typedef size_t (*b2d_t)(int);

int cuFakeOccupancy(b2d_t b2d, int block) {
  pthread_mutex_lock(&driver_mu);
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
