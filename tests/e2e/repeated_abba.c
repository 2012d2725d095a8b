// Each distinct cycle is reported once per process: the ABBA pattern repeated 100 times (each time by
// two new threads, one after the other) gives exactly one report. A second, different pair of locks
// gives its own (second) report.
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// NATIVE-SAME-OUTPUT
// CHECK: ^==%pid==locksan: reported 1 warning$
//
// VARIANT: two_cycles
// ARGS: two
// EXPECT-REPORTS: lock-order-inversion=2
// CLEAR: CHECK
// CHECK: ^==%pid==locksan: reported 2 warnings$
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t m[4] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                        PTHREAD_MUTEX_INITIALIZER};
int pairs = 1;

static void lock2(pthread_mutex_t* x, pthread_mutex_t* y) {
  pthread_mutex_lock(x);
  pthread_mutex_lock(y);
  pthread_mutex_unlock(y);
  pthread_mutex_unlock(x);
}

static void* ab(void* p) {
  for (int k = 0; k < pairs; k++) lock2(&m[2 * k], &m[2 * k + 1]);
  return p;
}
static void* ba(void* p) {
  for (int k = 0; k < pairs; k++) lock2(&m[2 * k + 1], &m[2 * k]);
  return p;
}

int main(int argc, char** argv) {
  if (argc > 1) pairs = 2;
  for (int i = 0; i < 100; i++) {
    pthread_t t;
    pthread_create(&t, 0, ab, 0);
    pthread_join(t, 0);
    pthread_create(&t, 0, ba, 0);
    pthread_join(t, 0);
  }
  puts("done");
  return 0;
}
