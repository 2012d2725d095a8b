// bench/young_lock_chain.c — a lock made per iteration and taken above locks whose edge is known:
// per iteration a new heap mutex M is taken, then A and B under it (A -> B is known after the first
// iteration), and M is freed. Every iteration is a new lock, a new edge M -> A and a new chain
// [M, A] + B whose only edge is known: the shape of PyTorch's per-step autograd locks taken above
// the caching allocator's and libcuda's locks (docs/gpu.md). Prints ns per iteration.
//   cc -O2 -pthread bench/young_lock_chain.c -o young
//   ./young 400000; LD_PRELOAD=build/liblocksan.so ./young 400000
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
pthread_mutex_t A = PTHREAD_MUTEX_INITIALIZER, B = PTHREAD_MUTEX_INITIALIZER;
static void* spin(void* p) { return p; }
int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  pthread_t t; pthread_create(&t, 0, spin, 0); pthread_join(t, 0);
  struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) {
    pthread_mutex_t* m = malloc(sizeof *m);
    pthread_mutex_init(m, 0);
    pthread_mutex_lock(m);
    pthread_mutex_lock(&A);
    pthread_mutex_lock(&B);
    pthread_mutex_unlock(&B);
    pthread_mutex_unlock(&A);
    pthread_mutex_unlock(m);
    pthread_mutex_destroy(m);
    free(m);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%.1f ns/iter\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
  return 0;
}
