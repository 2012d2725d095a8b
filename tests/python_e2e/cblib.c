// cblib.c -- the C library of the Python end-to-end tests (built by run_py_e2e.py into libpye2e_cblib.so).
// It has its own mutex, lib_mu, which it holds while it calls back into Python.
#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;
typedef int (*cb_t)(int);

// Holds lib_mu while calling the (ctypes) callback: called through ctypes.CDLL, the GIL is released
// around the call and the callback takes it again -- lib_mu -> GIL.
int lib_call_with_callback(cb_t cb, int x) {
  pthread_mutex_lock(&lib_mu);
  int r = cb(x);
  pthread_mutex_unlock(&lib_mu);
  return r;
}

// The same, holding lib_mu for usec microseconds before the callback: widens the window in which a
// thread that holds the GIL blocks on lib_mu, so that the looping deadlock test hangs quickly.
int lib_call_with_callback_slow(cb_t cb, int x, unsigned usec) {
  pthread_mutex_lock(&lib_mu);
  usleep(usec);
  int r = cb(x);
  pthread_mutex_unlock(&lib_mu);
  return r;
}

// The same from a thread the library creates (no Python thread state: the callback makes one), joined
// before it returns.
struct cb_call {
  cb_t cb;
  int x, r;
};

static void* cb_thread(void* arg) {
  struct cb_call* c = (struct cb_call*)arg;
  c->r = lib_call_with_callback(c->cb, c->x);
  return 0;
}

int lib_call_in_new_thread(cb_t cb, int x) {
  struct cb_call c = {cb, x, -1};
  pthread_t t;
  if (pthread_create(&t, 0, cb_thread, &c) != 0) return -1;
  pthread_join(t, 0);
  return c.r;
}

// Takes lib_mu; called through ctypes.PyDLL, the GIL stays held -- GIL -> lib_mu.
int lib_touch(void) {
  pthread_mutex_lock(&lib_mu);
  pthread_mutex_unlock(&lib_mu);
  return 0;
}

// Two more library mutexes, for an inversion with C mutexes only (no GIL involved): called through
// ctypes.CDLL (GIL released).
static pthread_mutex_t lib_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lib_b = PTHREAD_MUTEX_INITIALIZER;

int lib_a_then_b(void) {
  pthread_mutex_lock(&lib_a);
  pthread_mutex_lock(&lib_b);
  pthread_mutex_unlock(&lib_b);
  pthread_mutex_unlock(&lib_a);
  return 0;
}

int lib_b_then_a(void) {
  pthread_mutex_lock(&lib_b);
  pthread_mutex_lock(&lib_a);
  pthread_mutex_unlock(&lib_a);
  pthread_mutex_unlock(&lib_b);
  return 0;
}

// A binary semaphore of the library (a lock to locksan, like a PyThread lock), taken by a blocking
// sem_wait: called through ctypes.PyDLL, the thread blocks on it with the GIL held -- GIL -> lib_sem;
// a Python thread that holds it and lets the GIL go (time.sleep) takes the GIL again -- lib_sem -> GIL.
#include <semaphore.h>
static sem_t lib_sem;

int lib_sem_init(void) { return sem_init(&lib_sem, 0, 1); }
int lib_sem_take(void) { return sem_wait(&lib_sem); }
int lib_sem_give(void) { return sem_post(&lib_sem); }
