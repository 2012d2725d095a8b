// A report must show the occurrence of an edge that made the cycle reportable.
// T1: G, A, B (edge A->B under gate G). T2: G, B, A (edge B->A under G): a gated cycle, not reported.
// T3: B, A without G: the same edge B->A, now without a common gate, so the cycle is real and
// reported (once). The B->A section must show T3's acquisition (line T3_A, thread T3) -- T2's gated
// occurrence cannot deadlock with T1 and, shown as the evidence, makes the report look like a false
// positive.
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T3 .*\n    #0 t3 .*gate_evidence\.c:%line(T3_A)\b
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*gate_evidence\.c:%line(T3_A) in t3$
//
// VARIANT: rwlock_mode
// The same for rwlock modes: T1 rdlock R then M; T2 M then rdlock R (readers only: not reported);
// T3 M then wrlock R: the edge M->R now wants R for write, the cycle is real and reported -- and
// the M->R section must show T3's wrlock, not T2's harmless rdlock.
// ARGS: rw
// CLEAR: CHECK
// CHECK: ^  RWLock RW\d+ acquired here while holding mutex M\d+, in thread T3 .*\n    #0 rw_t3 .*gate_evidence\.c:%line(RW_T3)\b
#include <pthread.h>
#include <stdio.h>
#include <string.h>

pthread_mutex_t g = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t r = PTHREAD_RWLOCK_INITIALIZER;

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
  pthread_mutex_lock(&g);
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&g);
  return p;
}

static void* t3(void* p) {
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);  // @T3_A
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
  return p;
}

static void* rw_t1(void* p) {
  pthread_rwlock_rdlock(&r);
  pthread_mutex_lock(&a);
  pthread_mutex_unlock(&a);
  pthread_rwlock_unlock(&r);
  return p;
}

static void* rw_t2(void* p) {
  pthread_mutex_lock(&a);
  pthread_rwlock_rdlock(&r);
  pthread_rwlock_unlock(&r);
  pthread_mutex_unlock(&a);
  return p;
}

static void* rw_t3(void* p) {
  pthread_mutex_lock(&a);
  pthread_rwlock_wrlock(&r);  // @RW_T3
  pthread_rwlock_unlock(&r);
  pthread_mutex_unlock(&a);
  return p;
}

int main(int argc, char** argv) {
  int rw = argc > 1 && !strcmp(argv[1], "rw");
  void* (*fns[3])(void*) = {t1, t2, t3};
  void* (*rwfns[3])(void*) = {rw_t1, rw_t2, rw_t3};
  for (int i = 0; i < 3; i++) {
    pthread_t t;
    pthread_create(&t, 0, rw ? rwfns[i] : fns[i], 0);
    pthread_join(t, 0);
  }
  puts("done");
  return 0;
}
