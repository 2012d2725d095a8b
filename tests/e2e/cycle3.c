// A three-lock cycle made by three threads, one after another: T1 A->B, T2 B->C, T3 C->A. No two
// edges form a cycle; the third closes A->B->C->A: one report whose cycle line lists three locks.
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// NATIVE-SAME-OUTPUT
// CHECK: ^  Cycle in lock order graph: (M\d+) \(0x[0-9a-f]+\) => (M\d+) \(0x[0-9a-f]+\) => (M\d+) \(0x[0-9a-f]+\) => \1$
// CHECK: acquired here while holding mutex M\d+, in thread T3 
// CHECK: ^    #0 take .*cycle3\.c:%line(SECOND) 
// CHECK: ^    #1 t3 .*cycle3\.c
// CHECK: acquired here while holding mutex M\d+, in thread T1 
// CHECK: ^    #1 t1 .*cycle3\.c
// CHECK: acquired here while holding mutex M\d+, in thread T2 
// CHECK: ^    #1 t2 .*cycle3\.c
// CHECK: global 'lock_a'
// CHECK-COUNT: 1 global 'lock_a'
// CHECK-COUNT: 1 global 'lock_b'
// CHECK-COUNT: 1 global 'lock_c'
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*cycle3\.c:%line(SECOND) in take$
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_c = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void take(pthread_mutex_t* x, pthread_mutex_t* y) {
  pthread_mutex_lock(x);
  pthread_mutex_lock(y);  // @SECOND
  pthread_mutex_unlock(y);
  pthread_mutex_unlock(x);
}

static void* t1(void* p) { take(&lock_a, &lock_b); return p; }
static void* t2(void* p) { take(&lock_b, &lock_c); return p; }
static void* t3(void* p) { take(&lock_c, &lock_a); return p; }

int main(void) {
  void* (*fns[3])(void*) = {t1, t2, t3};
  for (int i = 0; i < 3; i++) {
    pthread_t t;
    pthread_create(&t, 0, fns[i], 0);
    pthread_join(t, 0);
    printf("step %d\n", i + 1);
  }
  return 0;
}
