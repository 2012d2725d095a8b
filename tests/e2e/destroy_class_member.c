// lock_identity=auto: a destroyed member of a lock class is forgotten at its pthread_mutex_destroy,
// not only when its memory is freed. 1,000 mutexes in a static array (never freed) are each
// initialised, taken with a global G inside, and destroyed, all on one call path: after the first
// few that path is a class and the rest join it. At exit only G (and the few that were destroyed
// before the class existed, forgotten too) may be live: every destroyed lock was forgotten.
//
// RUN-OPTIONS: verbosity=1
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^done 1000$
// CHECK: stats: [1-3] locks live \(100[0-9] seen\)
// CHECK: lock_identity=auto: 1 lock classes stand for 99[0-9] locks
// CHECK-NOT: WARNING: locksan
//
// VARIANT: instance
// The same with every lock a node of its own (destroyed with the graph lock): forgotten too.
// RUN-OPTIONS: verbosity=1 lock_identity=instance
// CLEAR: CHECK
// CHECK: stats: [1-3] locks live \(100[0-9] seen\)
// CHECK-NOT: WARNING: locksan
#include <pthread.h>
#include <stdio.h>

#define ITEMS 1000

static pthread_mutex_t g = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pool[ITEMS];

__attribute__((noinline)) static void item(pthread_mutex_t* m) {
  pthread_mutex_init(m, NULL);
  pthread_mutex_lock(m);
  pthread_mutex_lock(&g);
  pthread_mutex_unlock(&g);
  pthread_mutex_unlock(m);
  pthread_mutex_destroy(m);
}

int main(void) {
  for (int i = 0; i < ITEMS; i++) item(&pool[i]);
  printf("done %d\n", ITEMS);
  return 0;
}
