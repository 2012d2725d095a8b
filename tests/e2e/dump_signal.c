// dump_signal: on that signal locksan prints every thread's held locks, its wait (lock, holder, since
// when) and its stack, and the program runs on: no report, same stdout and exit status as natively,
// every time the signal comes. The program sends the signal to itself only when locksan installed a
// handler for it (natively, or without the option, SIGUSR1 keeps its default action and is not sent).
//  - base: T1 holds mutex a and waits on a condition variable; T2 blocks on a; main sends SIGUSR1
//    twice (two dumps), then lets T1 go.
//  - off: no dump_signal: no handler, nothing printed.
//  - deadlock: T1/T2 ABBA that hangs; main sends SIGUSR1 twice while they are stuck: two dumps, each
//    with both waits, besides the one deadlock report.
//
// ARGS: base
// RUN-OPTIONS: dump_signal=10:watchdog_interval_ms=100
// TIMEOUT: 20
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^done$
// CHECK-COUNT: 2 ^==%pid==locksan: thread dump \(dump_signal\)$
// CHECK-COUNT: 2 ^==%pid==locksan: end of thread dump \(3 threads\)$
// CHECK: ^==%pid==locksan: thread dump \(dump_signal\)$
// CHECK: ^  Thread T0 \(tid %pid, "dump_signal\.exe"\):$
// CHECK: ^  Thread T1 \(tid \d+, "dump_signal\.exe"\):$
// CHECK: ^    holds:$
// CHECK: ^      mutex M\d+ \(0x[0-9a-f]+\), acquired at holder .*dump_signal\.c:%line(HOLD)\b
// CHECK: ^    stack:$
// CHECK: ^    #\d+ holder .*dump_signal\.c:%line(HOLDWAIT)\b
// CHECK: ^  Thread T2 \(tid \d+, "dump_signal\.exe"\):$
// CHECK: ^    waits to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T1, for at least [0-9.]+ s$
// CHECK: ^    stack:$
// CHECK: ^    #\d+ waiter .*dump_signal\.c:%line(WAITA)\b
// CHECK: ^==%pid==locksan: end of thread dump \(3 threads\)$
// CHECK: ^==%pid==locksan: thread dump \(dump_signal\)$
// CHECK: ^    waits to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T1, for at least [0-9.]+ s$
// CHECK: ^==%pid==locksan: end of thread dump \(3 threads\)$
// CHECK-NOT: WARNING
// CHECK-NOT: interrupted
//
// VARIANT: off
// RUN-OPTIONS: watchdog_interval_ms=100
// CLEAR: CHECK CHECK-NOT CHECK-COUNT CHECK-STDOUT
// CHECK-STDOUT: ^done$
// EXPECT-NO-STDERR
//
// VARIANT: deadlock
// ARGS: deadlock
// KILL-AFTER: 5
// CLEAR: CHECK CHECK-NOT CHECK-COUNT CHECK-STDOUT NATIVE-SAME-OUTPUT TIMEOUT
// EXPECT-REPORTS: lock-order-inversion=1 deadlock=1
// CHECK-COUNT: 2 ^==%pid==locksan: thread dump \(dump_signal\)$
// CHECK-COUNT: 2 ^==%pid==locksan: end of thread dump \(3 threads\)$
// CHECK-COUNT: 4 ^    waits to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T[12](, for at least [0-9.]+ s)?$
// CHECK: ^==%pid==WARNING: locksan: deadlock
// CHECK: ^==%pid==locksan: thread dump \(dump_signal\)$
// CHECK: ^    waits to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T[12], for at least [0-9.]+ s$
// CHECK: ^    #\d+ (ab|ba) .*dump_signal\.c:(%line(AB_B)|%line(BA_A))\b
// CHECK: ^    waits to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T[12], for at least [0-9.]+ s$
// CHECK: ^    #\d+ (ab|ba) .*dump_signal\.c:(%line(AB_B)|%line(BA_A))\b
// CHECK: ^==%pid==locksan: end of thread dump \(3 threads\)$
// CHECK: ^==%pid==locksan: thread dump \(dump_signal\)$
// CHECK: ^    #\d+ (ab|ba) .*dump_signal\.c:(%line(AB_B)|%line(BA_A))\b
// CHECK: ^    #\d+ (ab|ba) .*dump_signal\.c:(%line(AB_B)|%line(BA_A))\b
// CHECK: ^==%pid==locksan: end of thread dump \(3 threads\)$
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER,
                       cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t bar;
static int release;

static void* holder(void* p) {
  pthread_mutex_lock(&a);  // @HOLD
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&cm);
  while (!release) pthread_cond_wait(&cv, &cm);  // @HOLDWAIT
  pthread_mutex_unlock(&cm);
  pthread_mutex_unlock(&a);
  return p;
}

static void* waiter(void* p) {
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&a);  // @WAITA
  pthread_mutex_unlock(&a);
  return p;
}

static void* ab(void* p) {
  pthread_mutex_lock(&a);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&b);  // @AB_B
  return p;
}

static void* ba(void* p) {
  pthread_mutex_lock(&b);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&a);  // @BA_A
  return p;
}

// Sends SIGUSR1 to the process when someone (locksan's dump_signal) handles it.
static void request_dump(void) {
  struct sigaction old;
  sigaction(SIGUSR1, NULL, &old);
  if (old.sa_handler == SIG_DFL) return;
  kill(getpid(), SIGUSR1);
}

int main(int argc, char** argv) {
  int deadlock = argc > 1 && !strcmp(argv[1], "deadlock");
  pthread_barrier_init(&bar, 0, 3);
  pthread_t t1, t2;
  pthread_create(&t1, 0, deadlock ? ab : holder, 0);
  pthread_create(&t2, 0, deadlock ? ba : waiter, 0);
  pthread_barrier_wait(&bar);
  for (int i = 0; i < 2; i++) {
    if (usleep(500 * 1000) != 0) puts("sleep interrupted");
    request_dump();
  }
  if (usleep(500 * 1000) != 0) puts("sleep interrupted");
  pthread_mutex_lock(&cm);
  release = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&cm);
  pthread_join(t1, 0);
  pthread_join(t2, 0);
  puts("done");
  return 0;
}
