// The main thread ends with pthread_exit() while a worker still runs; glibc ends the process with
// status 0 when the last thread exits. locksan's watchdog thread must not keep the process alive
// (negative test: it did, until the watchdog learnt to step aside).
//
// EXPECT-EXIT: 0
// EXPECT-REPORTS: lock-order-inversion=0
// TIMEOUT: 10
// CHECK-STDOUT: ^worker done$
// NATIVE-SAME-OUTPUT
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void* worker(void* arg) {
  (void)arg;
  usleep(200000);
  pthread_mutex_lock(&mu);
  puts("worker done");
  fflush(stdout);
  pthread_mutex_unlock(&mu);
  return NULL;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  pthread_exit(NULL);
}
