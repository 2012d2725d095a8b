// tests/report/progs/libabba.c — a shared library with a lock-order inversion, for Python (ctypes)
// processes: lock_forward() takes first -> second, lock_backward() second -> first.
#include <pthread.h>

static pthread_mutex_t first_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t second_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) void lock_forward(void) {
  pthread_mutex_lock(&first_lock);
  pthread_mutex_lock(&second_lock);
  pthread_mutex_unlock(&second_lock);
  pthread_mutex_unlock(&first_lock);
}

__attribute__((noinline)) void lock_backward(void) {
  pthread_mutex_lock(&second_lock);
  pthread_mutex_lock(&first_lock);
  pthread_mutex_unlock(&first_lock);
  pthread_mutex_unlock(&second_lock);
}
