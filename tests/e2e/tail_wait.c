// The pthread_mutex_lock tail path (mutex_tail_call, on by default): once a thread has taken a chain
// of default mutexes before, its next pthread_mutex_lock of the same chain pushes the held entry
// *before* the real call and tail-calls it, its wait published tagged. While it waits, that entry is
// on its held stack though it does not hold the mutex; once it has the mutex, the wait stays
// published until its next lock event. The watchdog and the reports tell the two apart by the
// mutex's owner field. Each mode warms the slots up first (every blocking call below is a tail call).
//  - deadlock: an ABBA hang where both blocking calls are tail calls: the watchdog must report it,
//    with each thread waiting for the mutex the other holds (not for one it "holds" itself).
//  - deadlock_fill: the same, but each thread last took another mutex at the depth of its blocking
//    call, so that call fills its slot (the lock is known, the slot is not reusable in place) and
//    then tail-calls (MutexFillCall).
//  - unknown_holder: main takes L through libc directly (locksan does not see it) and holds it 1.5 s
//    while T1 and T2 wait for it in tail calls. Their pending entries are not holders: a wait whose
//    holder is unknown is never a deadlock, so nothing is reported. (Counting the pending entries as
//    holders makes T1 and T2 block each other: a false deadlock.)
//  - long_hold: T1 takes L in a tail call and keeps it 1.2 s without another lock event (its tail
//    wait stays published). A thread dump (dump_signal) meanwhile shows T1 holding L and waiting for
//    nothing; then main waits for L: one long-wait, for main, held by T1; none for T1.
//  - handoff (report_bad_unlock=1): T1 holds L; T2 waits for L in a tail call; main unlocks L (a
//    non-holder: reported). The unlock hands L to T2, whose entry must stay valid: T2 then takes a
//    new mutex (an order check, which drops stale entries) and unlocks both. One report only (a
//    stale entry would make T2's own unlock of L a second unlock-of-unheld-lock).
//
// ARGS: deadlock
// KILL-AFTER: 4
// RUN-OPTIONS: watchdog_interval_ms=200
// EXPECT-REPORTS: lock-order-inversion=1 deadlock=1
// CHECK: ^warm$
// CHECK: ^==%pid==WARNING: locksan: deadlock
// CHECK-COUNT: 1 ^  Thread T1 \(tid \d+, "tail_wait\.exe"\) has been waiting [0-9.]+ s to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T2\.$
// CHECK-COUNT: 1 ^  Thread T2 \(tid \d+, "tail_wait\.exe"\) has been waiting [0-9.]+ s to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T1\.$
// CHECK: ^SUMMARY: locksan: deadlock
// CHECK-NOT: never printed
//
// VARIANT: deadlock_no_tail
// The same with the tail path off.
// RUN-OPTIONS: watchdog_interval_ms=200:mutex_tail_call=0
//
// VARIANT: deadlock_fill
// ARGS: deadlock_fill
// RUN-OPTIONS: watchdog_interval_ms=200
//
// VARIANT: unknown_holder
// ARGS: unknown_holder
// RUN-OPTIONS: watchdog_interval_ms=100
// CLEAR: KILL-AFTER CHECK CHECK-COUNT CHECK-NOT
// TIMEOUT: 20
// EXPECT-EXIT: 0
// EXPECT-REPORTS: lock-order-inversion=0 deadlock=0
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^both got L$
//
// VARIANT: long_hold
// ARGS: long_hold
// RUN-OPTIONS: watchdog_interval_ms=100:long_wait_ms=400:dump_signal=10
// CLEAR: KILL-AFTER CHECK CHECK-COUNT CHECK-NOT CHECK-STDOUT EXPECT-NO-STDERR
// TIMEOUT: 20
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=0 deadlock=0 long-wait=1
// CHECK: ^==%pid==locksan: thread dump \(dump_signal\)$
// CHECK: ^  Thread T1 \(tid \d+, "tail_wait\.exe"\):$
// CHECK: ^    holds:$
// CHECK: ^      mutex M\d+ \(0x[0-9a-f]+\), acquired at hold .*tail_wait\.c:%line(HOLD)\b
// CHECK: ^==%pid==locksan: end of thread dump \(2 threads\)$
// CHECK: ^  Thread T0 \(tid %pid, "tail_wait\.exe"\) has been waiting [0-9.]+ s to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T1\.$
// CHECK: ^    blocked in: main .*tail_wait\.c:%line(MAIN_WAIT)\b
// CHECK: ^      mutex M\d+ \(0x[0-9a-f]+\), acquired at hold .*tail_wait\.c:%line(HOLD)\b
// CHECK-NOT: Thread T1 \(tid \d+, "tail_wait\.exe"\) has been waiting
// CHECK-NOT: ^    waits to lock
// CHECK-STDOUT: ^main got L$
//
// VARIANT: handoff
// ARGS: handoff
// RUN-OPTIONS: report_bad_unlock=1
// CLEAR: KILL-AFTER CHECK CHECK-COUNT CHECK-NOT CHECK-STDOUT EXPECT-NO-STDERR
// TIMEOUT: 20
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=0 deadlock=0 unlock-of-unheld-lock=1
// CHECK: ^SUMMARY: locksan: unlock-of-unheld-lock .*tail_wait\.c:%line(FOREIGN) in main$
// CHECK-STDOUT: ^T2 done$
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t L = PTHREAD_MUTEX_INITIALIZER, n = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t c = PTHREAD_MUTEX_INITIALIZER, d = PTHREAD_MUTEX_INITIALIZER;
static int g_fill;  // deadlock_fill: the blocking calls' slots last held another mutex
static pthread_barrier_t bar, bar2;
static int (*libc_lock)(pthread_mutex_t*), (*libc_unlock)(pthread_mutex_t*);

