// dl_iterate_phdr holds the dynamic loader's lock while it runs its callback. A program thread inside
// such a callback that waits for another thread must not be made to hang by locksan:
//  - create: T1's callback waits until main has created a thread (pthread_create used to look for a
//    newly loaded libcuda with dl_iterate_phdr: it waited for T1's loader lock, and T1 for it);
//  - abba: a real ABBA whose first half runs inside a callback (locksan's unwinder needs the loader
//    lock: an unwind lock held by the other thread while it waited for the loader lock made locksan
//    hang before the report). The inversion is reported; the program then hangs for real.
// locksan interposes dl_iterate_phdr and, while a program thread is inside it, captures stacks with
// libgcc (_dl_find_object, no loader lock), defers the libcuda look-up and symbolises with dladdr
// (docs/design.md, "dl_iterate_phdr").
//
// ARGS: create
// EXPECT-REPORTS: lock-order-inversion=0
// EXPECT-NO-STDERR
// NATIVE-SAME-OUTPUT
// TIMEOUT: 20
// CHECK-STDOUT: ^create: done$
//
// VARIANT: abba
// ARGS: abba
// CLEAR: EXPECT-NO-STDERR NATIVE-SAME-OUTPUT CHECK-STDOUT EXPECT-REPORTS TIMEOUT
// KILL-AFTER: 6
// RUN-OPTIONS: watchdog_interval_ms=200
// EXPECT-REPORTS: lock-order-inversion=1 deadlock=1
// CHECK: ^==%pid==WARNING: locksan: lock-order-inversion
// CHECK: ^==%pid==WARNING: locksan: deadlock
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int inside, created;

static int wait_for_create(struct dl_phdr_info* info, size_t size, void* data) {
  (void)info; (void)size; (void)data;
  pthread_mutex_lock(&mu);
  inside = 1;
  pthread_cond_broadcast(&cv);
  while (!created) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  return 1;  // stop after the first object
}
static void* iterate(void* p) {
  dl_iterate_phdr(wait_for_create, 0);
  return p;
}
static void* nothing(void* p) { return p; }

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold, start;
static int ab_in_callback(struct dl_phdr_info* info, size_t size, void* data) {
  (void)info; (void)size; (void)data;
  pthread_mutex_lock(&a);
  pthread_barrier_wait(&both_hold);
  pthread_mutex_lock(&b);  // BLOCK
  return 1;
}
static void* t_ab(void* p) {
  pthread_barrier_wait(&start);
  dl_iterate_phdr(ab_in_callback, 0);
  return p;
}
static void* t_ba(void* p) {
  pthread_barrier_wait(&start);
  pthread_mutex_lock(&b);
  pthread_barrier_wait(&both_hold);
  pthread_mutex_lock(&a);
  return p;
}

int main(int argc, char** argv) {
  if (argc > 1 && !strcmp(argv[1], "abba")) {
    pthread_barrier_init(&both_hold, 0, 2);
    pthread_barrier_init(&start, 0, 2);
    pthread_t x, y;
    pthread_create(&x, 0, t_ab, 0);
    pthread_create(&y, 0, t_ba, 0);
    pthread_join(x, 0);
    return 1;  // not reached: the threads deadlock
  }
  pthread_t t, u;
  pthread_create(&t, 0, iterate, 0);
  pthread_mutex_lock(&mu);
  while (!inside) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  pthread_create(&u, 0, nothing, 0);  // T1 holds the loader lock meanwhile
  pthread_mutex_lock(&mu);
  created = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(u, 0);
  pthread_join(t, 0);
  printf("create: done\n");
  return 0;
}
