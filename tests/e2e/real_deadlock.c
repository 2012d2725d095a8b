// A real ABBA deadlock: both threads take their first lock, meet at a barrier, then block on the
// second. The program hangs; the inversion report must be printed before it does (the order check
// runs before the thread blocks). The watchdog (detect_deadlocks=1, 200 ms period here) also
// reports the deadlock itself.
//
// KILL-AFTER: 3
// RUN-OPTIONS: watchdog_interval_ms=200
// EXPECT-REPORTS: lock-order-inversion=1 deadlock=1
// CHECK: ^both hold their first lock$
// CHECK: ^==%pid==WARNING: locksan: lock-order-inversion \(potential deadlock\)$
// CHECK: ^  Cycle in lock order graph: (M\d+) \(0x[0-9a-f]+\) => (M\d+) \(0x[0-9a-f]+\) => \1$
// CHECK: ^    #0 (t_ab|t_ba) .*real_deadlock\.c:(%line(AB_B)|%line(BA_A))\b
// CHECK: ^    #0 (t_ab|t_ba) .*real_deadlock\.c:(%line(AB_B)|%line(BA_A))\b
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*real_deadlock\.c:(%line(AB_B)|%line(BA_A)) in (t_ab|t_ba)$
// CHECK: ^==%pid==WARNING: locksan: deadlock 
// CHECK: ^SUMMARY: locksan: deadlock 
// CHECK-NOT: never printed
//
// VARIANT: no_watchdog
// With detect_deadlocks=0 only the inversion is reported.
// RUN-OPTIONS: detect_deadlocks=0
// KILL-AFTER: 1.5
// EXPECT-REPORTS: deadlock=0
// CLEAR: CHECK
// CHECK: ^both hold their first lock$
// CHECK: ^SUMMARY: locksan: lock-order-inversion 
//
// VARIANT: abort
// abort_on_deadlock=1: after the report the process aborts (SIGABRT, a core file where enabled), so
// that a CI job fails at once instead of timing out.
// RUN-OPTIONS: watchdog_interval_ms=200:abort_on_deadlock=1
// CLEAR: KILL-AFTER CHECK
// TIMEOUT: 10
// EXPECT-EXIT: -6
// CHECK: ^==%pid==WARNING: locksan: deadlock 
// CHECK: ^SUMMARY: locksan: deadlock 
// CHECK: ^==%pid==locksan: abort_on_deadlock=1: aborting$
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
pthread_barrier_t bar;

static void* t_ab(void* p) {
  pthread_mutex_lock(&a);
  if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD) fprintf(stderr, "both hold their first lock\n");
  pthread_mutex_lock(&b);  // @AB_B
  fprintf(stderr, "never printed\n");
  return p;
}

static void* t_ba(void* p) {
  pthread_mutex_lock(&b);
  if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD) fprintf(stderr, "both hold their first lock\n");
  pthread_mutex_lock(&a);  // @BA_A
  fprintf(stderr, "never printed\n");
  return p;
}

int main(void) {
  pthread_barrier_init(&bar, 0, 2);
  pthread_t t1, t2;
  pthread_create(&t1, 0, t_ab, 0);
  pthread_create(&t2, 0, t_ba, 0);
  pthread_join(t1, 0);
  pthread_join(t2, 0);
  return 0;
}
