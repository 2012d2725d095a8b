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
