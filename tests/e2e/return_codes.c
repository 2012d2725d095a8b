// Return codes pass through unchanged, and a failed acquisition is not recorded as held.
// main holds B (and holds RW for writing, and spin lock S) while T1 tries them:
//   pthread_mutex_trylock(B) -> EBUSY; pthread_mutex_timedlock(B, +50 ms) -> ETIMEDOUT;
//   pthread_rwlock_tryrdlock / trywrlock(RW) -> EBUSY; pthread_rwlock_timedwrlock(RW) -> ETIMEDOUT;
//   pthread_spin_trylock(S) -> EBUSY.
// After each failure T1 takes C (resp. D, E), nothing else held. Had a failed call been recorded as
// an acquisition, T1 would hold B / RW / S while taking C / D / E (edges B->C, RW->D, S->E); T2's
// later C->B, D->RW, E->S would then be reported. Correct: no report, exit 0.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^mutex_trylock: EBUSY$
// CHECK-STDOUT: ^mutex_timedlock: ETIMEDOUT$
// CHECK-STDOUT: ^rwlock_tryrdlock: EBUSY$
// CHECK-STDOUT: ^rwlock_trywrlock: EBUSY$
// CHECK-STDOUT: ^rwlock_timedwrlock: ETIMEDOUT$
// CHECK-STDOUT: ^rwlock_timedrdlock: ETIMEDOUT$
// CHECK-STDOUT: ^spin_trylock: EBUSY$
// CHECK-STDOUT: ^unlock not owned: EPERM$
// CHECK-STDOUT: ^held after failures: 0 extra$
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

pthread_mutex_t b = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
pthread_mutex_t c = PTHREAD_MUTEX_INITIALIZER, d = PTHREAD_MUTEX_INITIALIZER, e = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
pthread_spinlock_t s;
pthread_barrier_t bar;

static const char* name(int rc) {
  switch (rc) {
    case 0: return "0";
    case EBUSY: return "EBUSY";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EPERM: return "EPERM";
    case EDEADLK: return "EDEADLK";
    default: return "other";
  }
}

static struct timespec soon(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 50 * 1000000;
  if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
  return ts;
}

static void take(pthread_mutex_t* m) {
  pthread_mutex_lock(m);
  pthread_mutex_unlock(m);
}

static void* t1(void* p) {
  pthread_barrier_wait(&bar);  // main holds B, RW (write) and S now
  printf("mutex_trylock: %s\n", name(pthread_mutex_trylock(&b)));
  take(&c);
  struct timespec ts = soon();
  printf("mutex_timedlock: %s\n", name(pthread_mutex_timedlock(&b, &ts)));
  take(&c);
  printf("rwlock_tryrdlock: %s\n", name(pthread_rwlock_tryrdlock(&rw)));
  take(&d);
  printf("rwlock_trywrlock: %s\n", name(pthread_rwlock_trywrlock(&rw)));
  take(&d);
  ts = soon();
  printf("rwlock_timedwrlock: %s\n", name(pthread_rwlock_timedwrlock(&rw, &ts)));
  take(&d);
  ts = soon();
  printf("rwlock_timedrdlock: %s\n", name(pthread_rwlock_timedrdlock(&rw, &ts)));
  take(&d);
  printf("spin_trylock: %s\n", name(pthread_spin_trylock(&s)));
  take(&e);
  printf("unlock not owned: %s\n", name(pthread_mutex_unlock(&b)));
  // If any failure had been recorded, T1 would still "hold" it: a lock taken now would get an edge
  // from it, and a trylock of C (free) would succeed either way.
  printf("held after failures: %s extra\n", pthread_mutex_trylock(&c) == 0 ? "0" : "?");
  pthread_mutex_unlock(&c);
  pthread_barrier_wait(&bar);
  return p;
}

static void* t2(void* p) {
  pthread_mutex_lock(&c);
  pthread_mutex_lock(&b);
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&c);
  pthread_mutex_lock(&d);
  pthread_rwlock_wrlock(&rw);
  pthread_rwlock_unlock(&rw);
  pthread_mutex_unlock(&d);
  pthread_mutex_lock(&e);
  pthread_spin_lock(&s);
  pthread_spin_unlock(&s);
  pthread_mutex_unlock(&e);
  return p;
}

int main(void) {
  pthread_spin_init(&s, 0);
  pthread_barrier_init(&bar, 0, 2);
  pthread_t t;
  pthread_create(&t, 0, t1, 0);
  pthread_mutex_lock(&b);
  pthread_rwlock_wrlock(&rw);
  pthread_spin_lock(&s);
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);
  pthread_spin_unlock(&s);
  pthread_rwlock_unlock(&rw);
  pthread_mutex_unlock(&b);
  pthread_join(t, 0);
  pthread_create(&t, 0, t2, 0);
  pthread_join(t, 0);
  puts("done");
  return 0;
}
