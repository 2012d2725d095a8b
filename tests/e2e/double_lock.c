// Locking a normal mutex twice in one thread blocks forever. The double-lock report must be printed
// before the call blocks (the program hangs; the runner kills it).
//
// KILL-AFTER: 2
// EXPECT-REPORTS: double-lock=1
// CHECK: ^about to lock twice$
// CHECK: ^==%pid==WARNING: locksan: double-lock \(locking a lock this thread already holds\)$
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+\) locked again by thread T0 \(tid %pid, "double_lock\.exe"\), which already holds it; a non-recursive mutex blocks forever here:$
// CHECK: ^    #0 relock .*double_lock\.c:%line(SECOND) 
// CHECK: ^    #1 main .*double_lock\.c
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here( \(.*\))?:$
// CHECK: ^    #0 .*double_lock\.c:%line(FIRST) 
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+, mutex\): global 'mu' in double_lock\.exe
// CHECK: ^SUMMARY: locksan: double-lock .*double_lock\.c:%line(SECOND) in relock$
// CHECK-NOT: never reached
//
// VARIANT: report_off
// report_double_lock=0: no report (the program still hangs, as it does natively).
// RUN-OPTIONS: report_double_lock=0
// KILL-AFTER: 1
// EXPECT-REPORTS: double-lock=0
// CLEAR: CHECK
// CHECK: \Aabout to lock twice\n\Z
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void relock(void) {
  pthread_mutex_lock(&mu);  // @SECOND
}

int main(void) {
  pthread_mutex_lock(&mu);  // @FIRST
  fprintf(stderr, "about to lock twice\n");
  relock();
  fprintf(stderr, "never reached\n");
  return 0;
}
