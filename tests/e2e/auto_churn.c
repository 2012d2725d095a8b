// lock_identity=auto (the default) with threads racing: 4 threads each make, take and free 2,000
// mutexes first locked at one call site, each held while a global G is taken. A third of them are
// initialised by the main thread before the workers start (registered at pthread_mutex_init by
// another thread, first taken by a worker), a third by the worker (pthread_mutex_init), a third are
// zeroed heap memory (registered at their first lock, as a std::mutex is). All are first locked on
// one call path: once 4 were freed or destroyed that path is a class, and every later one joins it,
// whichever thread registered it and however, while other threads register theirs. No report, no
// crash; the class stands for nearly all of them (an optimising compiler may make two call sites of
// the one call of item(), one per branch: a class each then).
//
// RUN-OPTIONS: verbosity=1
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^done 8000$
// CHECK: lock_identity=auto: [12] lock classes stand for (79[0-9][0-9]|8000) locks; 0 order checks
// CHECK-NOT: WARNING: locksan
//
// VARIANT: instance
// The same with every lock a node of its own: no report, no class.
// RUN-OPTIONS: verbosity=1 lock_identity=instance
// CLEAR: CHECK
// CHECK: stats: [0-9]+ locks live \(8001 seen\)
// CHECK-NOT: lock_identity=
//
// VARIANT: never_class
// class_after larger than the run: every lock keeps its own identity, and the call paths are counted.
// RUN-OPTIONS: verbosity=1 class_after=1000000
// CLEAR: CHECK
// CHECK: lock_identity=auto: 0 lock classes stand for 0 locks
// CHECK: lock_identity=auto: [23] call paths first locked a lock of the program's
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define ITEMS 2000

static pthread_mutex_t g = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t* pool[THREADS][ITEMS];
static int done_items[THREADS];

__attribute__((noinline)) static void item(pthread_mutex_t* m) {
  pthread_mutex_lock(m);
  pthread_mutex_lock(&g);
  pthread_mutex_unlock(&g);
  pthread_mutex_unlock(m);
}

static void* worker(void* arg) {
  int w = (int)(long)arg;
  for (int i = 0; i < ITEMS; i++) {
    pthread_mutex_t* m;
    int how = i % 3;
    if (how == 0) {
      m = pool[w][i];  // initialised by the main thread
    } else {
      m = malloc(sizeof *m);
      if (how == 1) pthread_mutex_init(m, NULL);
      else memset(m, 0, sizeof *m);  // PTHREAD_MUTEX_INITIALIZER
    }
    item(m);
    if (how != 2) pthread_mutex_destroy(m);
    free(m);
    done_items[w]++;
  }
  return NULL;
}

int main(void) {
  for (int w = 0; w < THREADS; w++)
    for (int i = 0; i < ITEMS; i += 3) {
      pool[w][i] = malloc(sizeof(pthread_mutex_t));
      pthread_mutex_init(pool[w][i], NULL);
    }
  pthread_t t[THREADS];
  for (int w = 0; w < THREADS; w++) pthread_create(&t[w], NULL, worker, (void*)(long)w);
  int total = 0;
  for (int w = 0; w < THREADS; w++) {
    pthread_join(t[w], NULL);
    total += done_items[w];
  }
  printf("done %d\n", total);
  return 0;
}
