// A recursive mutex re-entered by its owner is neither a double lock nor an edge.
// T1: lock R; lock A; lock R again (re-entry while holding A: must not add A->R); unlock all.
// T2: lock R; lock A (R->A, consistent with T1). If the re-entry had made an edge A->R, the cycle
// A->R->A would be reported. Also a plain re-entry loop, 10 deep.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^depth 10 ok$
//
// VARIANT: control
// Positive control: T2 takes A then R (blocking, not a re-entry): that is a real inversion.
// ARGS: control
// CLEAR: EXPECT-NO-STDERR
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^  Cycle in lock order graph: 
// CHECK: recursive mutex
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>

pthread_mutex_t r = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
pthread_mutex_t r2;
pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
int control;

static void* t1(void* p) {
  pthread_mutex_lock(&r);
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&r);  // re-entry while holding A
  pthread_mutex_unlock(&r);
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&r);
  return p;
}

static void* t2(void* p) {
  if (control) {
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&r);
    pthread_mutex_unlock(&r);
    pthread_mutex_unlock(&a);
  } else {
    pthread_mutex_lock(&r);
    pthread_mutex_lock(&a);
    pthread_mutex_unlock(&a);
    pthread_mutex_unlock(&r);
  }
  return p;
}

int main(int argc, char** argv) {
  control = argc > 1 && !strcmp(argv[1], "control");
  pthread_mutexattr_t at;
  pthread_mutexattr_init(&at);
  pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&r2, &at);
  int depth = 0;
  for (int i = 0; i < 10; i++) depth += pthread_mutex_lock(&r2) == 0;
  for (int i = 0; i < 10; i++) pthread_mutex_unlock(&r2);
  printf("depth %d ok\n", depth);
  pthread_t t;
  pthread_create(&t, 0, t1, 0);
  pthread_join(t, 0);
  pthread_create(&t, 0, t2, 0);
  pthread_join(t, 0);
  puts("done");
  return 0;
}
