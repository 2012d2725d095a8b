// rwlocks: readers do not block readers.
// base ("read"): T1 rdlock R then lock M; T2 lock M then rdlock R. Both hold/want R for reading only,
// so this cannot deadlock (T2's rdlock succeeds while T1 holds R for reading): no report.
// ARGS: read
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
//
// VARIANT: write
// T1 wrlock R then M; T2 M then rdlock R: T2's reader blocks behind T1's writer: reported.
// ARGS: write
// CLEAR: EXPECT-NO-STDERR
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^  Cycle in lock order graph: (M|RW)\d+ \(0x[0-9a-f]+\) => (M|RW)\d+ \(0x[0-9a-f]+\) => (M|RW)\d+$
// CHECK: ^  RWLock RW\d+ acquired for reading here while holding mutex M\d+, in thread T2 
// CHECK: ^    #0 t2 .*rwlock\.c:%line(T2_R) 
// CHECK: ^  Mutex M\d+ acquired here while holding rwlock RW\d+, in thread T1 
// CHECK: ^    #0 t1 .*rwlock\.c:%line(T1_M) 
// CHECK: ^  RWLock RW\d+ \(0x[0-9a-f]+, rwlock\): global 'r' 
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*rwlock\.c:%line(T2_R) in t2$
//
// VARIANT: write_both
// wrlock in both threads: reported.
// ARGS: write_both
// CLEAR: EXPECT-NO-STDERR
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^  RWLock RW\d+ acquired here while holding mutex M\d+, in thread T2 
//
// VARIANT: read_then_write_holder
// T1 rdlock R then M; T2 M then wrlock R: T2's writer waits for T1's reader: reported.
// ARGS: read_write
// CLEAR: EXPECT-NO-STDERR
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^  Mutex M\d+ acquired here while holding rwlock RW\d+ \(for reading\), in thread T1 
//
// VARIANT: two_rwlocks_read
// Two rwlocks, both orders, reads only (T1 rd R then rd S; T2 rd S then rd R): no report.
// ARGS: rr2
//
// VARIANT: read_reentry
// A thread that read-locks R twice (recursive read) while holding M is not a double lock.
// ARGS: read_reentry
#include <pthread.h>
#include <stdio.h>
#include <string.h>

pthread_rwlock_t r = PTHREAD_RWLOCK_INITIALIZER, s = PTHREAD_RWLOCK_INITIALIZER;
pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
const char* mode;

static void* t1(void* p) {
  if (!strcmp(mode, "rr2")) {
    pthread_rwlock_rdlock(&r);
    pthread_rwlock_rdlock(&s);
    pthread_rwlock_unlock(&s);
    pthread_rwlock_unlock(&r);
    return p;
  }
  if (!strcmp(mode, "read_reentry")) {
    pthread_mutex_lock(&m);
    pthread_rwlock_rdlock(&r);
    pthread_rwlock_rdlock(&r);
    pthread_rwlock_unlock(&r);
    pthread_rwlock_unlock(&r);
    pthread_mutex_unlock(&m);
    return p;
  }
  if (!strcmp(mode, "read") || !strcmp(mode, "read_write"))
    pthread_rwlock_rdlock(&r);
  else
    pthread_rwlock_wrlock(&r);
  pthread_mutex_lock(&m);  // @T1_M
  pthread_mutex_unlock(&m);
  pthread_rwlock_unlock(&r);
  return p;
}

static void* t2(void* p) {
  if (!strcmp(mode, "rr2")) {
    pthread_rwlock_rdlock(&s);
    pthread_rwlock_rdlock(&r);
    pthread_rwlock_unlock(&r);
    pthread_rwlock_unlock(&s);
    return p;
  }
  if (!strcmp(mode, "read_reentry")) return p;
  pthread_mutex_lock(&m);
  if (!strcmp(mode, "read") || !strcmp(mode, "write"))
    pthread_rwlock_rdlock(&r);  // @T2_R
  else
    pthread_rwlock_wrlock(&r);
  pthread_rwlock_unlock(&r);
  pthread_mutex_unlock(&m);
  return p;
}

int main(int argc, char** argv) {
  mode = argc > 1 ? argv[1] : "read";
  pthread_t t;
  pthread_create(&t, 0, t1, 0);
  pthread_join(t, 0);
  pthread_create(&t, 0, t2, 0);
  pthread_join(t, 0);
  puts("done");
  return 0;
}
