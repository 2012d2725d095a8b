// Error-checking (and recursive) mutexes: an unlock by a thread that does not own the mutex fails
// with EPERM and changes nothing -- the owner still holds it. locksan must pass the EPERM through and
// must not forget that the owner holds the mutex: T0 holds E, T1's unlock of E fails, T0 (still
// holding E) then takes B, so E->B is an order. T1 later takes B then E: a real inversion (had the
// two run concurrently, T0 holding E waiting for B, T1 holding B waiting for E), to be reported.
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// NATIVE-SAME-OUTPUT
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*rel_errorcheck_eperm\.c:%line(BE) in b_then_e$
// CHECK-STDOUT: ^foreign unlock: EPERM$
// CHECK-STDOUT: ^owner unlock: 0$
// CHECK-STDOUT: ^done$
// ARGS: errorcheck
//
// VARIANT: recursive
// The same with a recursive mutex (glibc also checks the owner there).
// ARGS: recursive
// CLEAR: CHECK
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*rel_errorcheck_eperm\.c:%line(BE) in b_then_e$
//
// VARIANT: no_inversion
// Without T1's B->E the program is clean: the failed unlock alone is not reported
// (report_bad_unlock=0, the default) and nothing else is.
// ARGS: errorcheck no_inversion
// EXPECT-EXIT: 0
// EXPECT-REPORTS: lock-order-inversion=0
// CLEAR: CHECK
// EXPECT-NO-STDERR
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

pthread_mutex_t e;
pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
int do_inversion = 1;

static const char* name(int rc) { return rc == 0 ? "0" : rc == EPERM ? "EPERM" : strerror(rc); }

static void* foreign_unlock(void* p) {
  printf("foreign unlock: %s\n", name(pthread_mutex_unlock(&e)));
  return p;
}

static void* b_then_e(void* p) {
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&e);  // @BE
  pthread_mutex_unlock(&e);
  pthread_mutex_unlock(&b);
  return p;
}

int main(int argc, char** argv) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  int recursive = argc > 1 && strcmp(argv[1], "recursive") == 0;
  pthread_mutexattr_settype(&a, recursive ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init(&e, &a);
  if (argc > 2 && strcmp(argv[2], "no_inversion") == 0) do_inversion = 0;

  pthread_mutex_lock(&e);
  pthread_t t;
  pthread_create(&t, 0, foreign_unlock, 0);
  pthread_join(t, 0);
  // T0 still holds E.
  pthread_mutex_lock(&b);  // edge E->B
  pthread_mutex_unlock(&b);
  printf("owner unlock: %s\n", name(pthread_mutex_unlock(&e)));
  if (do_inversion) {
    pthread_create(&t, 0, b_then_e, 0);
    pthread_join(t, 0);
  }
  puts("done");
  return 0;
}
