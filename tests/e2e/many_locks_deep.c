// Scale: 16384 locks, taken 100 deep by 4 threads concurrently, always in increasing index order (a
// consistent global order), in windows that overlap and start at different places per thread: no
// report, no crash, and it must finish in reasonable time under the preload (timing printed).
//
// TIMEOUT: 40
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^acquisitions: 260800$
//
// VARIANT: memory_budget
// max_memory_mb=1: the detector stops tracking new locks and orders past its budget, says so once,
// and the program runs on normally.
// RUN-OPTIONS: max_memory_mb=1
// CLEAR: EXPECT-NO-STDERR
// CHECK-COUNT: 1 ^==%pid==locksan: memory budget max_memory_mb=1 reached: new locks and lock orders are no longer tracked \(the program keeps running\)$
// CHECK-COUNT: 1 ^.+$
//
// VARIANT: unwinder_libgcc
// unwinder=libgcc: every stack (thousands of new edges' evidence, 4 threads) taken with libgcc's
// unwinder; the same outcome. (stack_memo=0: the memo would serve most of them without an unwind.)
// RUN-OPTIONS: unwinder=libgcc:verbosity=1:stack_memo=0
// CLEAR: EXPECT-NO-STDERR
// CHECK: ^==%pid==locksan: stats: .* [0-9]+ stacks \(libgcc\)
// CHECK: ^==%pid==locksan: stack captures: libgcc [0-9]{4,} captures \([0-9.]+ frames each; median < [0-9]+ ns
// CHECK-NOT: WARNING: locksan
// CHECK-NOT: libunwind [0-9]+ captures
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NLOCKS 16384
#define DEPTH 100
#define THREADS 4
#define STRIDE 50

pthread_mutex_t* locks;
long acquisitions[THREADS];

static void* worker(void* arg) {
  long id = (long)arg;
  // Each thread walks every window start (a multiple of STRIDE), beginning at a different offset.
  int nwin = (NLOCKS - DEPTH) / STRIDE + 1;
  for (int k = 0; k < nwin; k++) {
    int w = (k + (int)id * nwin / THREADS) % nwin;
    int start = w * STRIDE;
    for (int i = 0; i < DEPTH; i++) pthread_mutex_lock(&locks[start + i]);
    for (int i = DEPTH; i-- > 0;) pthread_mutex_unlock(&locks[start + i]);
    acquisitions[id] += DEPTH;
  }
  return 0;
}

int main(void) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  locks = malloc(sizeof(pthread_mutex_t) * NLOCKS);
  for (int i = 0; i < NLOCKS; i++) pthread_mutex_init(&locks[i], 0);
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; i++) pthread_create(&t[i], 0, worker, (void*)i);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], 0);
  // A second pass over the same windows: every chain is known now (the cheap path).
  struct timespec t2;
  clock_gettime(CLOCK_MONOTONIC, &t2);
  for (long i = 0; i < THREADS; i++) pthread_create(&t[i], 0, worker, (void*)i);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long total = 0;
  for (int i = 0; i < THREADS; i++) total += acquisitions[i];
  printf("acquisitions: %ld\n", total);
  printf("TIMING: first pass %.3f s, second pass %.3f s\n",
         (t2.tv_sec - t0.tv_sec) + (t2.tv_nsec - t0.tv_nsec) / 1e9,
         (t1.tv_sec - t2.tv_sec) + (t1.tv_nsec - t2.tv_nsec) / 1e9);
  for (int i = 0; i < NLOCKS; i++) pthread_mutex_destroy(&locks[i]);
  free(locks);
  return 0;
}
