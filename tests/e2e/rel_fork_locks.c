// fork() from a secondary thread while other threads hold locks, wait for locks and read-lock a
// rwlock, with the program's own pthread_atfork handlers that take its locks around the fork (the
// classic way to keep a library consistent across fork): prepare locks P1 then P2, the parent and
// child handlers unlock them. In the child, only the forking thread exists:
//  - it re-initialises H (held by a thread that does not exist in the child) and uses it;
//  - it locks/unlocks the program's locks in the usual order, P1/P2 again, and the rwlock for writing
//    (the parent's readers are gone: re-initialised first);
//  - it creates threads that do the same and a condvar handshake;
//  - it exits 0, with no report. 50 forks; the parent checks every child.
// The positive control makes each child also take P2->P1 (an inversion against the atfork order):
// each child reports it and exits 66; the parent still reports nothing (10 forks: reports are slow).
//
// TIMEOUT: 60
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^children ok: 50/50$
//
// VARIANT: control
// ARGS: invert
// CLEAR: EXPECT-NO-STDERR NATIVE-SAME-OUTPUT CHECK-STDOUT
// EXPECT-REPORTS: lock-order-inversion=10
// CHECK-NOT: ^==%pid==WARNING
// CHECK-STDOUT: ^children exit 66: 10/10$
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t p1 = PTHREAD_MUTEX_INITIALIZER, p2 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t h = PTHREAD_MUTEX_INITIALIZER;  // held by T1 across all forks
pthread_mutex_t w = PTHREAD_MUTEX_INITIALIZER;  // held by T1, T2 blocks on it
pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
pthread_barrier_t bar;
volatile int stop;
int invert, flag;

static void prepare(void) {
  pthread_mutex_lock(&p1);
  pthread_mutex_lock(&p2);
}
static void release(void) {
  pthread_mutex_unlock(&p2);
  pthread_mutex_unlock(&p1);
}

static void* holder(void* p) {
  pthread_mutex_lock(&h);
  pthread_mutex_lock(&w);
  pthread_barrier_wait(&bar);
  while (!stop) usleep(1000);
  pthread_mutex_unlock(&w);
  pthread_mutex_unlock(&h);
  return p;
}

static void* blocked(void* p) {
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&w);  // blocks while the forks happen
  pthread_mutex_unlock(&w);
  return p;
}

static void* reader(void* p) {
  while (!stop) {
    pthread_rwlock_rdlock(&rw);
    pthread_mutex_lock(&p1);
    pthread_mutex_lock(&p2);
    pthread_mutex_unlock(&p2);
    pthread_mutex_unlock(&p1);
    pthread_rwlock_unlock(&rw);
  }
  return p;
}

static void* child_thread(void* p) {
  pthread_mutex_lock(&h);
  pthread_mutex_lock(&p1);
  pthread_mutex_lock(&p2);
  pthread_mutex_unlock(&p2);
  pthread_mutex_unlock(&p1);
  pthread_mutex_unlock(&h);
  pthread_mutex_lock(&cmu);
  flag = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&cmu);
  return p;
}

static int child(void) {
  pthread_mutex_init(&h, 0);  // its holder does not exist here
  pthread_mutex_init(&w, 0);
  pthread_rwlock_init(&rw, 0);
  for (int i = 0; i < 10; i++) {
    pthread_mutex_lock(&h);
    pthread_rwlock_wrlock(&rw);
    pthread_mutex_lock(&p1);
    pthread_mutex_lock(&p2);
    pthread_mutex_unlock(&p2);
    pthread_mutex_unlock(&p1);
    pthread_rwlock_unlock(&rw);
    pthread_mutex_unlock(&h);
  }
  pthread_t t;
  if (pthread_create(&t, 0, child_thread, 0) != 0) return 2;
  pthread_mutex_lock(&cmu);
  while (!flag) pthread_cond_wait(&cv, &cmu);
  pthread_mutex_unlock(&cmu);
  pthread_join(t, 0);
  if (invert) {
    pthread_mutex_lock(&p2);
    pthread_mutex_lock(&p1);
    pthread_mutex_unlock(&p1);
    pthread_mutex_unlock(&p2);
  }
  return 0;
}

static void* forker(void* p) {
  int want = invert ? 66 : 0, ok = 0, n = invert ? 10 : 50;
  for (int i = 0; i < n; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) exit(child());
    int st = 0, done = 0;
    for (int ms = 0; ms < 10000 && !done; ms++) {
      done = waitpid(pid, &st, WNOHANG) == pid;
      if (!done) usleep(1000);
    }
    if (!done) {
      printf("child %d hung: killed\n", (int)pid);
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      break;
    }
    ok += WIFEXITED(st) && WEXITSTATUS(st) == want;
  }
  if (invert) printf("children exit 66: %d/%d\n", ok, n);
  else printf("children ok: %d/%d\n", ok, n);
  return p;
}

int main(int argc, char** argv) {
  invert = argc > 1 && !strcmp(argv[1], "invert");
  pthread_atfork(prepare, release, release);
  pthread_barrier_init(&bar, 0, 3);
  pthread_t t[4];
  pthread_create(&t[0], 0, holder, 0);
  pthread_create(&t[1], 0, blocked, 0);
  pthread_create(&t[2], 0, reader, 0);
  pthread_barrier_wait(&bar);
  usleep(10000);
  pthread_create(&t[3], 0, forker, 0);
  pthread_join(t[3], 0);
  stop = 1;
  for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
  return 0;
}
