// Gate lock: T1 takes G, A, B and T2 takes G, B, A. Both orders are made while holding G, which
// serialises them: they cannot deadlock. Not reported by default; reported with report_gate_locks=1.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
//
// VARIANT: report_gate_locks
// RUN-OPTIONS: report_gate_locks=1
// CLEAR: EXPECT-NO-STDERR
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^  Cycle in lock order graph: (M\d+) \(0x[0-9a-f]+\) => (M\d+) \(0x[0-9a-f]+\) => \1$
// CHECK: ^  Every edge of this cycle was made while holding M\d+ \(a gate lock taken by several threads\): it cannot deadlock while that lock serialises these paths \(reported because report_gate_locks=1\)\.$
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*gate_lock\.c:%line(T2_A) in t2$
//
// VARIANT: gate_not_common
// Positive control: T2 takes B->A under a *different* gate H: no common gate, reported by default.
// ARGS: other_gate
// CLEAR: EXPECT-NO-STDERR
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK-NOT: a gate lock
#include <pthread.h>
#include <stdio.h>
#include <string.h>

pthread_mutex_t g = PTHREAD_MUTEX_INITIALIZER, h = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
const char* mode;

static void* t1(void* p) {
  pthread_mutex_lock(&g);
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&b);
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&g);
  return p;
}

static void* t2(void* p) {
  pthread_mutex_t* gate = !strcmp(mode, "other_gate") ? &h : &g;
  pthread_mutex_lock(gate);
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);  // @T2_A
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(gate);
  return p;
}

int main(int argc, char** argv) {
  mode = argc > 1 ? argv[1] : "";
  void* (*fns[2])(void*) = {t1, t2};
  for (int i = 0; i < 2; i++) {
    pthread_t t;
    pthread_create(&t, 0, fns[i], 0);
    pthread_join(t, 0);
  }
  puts("done");
  return 0;
}
