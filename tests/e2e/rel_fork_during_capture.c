// fork() while other threads are capturing stacks. Three workers keep creating fresh heap mutexes and
// nesting them (every lock is new: a first-use stack; every pair is a new edge: the acquisition's
// stack), so an unwind is in progress on some thread at almost any moment. A fourth thread forks 20
// times; fork preparation must wait for those unwinds (the unwinder's internal locks must not be
// inherited held) without ever hanging. Each child takes A->B and then B->A on one thread and must
// report the inversion with full stacks (the child's unwinder works; #1 child_main appears in the
// acquiring and in the rebuilt "previously acquired" stack of B->A), then exit 66; the parent checks
// every child and reports nothing itself.
//
// TIMEOUT: 60
// EXPECT-REPORTS: lock-order-inversion=20
// CHECK-COUNT: 20 ^    #0 child_ba .*rel_fork_during_capture\.c:%line(BA_A) 
// CHECK-COUNT: 20 ^    #0 child_ab .*rel_fork_during_capture\.c:%line(AB_B) 
// CHECK-COUNT: 40 ^    #1 child_main .*rel_fork_during_capture\.c:%line(CALL_BA) 
// CHECK-STDOUT: ^children exit 66: 20/20$
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;

__attribute__((noinline)) static void nest_fresh(void) {
  pthread_mutex_t* m = malloc(2 * sizeof *m);
  pthread_mutex_init(&m[0], 0);
  pthread_mutex_init(&m[1], 0);
  pthread_mutex_lock(&m[0]);
  pthread_mutex_lock(&m[1]);
  pthread_mutex_unlock(&m[1]);
  pthread_mutex_unlock(&m[0]);
  pthread_mutex_destroy(&m[1]);
  pthread_mutex_destroy(&m[0]);
  free(m);
}

static void* worker(void* p) {
  while (!stop) nest_fresh();
  return p;
}

__attribute__((noinline)) static void child_ab(void) {
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&b);  // @AB_B
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
}

__attribute__((noinline)) static void child_ba(void) {
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);  // @BA_A
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
}

__attribute__((noinline)) static int child_main(void) {
  child_ab();
  child_ba();  // @CALL_BA
  return 0;
}

static void* forker(void* p) {
  int ok = 0;
  for (int i = 0; i < 20; i++) {
    usleep(2000);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) exit(child_main());
    int st = 0, done = 0;
    for (int ms = 0; ms < 20000 && !done; ms++) {
      done = waitpid(pid, &st, WNOHANG) == pid;
      if (!done) usleep(1000);
    }
    if (!done) {
      printf("child %d hung: killed\n", (int)pid);
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      break;
    }
    ok += WIFEXITED(st) && WEXITSTATUS(st) == 66;
  }
  printf("children exit 66: %d/20\n", ok);
  return p;
}

int main(void) {
  pthread_t w[3], f;
  for (int i = 0; i < 3; i++) pthread_create(&w[i], 0, worker, 0);
  pthread_create(&f, 0, forker, 0);
  pthread_join(f, 0);
  stop = 1;
  for (int i = 0; i < 3; i++) pthread_join(w[i], 0);
  return 0;
}