// Takes `first` then `second` `times` times, so that both slots are filled and validated.
static void warm(pthread_mutex_t* first, pthread_mutex_t* second, int times) {
  for (int i = 0; i < times; i++) {
    pthread_mutex_lock(first);
    if (second) {
      pthread_mutex_lock(second);
      pthread_mutex_unlock(second);
    }
    pthread_mutex_unlock(first);
  }
}

static void* t_ab(void* p) {
  warm(&a, &b, 3);
  if (g_fill) warm(&a, &c, 1);  // slot 1 now holds C's entry: B's lock below fills it
  pthread_barrier_wait(&bar);  // T2 warms up B -> A (reported) after this
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&a);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&b);
  puts("never printed");
  return p;
}

static void* t_ba(void* p) {
  pthread_barrier_wait(&bar);
  warm(&b, &a, 3);
  if (g_fill) warm(&b, &d, 1);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&b);
  fprintf(stderr, "warm\n");
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&a);
  puts("never printed");
  return p;
}

static void* waiter(void* p) {
  warm(&L, NULL, 3);
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);  // main holds L (unseen by locksan) from here
  pthread_mutex_lock(&L);
  pthread_mutex_unlock(&L);
  return p;
}

static void* hold(void* p) {
  warm(&L, NULL, 3);
  pthread_mutex_lock(&L);  // @HOLD
  pthread_barrier_wait(&bar);
  usleep(1200 * 1000);  // no lock event: the tail wait stays published
  pthread_mutex_unlock(&L);
  return p;
}

static void* handoff_t1(void* p) {
  pthread_barrier_wait(&bar);  // T2 has warmed up
  pthread_mutex_lock(&L);
  pthread_barrier_wait(&bar);  // T1 holds L; main unlocks it later
  pthread_barrier_wait(&bar2);  // stays alive until then
  return p;
}

static void* handoff_t2(void* p) {
  warm(&L, NULL, 3);
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&L);  // waits (tail call) until main unlocks T1's L
  pthread_mutex_lock(&n);  // a new lock: an order check, which drops stale entries
  pthread_mutex_unlock(&n);
  pthread_mutex_unlock(&L);
  puts("T2 done");
  return p;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "deadlock";
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  libc_lock = (int (*)(pthread_mutex_t*))dlsym(libc, "pthread_mutex_lock");
  libc_unlock = (int (*)(pthread_mutex_t*))dlsym(libc, "pthread_mutex_unlock");
  if (!libc_lock || !libc_unlock) return 2;
  pthread_t t1, t2;
  g_fill = !strcmp(mode, "deadlock_fill");
  if (!strcmp(mode, "deadlock") || g_fill) {
    pthread_barrier_init(&bar, 0, 2);
    pthread_create(&t1, 0, t_ab, 0);
    pthread_create(&t2, 0, t_ba, 0);
    pthread_join(t1, 0);
    return 0;
  }
  if (!strcmp(mode, "unknown_holder")) {
    pthread_barrier_init(&bar, 0, 3);
    pthread_create(&t1, 0, waiter, 0);
    pthread_create(&t2, 0, waiter, 0);
    pthread_barrier_wait(&bar);
    libc_lock(&L);
    pthread_barrier_wait(&bar);
    usleep(1500 * 1000);
    libc_unlock(&L);
    pthread_join(t1, 0);
    pthread_join(t2, 0);
    puts("both got L");
    return 0;
  }
  if (!strcmp(mode, "long_hold")) {
    pthread_barrier_init(&bar, 0, 2);
    pthread_create(&t1, 0, hold, 0);
    pthread_barrier_wait(&bar);
    struct sigaction sa;
    if (sigaction(SIGUSR1, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL) raise(SIGUSR1);  // a dump
    usleep(300 * 1000);
    pthread_mutex_lock(&L);  // @MAIN_WAIT
    pthread_mutex_unlock(&L);
    pthread_join(t1, 0);
    puts("main got L");
    return 0;
  }
  if (!strcmp(mode, "handoff")) {
    pthread_barrier_init(&bar, 0, 3);
    pthread_barrier_init(&bar2, 0, 2);
    pthread_create(&t1, 0, handoff_t1, 0);
    pthread_create(&t2, 0, handoff_t2, 0);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    usleep(300 * 1000);  // T2 is in its wait by now
    pthread_mutex_unlock(&L);  // @FOREIGN
    pthread_join(t2, 0);
    pthread_barrier_wait(&bar2);
    pthread_join(t1, 0);
    return 0;
  }
  return 2;
}
