// The watchdog never takes a lock that a watched thread may hold: here a deadlocked thread holds the
// stdio locks of stdout and stderr (flockfile) and a thread that is not part of the deadlock sits in
// malloc/free in a loop; the deadlock report is still printed to stderr (locksan writes with write(2)
// and allocates from its own memory), within the interval.
//
// KILL-AFTER: 4
// RUN-OPTIONS: watchdog_interval_ms=200
// EXPECT-REPORTS: lock-order-inversion=1 deadlock=1
// CHECK: ^==%pid==WARNING: locksan: deadlock
// CHECK-COUNT: 2 ^  Thread T[12] .* has been waiting [0-9.]+ s to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T[12]\.$
// CHECK: ^SUMMARY: locksan: deadlock
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t bar;

static void* ab(void* p) {
  flockfile(stdout);
  flockfile(stderr);
  pthread_mutex_lock(&a);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&b);
  return p;
}

static void* ba(void* p) {
  pthread_mutex_lock(&b);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&a);
  return p;
}

static void* churn(void* p) {
  for (;;) {
    void* volatile m = malloc(64 + (rand() & 1023));
    free(m);
  }
  return p;
}

int main(void) {
  pthread_barrier_init(&bar, 0, 2);
  pthread_t t1, t2, t3;
  pthread_create(&t1, 0, ab, 0);
  pthread_create(&t2, 0, ba, 0);
  pthread_create(&t3, 0, churn, 0);
  pthread_join(t1, 0);
  return 0;
}
