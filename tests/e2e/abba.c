// ABBA between two threads: main takes A then B; later (after main released both) thread T1 takes B
// then A. The program never deadlocks, but the order is inverted: one lock-order-inversion report,
// naming both threads, both globals and the file:line of all four acquisitions, then exit status 66.
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// NATIVE-SAME-OUTPUT
// CHECK: ^==%pid==WARNING: locksan: lock-order-inversion \(potential deadlock\)$
// CHECK: ^  Cycle in lock order graph: (M\d+) \(0x[0-9a-f]+\) => (M\d+) \(0x[0-9a-f]+\) => \1$
// The edge that closed the cycle (B->A, thread T1) comes first.
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T1 \(tid \d+, "worker_ba"\):$
// CHECK: ^    #0 thread_ba .*abba\.c:%line(BA_A) \(abba\.exe\+0x[0-9a-f]+\)$
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here( \(.*\))?:$
// CHECK: ^    #0 thread_ba .*abba\.c:%line(BA_B) 
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T0 \(tid %pid, "abba\.exe"\):$
// CHECK: ^    #0 lock_ab .*abba\.c:%line(AB_B) 
// CHECK: ^    #1 main .*abba\.c:%line(MAIN_AB) 
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here( \(.*\))?:$
// CHECK: ^    #0 lock_ab .*abba\.c:%line(AB_A) 
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+, mutex\): global 'mu_b' in abba\.exe; first locked at lock_ab .*abba\.c:%line(AB_B) 
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+, mutex\): global 'mu_a' in abba\.exe; first locked at lock_ab .*abba\.c:%line(AB_A) 
// CHECK: ^  Thread T1 \(tid \d+, "worker_ba", (running|finished)\) created by thread T0 at:$
// CHECK: ^    #0 main .*abba\.c:%line(CREATE) 
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*abba\.c:%line(BA_A) in thread_ba$
// CHECK: ^==%pid==locksan: reported 1 warning$
// CHECK-STDOUT: ^done$
//
// VARIANT: exitcode0
// exitcode=0 keeps the program's own status (7).
// RUN-OPTIONS: exitcode=0
// EXPECT-EXIT: 7
// ENV: ABBA_STATUS=7
//
// VARIANT: exitcode3
// RUN-OPTIONS: exitcode=3
// EXPECT-EXIT: 3
//
// VARIANT: bad_options
// Malformed options: one clear line each, before anything else; the run is otherwise unchanged
// (exitcode stays 66, the report is the same).
// RUN-OPTIONS: exitcode=abc:bogus=1
// CLEAR: CHECK
// CHECK: \A==%pid==locksan: invalid value 'abc' for option 'exitcode' \(ignored\)\n
// CHECK: ^==%pid==locksan: unknown option 'bogus' \(ignored; help=1 lists options\)\n
// CHECK: ^==%pid==WARNING: locksan: lock-order-inversion
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*abba\.c:%line(BA_A) in thread_ba$
// CHECK-COUNT: 1 exitcode
// CHECK-COUNT: 1 bogus
// CHECK-COUNT: 3 ^==%pid==locksan:
//
// VARIANT: halt_on_error
// halt_on_error=1: exit with the exitcode right after the first report, before main prints "done".
// RUN-OPTIONS: halt_on_error=1:exitcode=5
// EXPECT-EXIT: 5
// CLEAR: CHECK CHECK-STDOUT NATIVE-SAME-OUTPUT
// CHECK: ^==%pid==WARNING: locksan: lock-order-inversion
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*abba\.c:%line(BA_A) in thread_ba\n==%pid==locksan: halt_on_error=1: exiting\n\Z
// CHECK-NOT: reported 1 warning
//
// VARIANT: halt_on_error_default_exitcode
// RUN-OPTIONS: halt_on_error=1
// EXPECT-EXIT: 66
// CLEAR: CHECK CHECK-STDOUT NATIVE-SAME-OUTPUT
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*\n==%pid==locksan: halt_on_error=1: exiting\n\Z
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

pthread_mutex_t mu_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t mu_b = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void lock_ab(void) {
  pthread_mutex_lock(&mu_a);  // @AB_A
  pthread_mutex_lock(&mu_b);  // @AB_B
  pthread_mutex_unlock(&mu_b);
  pthread_mutex_unlock(&mu_a);
}

static void* thread_ba(void* arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "worker_ba");
  pthread_mutex_lock(&mu_b);  // @BA_B
  pthread_mutex_lock(&mu_a);  // @BA_A
  pthread_mutex_unlock(&mu_a);
  pthread_mutex_unlock(&mu_b);
  return 0;
}

int main(void) {
  lock_ab();  // @MAIN_AB
  pthread_t t;
  pthread_create(&t, 0, thread_ba, 0);  // @CREATE
  pthread_join(t, 0);
  puts("done");
  const char* st = getenv("ABBA_STATUS");
  return st ? atoi(st) : 0;
}
