// Robust mutexes. When the owner of a robust mutex dies, the next locker gets EOWNERDEAD and holds the
// mutex; it calls pthread_mutex_consistent and goes on. Nothing hangs, so nothing may be reported as
// a deadlock -- also not while the waiter is still blocked and the owner is "exiting".
//
// Phase 1: T1 locks R and exits; main locks R -> EOWNERDEAD, consistent, unlock, lock again -> 0.
// Phase 2: main blocks on R2 while T2 holds it; T2 exits holding R2, but its exit takes a while: a
//   pthread key destructor of the program (created after locksan's, so it runs after locksan's
//   thread-exit hook) sleeps 1.5 s. Until the kernel hands R2 to main with EOWNERDEAD, main is
//   blocked on a robust mutex whose owner is exiting: not a deadlock (the watchdog runs every 100 ms).
// Phase 3: R3 is recovered by main, then main and a worker use R3 with another lock in one order: no
//   report, and the worker's blocking wait on R3 (held by main for 0.5 s) is no deadlock either.
// Phase 4: RP, robust and process-shared, is recovered the same way (a thread died holding it); then
//   a child process holds RP for 1 s while main waits for it. The holder is alive (in another
//   process, which locksan cannot see): main's wait is no deadlock -- in particular the thread that
//   once died holding RP is not its holder any more.
//
// RUN-OPTIONS: watchdog_interval_ms=100
// TIMEOUT: 20
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^phase 1: EOWNERDEAD, consistent 0, unlock 0, relock 0$
// CHECK-STDOUT: ^phase 2: EOWNERDEAD, consistent 0$
// CHECK-STDOUT: ^phase 3: 0$
// CHECK-STDOUT: ^phase 4: EOWNERDEAD, then 0 after the child's 1 s hold, child exit 0$
// CHECK-STDOUT: ^done$
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

pthread_mutex_t r, r2, r3;
pthread_mutex_t other = PTHREAD_MUTEX_INITIALIZER;
pthread_key_t slow_key;
pthread_barrier_t bar;

static const char* name(int rc) { return rc == 0 ? "0" : rc == EOWNERDEAD ? "EOWNERDEAD" : strerror(rc); }

static void init_robust_ex(pthread_mutex_t* m, int pshared) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  if (pshared) pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
}

static void init_robust(pthread_mutex_t* m) { init_robust_ex(m, 0); }

static void slow_exit(void* p) {
  (void)p;
  usleep(1500 * 1000);
}

static void* die_holding(void* p) {
  pthread_mutex_lock((pthread_mutex_t*)p);
  return NULL;  // exits without unlocking
}

static void* die_holding_slowly(void* p) {
  pthread_setspecific(slow_key, (void*)1);
  pthread_mutex_lock((pthread_mutex_t*)p);
  pthread_barrier_wait(&bar);
  usleep(300 * 1000);  // main is blocked on the mutex by now
  return NULL;
}

static void* worker(void* p) {
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&r3);  // blocks while main holds r3
  pthread_mutex_lock(&other);
  pthread_mutex_unlock(&other);
  pthread_mutex_unlock(&r3);
  return p;
}

int main(void) {
  pthread_key_create(&slow_key, slow_exit);
  pthread_barrier_init(&bar, 0, 2);
  init_robust(&r);
  init_robust(&r2);
  init_robust(&r3);

  // Phase 1.
  pthread_t t;
  pthread_create(&t, 0, die_holding, &r);
  pthread_join(t, 0);
  int rc = pthread_mutex_lock(&r);
  int c = rc == EOWNERDEAD ? pthread_mutex_consistent(&r) : -1;
  int u = pthread_mutex_unlock(&r);
  int l = pthread_mutex_lock(&r);
  pthread_mutex_unlock(&r);
  printf("phase 1: %s, consistent %d, unlock %d, relock %s\n", name(rc), c, u, name(l));

  // Phase 2.
  pthread_create(&t, 0, die_holding_slowly, &r2);
  pthread_barrier_wait(&bar);
  rc = pthread_mutex_lock(&r2);  // blocks until T2 is gone
  c = rc == EOWNERDEAD ? pthread_mutex_consistent(&r2) : -1;
  pthread_mutex_unlock(&r2);
  pthread_join(t, 0);
  printf("phase 2: %s, consistent %d\n", name(rc), c);

  // Phase 3.
  pthread_create(&t, 0, die_holding, &r3);
  pthread_join(t, 0);
  rc = pthread_mutex_lock(&r3);
  if (rc == EOWNERDEAD) pthread_mutex_consistent(&r3);
  pthread_mutex_unlock(&r3);
  pthread_mutex_lock(&r3);
  pthread_create(&t, 0, worker, 0);
  pthread_barrier_wait(&bar);
  usleep(500 * 1000);
  pthread_mutex_lock(&other);
  pthread_mutex_unlock(&other);
  pthread_mutex_unlock(&r3);
  pthread_join(t, 0);
  printf("phase 3: %s\n", name(pthread_mutex_lock(&r3)));
  pthread_mutex_unlock(&r3);

  // Phase 4.
  struct { pthread_mutex_t m; volatile int held; } *shm =
      mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  init_robust_ex(&shm->m, 1);
  pthread_create(&t, 0, die_holding, &shm->m);
  pthread_join(t, 0);
  int rc4 = pthread_mutex_lock(&shm->m);
  if (rc4 == EOWNERDEAD) pthread_mutex_consistent(&shm->m);
  pthread_mutex_unlock(&shm->m);
  fflush(stdout);
  pid_t kid = fork();
  if (kid == 0) {
    pthread_mutex_lock(&shm->m);
    shm->held = 1;
    usleep(1000 * 1000);
    pthread_mutex_unlock(&shm->m);
    _exit(0);
  }
  while (!shm->held) usleep(1000);
  rc = pthread_mutex_lock(&shm->m);  // blocks ~1 s: the child holds it
  pthread_mutex_unlock(&shm->m);
  int st = -1;
  waitpid(kid, &st, 0);
  printf("phase 4: %s, then %s after the child's 1 s hold, child exit %d\n", name(rc4), name(rc),
         WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  puts("done");
  return 0;
}
