// Timed acquisitions can block, so they make edges like blocking ones: ABBA where the second lock of
// each order is taken with pthread_mutex_timedlock (base) or pthread_mutex_clocklock is reported.
// The two orders run one after the other (no deadlock, no timeout).
//
// ARGS: timed
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// NATIVE-SAME-OUTPUT
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T1 
// CHECK: ^    #0 lock_pair .*timedlock\.c:%line(SECOND) 
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*timedlock\.c:%line(SECOND) in lock_pair$
// CHECK-STDOUT: ^rc=0 rc=0$
//
// VARIANT: clock
// ARGS: clock
//
// VARIANT: rwlock_timed
// The same with pthread_rwlock_timedwrlock / pthread_rwlock_clockwrlock.
// ARGS: rw_timed
// CLEAR: CHECK
// CHECK: ^  RWLock RW\d+ acquired here while holding rwlock RW\d+, in thread T1 
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*timedlock\.c:%line(RW_SECOND) in rw_pair$
//
// VARIANT: rwlock_clock
// ARGS: rw_clock
// CLEAR: CHECK
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*timedlock\.c:%line(RW_SECOND) in rw_pair$
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t ra = PTHREAD_RWLOCK_INITIALIZER, rb = PTHREAD_RWLOCK_INITIALIZER;
const char* mode;
static int rc1, rc2;

static struct timespec deadline(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  ts.tv_sec += 10;
  return ts;
}

__attribute__((noinline)) static int lock_pair(pthread_mutex_t* x, pthread_mutex_t* y) {
  struct timespec rt = deadline(CLOCK_REALTIME), mono = deadline(CLOCK_MONOTONIC);
  int clk = !strcmp(mode, "clock"), r;
  r = clk ? pthread_mutex_clocklock(x, CLOCK_MONOTONIC, &mono) : pthread_mutex_timedlock(x, &rt);
  r |= clk ? pthread_mutex_clocklock(y, CLOCK_MONOTONIC, &mono) : pthread_mutex_timedlock(y, &rt);  // @SECOND
  pthread_mutex_unlock(y);
  pthread_mutex_unlock(x);
  return r;
}

__attribute__((noinline)) static int rw_pair(pthread_rwlock_t* x, pthread_rwlock_t* y) {
  struct timespec rt = deadline(CLOCK_REALTIME), mono = deadline(CLOCK_MONOTONIC);
  int clk = !strcmp(mode, "rw_clock"), r;
  r = clk ? pthread_rwlock_clockwrlock(x, CLOCK_MONOTONIC, &mono) : pthread_rwlock_timedwrlock(x, &rt);
  r |= clk ? pthread_rwlock_clockwrlock(y, CLOCK_MONOTONIC, &mono) : pthread_rwlock_timedwrlock(y, &rt);  // @RW_SECOND
  pthread_rwlock_unlock(y);
  pthread_rwlock_unlock(x);
  return r;
}

static void* ba(void* p) {
  if (!strncmp(mode, "rw_", 3))
    rc2 = rw_pair(&rb, &ra);
  else
    rc2 = lock_pair(&b, &a);
  return p;
}

int main(int argc, char** argv) {
  mode = argc > 1 ? argv[1] : "timed";
  if (!strncmp(mode, "rw_", 3))
    rc1 = rw_pair(&ra, &rb);
  else
    rc1 = lock_pair(&a, &b);
  pthread_t t;
  pthread_create(&t, 0, ba, 0);
  pthread_join(t, 0);
  printf("rc=%d rc=%d\n", rc1, rc2);
  return 0;
}
