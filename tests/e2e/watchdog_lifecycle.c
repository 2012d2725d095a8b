// The watchdog thread exists only while the program has threads of its own: a program that joined
// all its threads is single-threaded again at once (/proc/self/status "Threads:" is 1 right after
// pthread_join, also in a fork taken then), as it is natively. The watchdog comes back at the next
// pthread_create and still finds a deadlock within the interval.
//  - base: three rounds of create/join, each followed by the thread count (and by a fork whose child
//    counts too); same output as the native run, no report.
//  - deadlock: after the rounds, an ABBA that hangs: the restarted watchdog reports it.
//  - orphan: a thread exits holding L, then main (alone) locks L: the watchdog stays (holder exited)
//    and reports the deadlock.
//
// ARGS: base
// TIMEOUT: 20
// NATIVE-SAME-OUTPUT
// RUN-OPTIONS: watchdog_interval_ms=100
// CHECK-STDOUT: ^round 0: threads 1, child threads 1$
// CHECK-STDOUT: ^round 1: threads 1, child threads 1$
// CHECK-STDOUT: ^round 2: threads 1, child threads 1$
// CHECK-STDOUT: ^done$
// EXPECT-NO-STDERR
//
// VARIANT: deadlock
// ARGS: deadlock
// KILL-AFTER: 4
// CLEAR: CHECK-STDOUT NATIVE-SAME-OUTPUT EXPECT-NO-STDERR
// EXPECT-REPORTS: lock-order-inversion=1 deadlock=1
// CHECK-STDOUT: ^round 2: threads 1, child threads 1$
// CHECK: ^==%pid==WARNING: locksan: deadlock
// CHECK-COUNT: 2 ^  Thread T\d+ .* has been waiting [0-9.]+ s to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T\d+\.$
// CHECK: ^SUMMARY: locksan: deadlock
//
// VARIANT: orphan
// ARGS: orphan
// KILL-AFTER: 4
// CLEAR: CHECK-STDOUT NATIVE-SAME-OUTPUT EXPECT-NO-STDERR
// EXPECT-REPORTS: deadlock=1
// CHECK-STDOUT: ^orphan: T1 gone$
// CHECK: ^  Thread T0 .* held by thread T\d+, which exited without releasing it\.$
// CHECK: ^SUMMARY: locksan: deadlock .*watchdog_lifecycle\.c:%line(ORPHAN) in main$
//
// VARIANT: orphan_released
// T1 exits holding L; main unlocks L itself (a foreign unlock): nothing is orphaned any more, so the
// watchdog ends and the program counts one thread, as natively.
// ARGS: orphan_released
// CLEAR: CHECK-STDOUT
// CHECK-STDOUT: ^orphan released: threads 1$
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER,
                       l = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t bar;

static int threads_now(void) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  int n = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "Threads:", 8)) n = atoi(line + 8);
  if (f) fclose(f);
  return n;
}

// The count once the joined threads are reaped: pthread_join returns when a thread's tid is cleared,
// which the kernel does just before it drops the thread from the count, so a native run read 2 now
// and then (the thread in its last microseconds). Up to 20 ms: far less than the watchdog's interval
// (100 ms here), so a watchdog that outlived the program's threads still shows.
static int threads_settled(void) {
  int n = threads_now();
  for (int i = 0; i < 10 && n > 1; i++) {
    usleep(2000);
    n = threads_now();
  }
  return n;
}

static void* work(void* p) {
  pthread_mutex_lock(&a);
  pthread_mutex_unlock(&a);
  usleep(150000);  // a scan or two of the watchdog meanwhile
  return p;
}

static void* ab(void* p) {
  pthread_mutex_lock(&a);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&b);
  return p;
}

static void* ba(void* p) {
  pthread_mutex_lock(&b);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&a);
  return p;
}

static void* take_l(void* p) {
  pthread_mutex_lock(&l);
  return p;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "base";
  if (!strcmp(mode, "orphan")) {
    pthread_t t;
    pthread_create(&t, 0, take_l, 0);
    pthread_join(t, 0);
    printf("orphan: T1 gone\n");
    fflush(stdout);
    pthread_mutex_lock(&l);  // @ORPHAN
    return 1;
  }
  if (!strcmp(mode, "orphan_released")) {
    pthread_t t;
    pthread_create(&t, 0, take_l, 0);
    pthread_join(t, 0);
    pthread_mutex_unlock(&l);
    pthread_create(&t, 0, work, 0);  // a thread exit with nothing orphaned
    pthread_join(t, 0);
    printf("orphan released: threads %d\n", threads_settled());
    return 0;
  }
  for (int round = 0; round < 3; round++) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, work, 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
    int n = threads_settled();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(threads_now());
    int st = 0;
    waitpid(pid, &st, 0);
    printf("round %d: threads %d, child threads %d\n", round, n, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  }
  fflush(stdout);
  if (!strcmp(mode, "deadlock")) {
    pthread_barrier_init(&bar, 0, 2);
    pthread_t t1, t2;
    pthread_create(&t1, 0, ab, 0);
    pthread_create(&t2, 0, ba, 0);
    pthread_join(t1, 0);
    pthread_join(t2, 0);
  }
  puts("done");
  return 0;
}
