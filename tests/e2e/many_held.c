// More locks held at once than TSan's limit of 64: 65, 200 and 1000 held by one thread, released in
// reverse order and (for 1000) in acquisition order, by two threads one after the other. Works, no
// crash, no report.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^held 65 ok$
// CHECK-STDOUT: ^held 200 ok$
// CHECK-STDOUT: ^held 1000 ok$
// CHECK-STDOUT: ^held 1000 fifo ok$
//
// VARIANT: inversion_deep
// With 1000 held, an inversion between the 70th and 71st lock is still found: T1 holds all 1000 in
// order; T2 then takes lock 70 and, holding it, lock 69: exactly one report, on a two-lock cycle.
// ARGS: inv
// CLEAR: EXPECT-NO-STDERR
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^  Cycle in lock order graph: (M\d+) \(0x[0-9a-f]+\) => (M\d+) \(0x[0-9a-f]+\) => \1$
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*many_held\.c:%line(INV)\b
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define N 1000
pthread_mutex_t locks[N];
int inv;

static int hold(int n, int fifo) {
  int ok = 1;
  for (int i = 0; i < n; i++) ok &= pthread_mutex_lock(&locks[i]) == 0;
  if (fifo) {
    for (int i = 0; i < n; i++) ok &= pthread_mutex_unlock(&locks[i]) == 0;
  } else {
    for (int i = n; i-- > 0;) ok &= pthread_mutex_unlock(&locks[i]) == 0;
  }
  return ok;
}

static void* worker(void* p) {
  int print = p != 0;
  int r1 = hold(65, 0), r2 = hold(200, 0), r3 = hold(N, 0), r4 = hold(N, 1);
  if (print) {
    printf("held 65 %s\n", r1 ? "ok" : "FAILED");
    printf("held 200 %s\n", r2 ? "ok" : "FAILED");
    printf("held 1000 %s\n", r3 ? "ok" : "FAILED");
    printf("held 1000 fifo %s\n", r4 ? "ok" : "FAILED");
  }
  return 0;
}

static void* inverted(void* p) {
  pthread_mutex_lock(&locks[70]);
  pthread_mutex_lock(&locks[69]);  // @INV
  pthread_mutex_unlock(&locks[69]);
  pthread_mutex_unlock(&locks[70]);
  return p;
}

int main(int argc, char** argv) {
  inv = argc > 1 && !strcmp(argv[1], "inv");
  for (int i = 0; i < N; i++) pthread_mutex_init(&locks[i], 0);
  pthread_t t;
  pthread_create(&t, 0, worker, (void*)1);
  pthread_join(t, 0);
  pthread_create(&t, 0, inv ? inverted : worker, 0);
  pthread_join(t, 0);
  puts("done");
  return 0;
}
