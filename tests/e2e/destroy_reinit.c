// A destroyed lock is forgotten. T1: A->B. Then B is destroyed and initialised again at the same
// address: a new lock. T2: B->A is not an inversion with the old B: no report.
//
// ARGS: destroy
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
//
// VARIANT: reinit_only
// pthread_mutex_init on a known address (without destroy) also starts a new lock.
// ARGS: reinit
//
// VARIANT: rwlock
// The same with an rwlock: destroy + init forgets it.
// ARGS: rwlock
//
// VARIANT: spin
// ARGS: spin
//
// VARIANT: control
// Positive control: without destroy/init, B->A is reported.
// ARGS: control
// CLEAR: EXPECT-NO-STDERR
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
#include <pthread.h>
#include <stdio.h>
#include <string.h>

pthread_mutex_t a, b;
pthread_rwlock_t rb;
pthread_spinlock_t sb;
const char* mode;

static void lock_b(void) {
  if (!strcmp(mode, "rwlock")) pthread_rwlock_wrlock(&rb);
  else if (!strcmp(mode, "spin")) pthread_spin_lock(&sb);
  else pthread_mutex_lock(&b);
}
static void unlock_b(void) {
  if (!strcmp(mode, "rwlock")) pthread_rwlock_unlock(&rb);
  else if (!strcmp(mode, "spin")) pthread_spin_unlock(&sb);
  else pthread_mutex_unlock(&b);
}

static void* ab(void* p) {
  pthread_mutex_lock(&a);
  lock_b();
  unlock_b();
  pthread_mutex_unlock(&a);
  return p;
}

static void* ba(void* p) {
  lock_b();
  pthread_mutex_lock(&a);
  pthread_mutex_unlock(&a);
  unlock_b();
  return p;
}

int main(int argc, char** argv) {
  mode = argc > 1 ? argv[1] : "destroy";
  pthread_mutex_init(&a, 0);
  pthread_mutex_init(&b, 0);
  pthread_rwlock_init(&rb, 0);
  pthread_spin_init(&sb, 0);
  pthread_t t;
  pthread_create(&t, 0, ab, 0);
  pthread_join(t, 0);
  if (!strcmp(mode, "destroy")) {
    printf("destroy: %d\n", pthread_mutex_destroy(&b));
    pthread_mutex_init(&b, 0);
  } else if (!strcmp(mode, "reinit")) {
    pthread_mutex_init(&b, 0);
  } else if (!strcmp(mode, "rwlock")) {
    pthread_rwlock_destroy(&rb);
    pthread_rwlock_init(&rb, 0);
  } else if (!strcmp(mode, "spin")) {
    pthread_spin_destroy(&sb);
    pthread_spin_init(&sb, 0);
  }
  pthread_create(&t, 0, ba, 0);
  pthread_join(t, 0);
  puts("done");
  return 0;
}
