// Unlocking a mutex this thread does not hold (here: main locks M, thread T1 unlocks it, which glibc
// allows for a normal mutex). Not reported by default; report_bad_unlock=1 (core/flags.inc: "Report
// unlocking a mutex this thread does not hold") reports it as unlock-of-unheld-lock.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^unlock: 0$
//
// VARIANT: report_bad_unlock
// RUN-OPTIONS: report_bad_unlock=1
// CLEAR: EXPECT-NO-STDERR
// EXPECT-EXIT: 66
// EXPECT-REPORTS: unlock-of-unheld-lock=1
// CHECK: ^==%pid==WARNING: locksan: unlock-of-unheld-lock \(unlocking a lock this thread does not hold\)$
// CHECK: ^    #0 unlocker .*bad_unlock\.c:%line(UNLOCK)\b
// CHECK: ^SUMMARY: locksan: unlock-of-unheld-lock .*bad_unlock\.c:%line(UNLOCK) in unlocker$
// The text is about an unlock, not a second lock.
// CHECK-NOT: locked again|blocks forever
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void* unlocker(void* p) {
  printf("unlock: %d\n", pthread_mutex_unlock(&m));  // @UNLOCK
  return p;
}

int main(void) {
  pthread_mutex_lock(&m);
  pthread_t t;
  pthread_create(&t, 0, unlocker, 0);
  pthread_join(t, 0);
  puts("done");
  return 0;
}
