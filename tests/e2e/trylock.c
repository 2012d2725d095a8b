// trylock adds no edge *into* the tried lock, but edges *out of* a trylock-held lock count.
//
// base ("into"): T1 holds A and try-locks B (succeeds); T2 later holds B and blocks on A. The only
// edge is B->A: no report.
// ARGS: into
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^trylock B: 0$
//
// VARIANT: out_of
// T1 takes A with trylock (nothing else held), then blocks on B: edge A->B. T2 takes B then A: the
// cycle is reported.
// ARGS: out_of
// CLEAR: EXPECT-NO-STDERR CHECK-STDOUT
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK-STDOUT: ^trylock A: 0$
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T2 
// CHECK: ^    #0 t2 .*trylock\.c:%line(T2_A) 
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T1 
// CHECK: ^    #0 t1_out_of .*trylock\.c:%line(OUT_B) 
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here( \(.*\))?:\n    #0 t1_out_of .*trylock\.c:%line(OUT_TRY_A) 
//
// VARIANT: out_of_nested
// T1 holds X (blocking), try-locks A, then blocks on B: edges X->B and A->B (lockdep: from the most
// recent non-try lock and every trylock-taken lock above it). T2 B->A is still reported.
// ARGS: out_of_nested
// CLEAR: EXPECT-NO-STDERR CHECK-STDOUT
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^    #0 t1_out_of_nested .*trylock\.c:%line(NESTED_B) 
//
// VARIANT: try_both
// Both orders taken with trylock only (A then try B; B then try A): no report.
// ARGS: try_both
// CLEAR: CHECK-STDOUT
#include <pthread.h>
#include <stdio.h>
#include <string.h>

pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER, x = PTHREAD_MUTEX_INITIALIZER;

static void* t1_into(void* p) {
  pthread_mutex_lock(&a);
  printf("trylock B: %d\n", pthread_mutex_trylock(&b));
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
  return p;
}

static void* t1_out_of(void* p) {
  printf("trylock A: %d\n", pthread_mutex_trylock(&a));  // @OUT_TRY_A
  pthread_mutex_lock(&b);  // @OUT_B
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
  return p;
}

static void* t1_out_of_nested(void* p) {
  pthread_mutex_lock(&x);
  printf("trylock A: %d\n", pthread_mutex_trylock(&a));
  pthread_mutex_lock(&b);  // @NESTED_B
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&x);
  return p;
}

static void* t1_try_both(void* p) {
  pthread_mutex_lock(&a);
  printf("trylock B: %d\n", pthread_mutex_trylock(&b));
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
  return p;
}

static void* t2(void* p) {
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);  // @T2_A
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
  return p;
}

static void* t2_try(void* p) {
  pthread_mutex_lock(&b);
  printf("trylock A: %d\n", pthread_mutex_trylock(&a));
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
  return p;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "into";
  void* (*first)(void*) = t1_into;
  void* (*second)(void*) = t2;
  if (!strcmp(mode, "out_of")) first = t1_out_of;
  if (!strcmp(mode, "out_of_nested")) first = t1_out_of_nested;
  if (!strcmp(mode, "try_both")) first = t1_try_both, second = t2_try;
  pthread_t t;
  pthread_create(&t, 0, first, 0);
  pthread_join(t, 0);
  pthread_create(&t, 0, second, 0);
  pthread_join(t, 0);
  puts("done");
  return 0;
}
