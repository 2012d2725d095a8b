// Real deadlocks found by the watchdog while they happen: a three-thread cycle (T1 holds A wants B,
// T2 holds B wants C, T3 holds C wants A), and a writer/reader cycle on a rwlock (T1 holds R for
// reading and wants M; T2 holds M and wants R for writing: the writer waits for the reader).
// Each hangs for good; the deadlock report (with every thread of the cycle) must come within the
// watchdog interval; the test kills the program.
//
// ARGS: three
// KILL-AFTER: 6
// RUN-OPTIONS: watchdog_interval_ms=300
// EXPECT-REPORTS: lock-order-inversion=1 deadlock=1
// CHECK: ^==%pid==WARNING: locksan: deadlock
// CHECK-COUNT: 3 ^  Thread T[123] \(tid \d+, "deadlock_cycles"\) has been waiting [0-9.]+ s to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T[123]\.$
// CHECK: ^SUMMARY: locksan: deadlock
//
// VARIANT: rwlock
// ARGS: rwlock
// CLEAR: CHECK CHECK-COUNT
// EXPECT-REPORTS: lock-order-inversion=1 deadlock=1
// CHECK: ^==%pid==WARNING: locksan: deadlock
// (the two waits are listed in thread-list order, which varies: counted, not ordered)
// CHECK-COUNT: 1 to lock rwlock RW\d+ \(0x[0-9a-f]+\), held by thread T1\.$
// CHECK-COUNT: 1 to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T2\.$
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER,
                       c = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t* order[3][2] = {{&a, &b}, {&b, &c}, {&c, &a}};
static pthread_barrier_t bar;
static pthread_rwlock_t r = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void* cyc(void* arg) {
  pthread_mutex_t** o = order[(long)arg];
  pthread_mutex_lock(o[0]);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(o[1]);
  return NULL;
}

static void* reader(void* arg) {
  (void)arg;
  pthread_rwlock_rdlock(&r);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&m);
  return NULL;
}

static void* writer(void* arg) {
  (void)arg;
  pthread_mutex_lock(&m);
  pthread_barrier_wait(&bar);
  pthread_rwlock_wrlock(&r);
  return NULL;
}

int main(int argc, char** argv) {
  int three = argc > 1 && !strcmp(argv[1], "three");
  pthread_barrier_init(&bar, NULL, three ? 3 : 2);
  pthread_t t[3];
  if (three) {
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, cyc, (void*)i);
  } else {
    pthread_create(&t[0], NULL, reader, NULL);
    pthread_create(&t[1], NULL, writer, NULL);
  }
  pthread_join(t[0], NULL);  // never returns
  puts("never printed");
  return 0;
}
