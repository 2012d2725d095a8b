// A thread calls exit() while other threads hold locks, wait for locks and make new lock orders
// (the runtime's slow paths are busy). The process must exit promptly with the status given to exit(),
// with no report and no hang -- 40 times over, in child processes (each gets 10 s before it counts
// as hung). Variants: exit while another thread is blocked in a real deadlock (already reported),
// and with verbosity=1 (locksan's exit statistics take its internal locks).
//
// TIMEOUT: 120
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^runs: 40, exit status 7: 40, hung: 0$
//
// VARIANT: verbose
// RUN-OPTIONS: verbosity=1
// CLEAR: EXPECT-NO-STDERR NATIVE-SAME-OUTPUT
// CHECK-NOT: WARNING
// CHECK: ^==\d+==locksan: stats: 
//
// VARIANT: deadlocked
// Two threads of each child deadlock for real (A->B / B->A); a third calls exit(7) 20 ms later, while
// the inversion report is still being printed (symbolising takes longer than that). The report must
// be complete, and the child must exit with locksan's exitcode, 66, not 7: it reported something.
// ARGS: deadlock 66
// CLEAR: EXPECT-NO-STDERR NATIVE-SAME-OUTPUT CHECK-STDOUT
// EXPECT-REPORTS: lock-order-inversion=10 deadlock=*
// CHECK-STDOUT: ^runs: 10, exit status 66: 10, hung: 0$
//
// VARIANT: deadlocked_exitcode0
// The same with exitcode=0: the program's own status, 7, survives.
// ARGS: deadlock 7
// RUN-OPTIONS: exitcode=0
// CLEAR: EXPECT-NO-STDERR NATIVE-SAME-OUTPUT CHECK-STDOUT
// EXPECT-REPORTS: lock-order-inversion=10 deadlock=*
// CHECK-STDOUT: ^runs: 10, exit status 7: 10, hung: 0$
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t held_long = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
pthread_barrier_t bar;

static void* churn(void* p) {
  unsigned seed = (unsigned)(size_t)p;
  for (;;) {
    pthread_mutex_t* m = malloc(4 * sizeof(pthread_mutex_t));
    for (int i = 0; i < 4; i++) pthread_mutex_init(&m[i], 0);
    pthread_mutex_lock(&a);
    for (int i = 0; i < 4; i++) pthread_mutex_lock(&m[i]);
    pthread_rwlock_rdlock(&rw);
    pthread_rwlock_unlock(&rw);
    for (int i = 4; i-- > 0;) pthread_mutex_unlock(&m[i]);
    pthread_mutex_unlock(&a);
    if (rand_r(&seed) & 1) pthread_mutex_destroy(&m[0]);
    free(m);
  }
  return p;
}

static void* holder(void* p) {
  pthread_mutex_lock(&held_long);
  pthread_rwlock_wrlock(&rw);
  usleep(2000);
  pthread_rwlock_unlock(&rw);
  pause();  // holds held_long until the process ends
  return p;
}

static void* waiter(void* p) {
  usleep(1000);
  pthread_mutex_lock(&held_long);  // blocks until the process ends
  return p;
}

static void* t_ab(void* p) {
  pthread_mutex_lock(&a);
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&b);
  return p;
}

static void* t_ba(void* p) {
  pthread_mutex_lock(&b);
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&a);
  return p;
}

static void* exiter(void* p) {
  usleep((useconds_t)(size_t)p);
  exit(7);
}

// Waits until both threads hold their first lock (they then block on the second one and one of them
// reports the inversion: printing a report takes tens of milliseconds, symbolisation included), then
// exits while that report is being written.
static void* exiter_after_barrier(void* p) {
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);
  usleep((useconds_t)(size_t)p);
  exit(7);
}

static void child(int run, int deadlock) {
  pthread_t t;
  if (deadlock) {
    pthread_barrier_init(&bar, 0, 3);
    pthread_create(&t, 0, t_ab, 0);
    pthread_create(&t, 0, t_ba, 0);
    pthread_create(&t, 0, exiter_after_barrier, (void*)(size_t)(getenv("EXIT_DELAY_US") ? atoi(getenv("EXIT_DELAY_US")) : 20000));
  } else {
    pthread_create(&t, 0, holder, 0);
    pthread_create(&t, 0, waiter, 0);
    for (int i = 0; i < 3; i++) pthread_create(&t, 0, churn, (void*)(size_t)(run * 3 + i + 1));
    pthread_create(&t, 0, exiter, (void*)(size_t)(1000 + (run % 10) * 3000));
  }
  pause();
}

static void runs(int n, int deadlock, int want) {
  int good = 0, hung = 0;
  for (int r = 0; r < n; r++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) child(r, deadlock);
    int st = 0, done = 0;
    for (int ms = 0; ms < 10000 && !done; ms += 2) {
      done = waitpid(pid, &st, WNOHANG) == pid;
      if (!done) usleep(2000);
    }
    if (!done) {
      hung++;
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      continue;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == want) good++;
    else if (WIFEXITED(st)) printf("run %d: exit status %d\n", r, WEXITSTATUS(st));
    else printf("run %d: killed by signal %d\n", r, WTERMSIG(st));
  }
  printf("runs: %d, exit status %d: %d, hung: %d\n", n, want, good, hung);
}

int main(int argc, char** argv) {
  if (argc > 2 && !strcmp(argv[1], "deadlock")) {
    runs(10, 1, atoi(argv[2]));
    return 0;
  }
  runs(40, 0, 7);
  return 0;
}
