// The double-lock report of an error-checking mutex must not claim that the call "blocks forever":
// pthread_mutex_lock on an error-checking mutex the thread holds returns EDEADLK at once (see
// errorcheck.c for the behaviour). Likewise for an rwlock write-locked twice (glibc: EDEADLK).
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: double-lock=1
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+\) locked again by thread T0 .*which already holds it
// CHECK-STDOUT: ^second lock: EDEADLK$
// CHECK-NOT: blocks forever
//
// VARIANT: rwlock
// ARGS: rwlock
// CLEAR: CHECK CHECK-STDOUT
// CHECK: ^  RWLock RW\d+ \(0x[0-9a-f]+\) locked again by thread T0 .*which already holds it
// CHECK-STDOUT: ^second wrlock: EDEADLK$
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t e = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

int main(int argc, char** argv) {
  if (argc > 1) {
    pthread_rwlock_wrlock(&rw);
    int rc = pthread_rwlock_wrlock(&rw);
    printf("second wrlock: %s\n", rc == EDEADLK ? "EDEADLK" : "other");
    pthread_rwlock_unlock(&rw);
    return 0;
  }
  pthread_mutex_lock(&e);
  int rc = pthread_mutex_lock(&e);
  printf("second lock: %s\n", rc == EDEADLK ? "EDEADLK" : "other");
  pthread_mutex_unlock(&e);
  return 0;
}
