// Process-shared locks in shared memory, used by a parent and its forked children at the same time:
// a PTHREAD_PROCESS_SHARED mutex pair (always A->B), a shared rwlock, a shared condition variable
// for a start handshake, and a robust shared mutex that a child dies holding (the parent gets
// EOWNERDEAD). Each process also runs two threads. The counters in shared memory must add up (the
// locks really exclude across processes), nothing may be reported and nothing may hang.
//
// TIMEOUT: 60
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^handshake: 3 children started$
// CHECK-STDOUT: ^counter: 80000 \(expected 80000\)$
// CHECK-STDOUT: ^rw counter: 80000 \(expected 80000\)$
// CHECK-STDOUT: ^children: 3 exited 0$
// CHECK-STDOUT: ^robust: EOWNERDEAD, consistent 0$
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kChildren = 3, kThreads = 2, kIters = 10000 };

struct shared {
  pthread_mutex_t a, b, robust;
  pthread_rwlock_t rw;
  pthread_mutex_t cmu;
  pthread_cond_t cv;
  int started, go;
  long counter, rw_counter;
};
struct shared* sh;

static void* work(void* p) {
  for (int i = 0; i < kIters; i++) {
    pthread_mutex_lock(&sh->a);
    pthread_mutex_lock(&sh->b);
    sh->counter++;
    pthread_mutex_unlock(&sh->b);
    pthread_mutex_unlock(&sh->a);
    pthread_rwlock_wrlock(&sh->rw);
    sh->rw_counter++;
    pthread_rwlock_unlock(&sh->rw);
    pthread_rwlock_rdlock(&sh->rw);
    pthread_rwlock_unlock(&sh->rw);
  }
  return p;
}

static void run_threads(void) {
  pthread_t t[kThreads];
  for (int i = 0; i < kThreads; i++) pthread_create(&t[i], 0, work, 0);
  for (int i = 0; i < kThreads; i++) pthread_join(t[i], 0);
}

int main(void) {
  sh = mmap(0, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) return 2;
  memset(sh, 0, sizeof *sh);
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&sh->a, &ma);
  pthread_mutex_init(&sh->b, &ma);
  pthread_mutex_init(&sh->cmu, &ma);
  pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&sh->robust, &ma);
  pthread_rwlockattr_t ra;
  pthread_rwlockattr_init(&ra);
  pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED);
  pthread_rwlock_init(&sh->rw, &ra);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
  pthread_cond_init(&sh->cv, &ca);

  pid_t kids[kChildren];
  for (int c = 0; c < kChildren; c++) {
    fflush(stdout);
    kids[c] = fork();
    if (kids[c] == 0) {
      pthread_mutex_lock(&sh->cmu);
      sh->started++;
      pthread_cond_broadcast(&sh->cv);
      while (!sh->go) pthread_cond_wait(&sh->cv, &sh->cmu);
      pthread_mutex_unlock(&sh->cmu);
      run_threads();
      _exit(0);
    }
  }
  pthread_mutex_lock(&sh->cmu);
  while (sh->started < kChildren) pthread_cond_wait(&sh->cv, &sh->cmu);
  printf("handshake: %d children started\n", sh->started);
  sh->go = 1;
  pthread_cond_broadcast(&sh->cv);
  pthread_mutex_unlock(&sh->cmu);
  run_threads();
  int ok = 0;
  for (int c = 0; c < kChildren; c++) {
    int st;
    waitpid(kids[c], &st, 0);
    ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  long expect = (long)(kChildren + 1) * kThreads * kIters;
  printf("counter: %ld (expected %ld)\n", sh->counter, expect);
  printf("rw counter: %ld (expected %ld)\n", sh->rw_counter, expect);
  printf("children: %d exited 0\n", ok);

  // A child dies holding the robust shared mutex.
  fflush(stdout);
  pid_t k = fork();
  if (k == 0) {
    pthread_mutex_lock(&sh->robust);
    _exit(0);
  }
  waitpid(k, 0, 0);
  int rc = pthread_mutex_lock(&sh->robust);
  int c = rc == EOWNERDEAD ? pthread_mutex_consistent(&sh->robust) : -1;
  pthread_mutex_unlock(&sh->robust);
  printf("robust: %s, consistent %d\n", rc == EOWNERDEAD ? "EOWNERDEAD" : strerror(rc), c);
  return 0;
}
