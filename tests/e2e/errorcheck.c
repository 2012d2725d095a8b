// An error-checking mutex locked twice by its owner returns EDEADLK and the program goes on.
// locksan reports it as a double-lock (the program has a bug, even if it does not hang), and the
// failed acquisition is not recorded as held: after one unlock E is free, so a later E/B pair made
// in both orders by different threads *while E is not held* yields no inversion.
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: double-lock=1
// NATIVE-SAME-OUTPUT
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+\) locked again by thread T0 .*which already holds it
// CHECK: ^    #0 main .*errorcheck\.c:%line(SECOND) 
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+, error-checking mutex\): global 'e' 
// CHECK: ^SUMMARY: locksan: double-lock .*errorcheck\.c:%line(SECOND) in main$
// CHECK-STDOUT: ^second lock: EDEADLK$
// CHECK-STDOUT: ^unlock: 0$
// CHECK-STDOUT: ^unlock again: EPERM$
// CHECK-STDOUT: ^done$
//
// VARIANT: report_off
// RUN-OPTIONS: report_double_lock=0
// EXPECT-EXIT: 0
// EXPECT-REPORTS: double-lock=0
// CLEAR: CHECK
// EXPECT-NO-STDERR
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t e = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;

static const char* name(int rc) {
  return rc == 0 ? "0" : rc == EDEADLK ? "EDEADLK" : rc == EPERM ? "EPERM" : "other";
}

static void* b_then_e(void* p) {
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&e);
  pthread_mutex_unlock(&e);
  pthread_mutex_unlock(&b);
  return p;
}

int main(void) {
  pthread_mutex_lock(&e);
  int rc = pthread_mutex_lock(&e);  // @SECOND
  printf("second lock: %s\n", name(rc));
  printf("unlock: %s\n", name(pthread_mutex_unlock(&e)));
  printf("unlock again: %s\n", name(pthread_mutex_unlock(&e)));
  // E is free now. Lock B here: if E were still recorded as held, this would be an edge E->B.
  pthread_mutex_lock(&b);
  pthread_mutex_unlock(&b);
  pthread_t t;
  pthread_create(&t, 0, b_then_e, 0);
  pthread_join(t, 0);
  puts("done");
  return 0;
}
