// pthread_cancel of threads blocked in locking calls, with cleanup handlers that unlock.
//  1. T1 waits in pthread_cond_wait (a cancellation point) holding an outer lock O; it is cancelled:
//     glibc re-acquires the condvar's mutex M, the cleanup handlers unlock M and then O.
//  2. T2 blocks in pthread_mutex_lock(M) (not a cancellation point) with cancellation pending; when
//     main unlocks M, T2 gets it, reaches pthread_testcancel and its cleanup handler unlocks M.
//  3. T3 waits in sem_wait on a binary semaphore (a cancellation point, and a lock to locksan) and is
//     cancelled there.
// Afterwards the program keeps using O, M and the semaphore from several threads in one consistent
// order, and a watchdog runs (100 ms): no report, nothing hangs, exit 0. The positive control adds a
// real inversion (M->O) after the cancellations, which must still be reported.
//
// RUN-OPTIONS: watchdog_interval_ms=100
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^cond_wait cancelled: yes$
// CHECK-STDOUT: ^mutex_lock cancelled: yes$
// CHECK-STDOUT: ^sem_wait cancelled: yes$
// CHECK-STDOUT: ^after: ok$
//
// VARIANT: control
// ARGS: invert
// CLEAR: EXPECT-NO-STDERR NATIVE-SAME-OUTPUT
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*rel_cancel\.c:%line(MO) in main$
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

pthread_mutex_t o = PTHREAD_MUTEX_INITIALIZER, m = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
sem_t sem;
volatile int ready;

static void unlock_cleanup(void* p) { pthread_mutex_unlock((pthread_mutex_t*)p); }

static void* cond_waiter(void* p) {
  pthread_mutex_lock(&o);
  pthread_cleanup_push(unlock_cleanup, &o);
  pthread_mutex_lock(&m);
  pthread_cleanup_push(unlock_cleanup, &m);
  ready = 1;
  for (;;) pthread_cond_wait(&cv, &m);  // cancelled here
  pthread_cleanup_pop(1);
  pthread_cleanup_pop(1);
  return p;
}

static void* mutex_waiter(void* p) {
  pthread_mutex_lock(&o);
  pthread_cleanup_push(unlock_cleanup, &o);
  ready = 1;
  pthread_mutex_lock(&m);  // blocks; cancellation is pending when it returns
  pthread_cleanup_push(unlock_cleanup, &m);
  pthread_testcancel();
  pthread_cleanup_pop(1);
  pthread_cleanup_pop(1);
  return p;
}

static void sem_cleanup(void* p) { (void)p; }

static void* sem_waiter(void* p) {
  pthread_mutex_lock(&o);
  pthread_cleanup_push(unlock_cleanup, &o);
  pthread_cleanup_push(sem_cleanup, 0);
  ready = 1;
  sem_wait(&sem);  // the semaphore is taken by main: blocks, cancelled here
  pthread_cleanup_pop(0);
  pthread_cleanup_pop(1);
  return p;
}

static void wait_ready(void) {
  while (!ready) usleep(1000);
  ready = 0;
  usleep(100 * 1000);  // let it block
}

static void* user(void* p) {
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&o);
    pthread_mutex_lock(&m);
    sem_wait(&sem);
    sem_post(&sem);
    pthread_mutex_unlock(&m);
    pthread_mutex_unlock(&o);
  }
  return p;
}

int main(int argc, char** argv) {
  sem_init(&sem, 0, 1);
  pthread_t t;
  void* res;

  pthread_create(&t, 0, cond_waiter, 0);
  wait_ready();
  pthread_cancel(t);
  pthread_join(t, &res);
  printf("cond_wait cancelled: %s\n", res == PTHREAD_CANCELED ? "yes" : "no");

  pthread_mutex_lock(&m);
  pthread_create(&t, 0, mutex_waiter, 0);
  wait_ready();
  pthread_cancel(t);
  usleep(100 * 1000);
  pthread_mutex_unlock(&m);
  pthread_join(t, &res);
  printf("mutex_lock cancelled: %s\n", res == PTHREAD_CANCELED ? "yes" : "no");

  sem_wait(&sem);
  pthread_create(&t, 0, sem_waiter, 0);
  wait_ready();
  pthread_cancel(t);
  pthread_join(t, &res);
  sem_post(&sem);
  printf("sem_wait cancelled: %s\n", res == PTHREAD_CANCELED ? "yes" : "no");

  // Everything is free and usable; several threads in one order, with contention (the watchdog
  // sees short waits only).
  pthread_t u[3];
  for (int i = 0; i < 3; i++) pthread_create(&u[i], 0, user, 0);
  for (int i = 0; i < 3; i++) pthread_join(u[i], 0);
  usleep(300 * 1000);
  int ok = pthread_mutex_trylock(&o) == 0 && pthread_mutex_trylock(&m) == 0;
  pthread_mutex_unlock(&m);
  pthread_mutex_unlock(&o);
  if (argc > 1 && !strcmp(argv[1], "invert")) {
    pthread_mutex_lock(&m);
    pthread_mutex_lock(&o);  // @MO
    pthread_mutex_unlock(&o);
    pthread_mutex_unlock(&m);
  }
  printf("after: %s\n", ok ? "ok" : "locks still held");
  return 0;
}
