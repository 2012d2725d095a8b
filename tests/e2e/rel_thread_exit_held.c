// A thread exits while holding a lock.
//  - base: T1 takes L and returns without unlocking it; main then locks L and blocks for good. The
//    watchdog reports a deadlock that names T1 as the holder that exited; the program stays blocked.
//  - unwanted: T1 exits holding a lock nobody wants (and another thread exits holding a rwlock for
//    reading); the program goes on using other locks, also from new threads that may reuse T1's
//    stack and thread number slot: no report at all, exit 0.
//  - pthread_exit: the same as base, with T1 leaving through pthread_exit from a nested function.
//
// ARGS: base
// KILL-AFTER: 3
// RUN-OPTIONS: watchdog_interval_ms=200
// EXPECT-REPORTS: deadlock=1
// CHECK: ^T1 gone$
// CHECK: ^==%pid==WARNING: locksan: deadlock 
// CHECK: ^  Thread T0 \(tid %pid, "rel_thread_exit"\) has been waiting [0-9.]+ s to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T1, which exited without releasing it\.$
// CHECK: ^    blocked in: main .*rel_thread_exit_held\.c:%line(BLOCK)\b
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+, mutex\): global 'l' in rel_thread_exit_held\.exe
// CHECK: ^SUMMARY: locksan: deadlock .*rel_thread_exit_held\.c:%line(BLOCK) in main$
// CHECK-NOT: never printed
//
// VARIANT: pthread_exit
// ARGS: pthread_exit
//
// VARIANT: unwanted
// ARGS: unwanted
// CLEAR: KILL-AFTER CHECK CHECK-NOT
// EXPECT-REPORTS: deadlock=0
// EXPECT-NO-STDERR
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^unwanted: 200 threads done$
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

pthread_mutex_t l = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

static void* take_and_return(void* p) {
  pthread_mutex_lock(&l);
  return p;
}

__attribute__((noinline)) static void nested_exit(void) {
  pthread_mutex_lock(&l);
  pthread_exit(0);
}

static void* take_and_pthread_exit(void* p) {
  nested_exit();
  return p;
}

static void* read_and_return(void* p) {
  pthread_rwlock_rdlock(&rw);
  return p;
}

static void* worker(void* p) {
  pthread_mutex_t local;
  pthread_mutex_init(&local, 0);
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&local);
  pthread_mutex_lock(&b);
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&local);
  pthread_mutex_unlock(&a);
  // Readers beside the exited reader.
  pthread_rwlock_rdlock(&rw);
  pthread_rwlock_unlock(&rw);
  return p;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "base";
  pthread_t t;
  if (!strcmp(mode, "unwanted")) {
    pthread_create(&t, 0, take_and_return, 0);
    pthread_join(t, 0);
    pthread_create(&t, 0, read_and_return, 0);
    pthread_join(t, 0);
    for (int i = 0; i < 200; i++) {
      pthread_t w[4];
      for (int j = 0; j < 4; j++) pthread_create(&w[j], 0, worker, 0);
      for (int j = 0; j < 4; j++) pthread_join(w[j], 0);
      if (i == 100) usleep(300 * 1000);  // a few watchdog periods with the orphan around
    }
    // Main never touches l: it stays held by the exited T1. Readers still pass.
    pthread_rwlock_rdlock(&rw);
    pthread_rwlock_unlock(&rw);
    printf("unwanted: 200 threads done\n");
    return 0;
  }
  pthread_create(&t, 0, !strcmp(mode, "pthread_exit") ? take_and_pthread_exit : take_and_return, 0);
  pthread_join(t, 0);
  fprintf(stderr, "T1 gone\n");
  pthread_mutex_lock(&l);  // @BLOCK
  fprintf(stderr, "never printed\n");
  return 0;
}
