// verbosity=1 sorts the registry look-ups of registered locks by cause (docs/gpu.md used them to
// find the torch loop's lock-cache conflicts): 8 mutexes initialised by the main thread and taken
// there (8 "initialised and never taken"), then by a second thread (8 "by another thread"), then
// destroyed, initialised again and taken by the main thread, whose cache entries still name them
// (8 "after its record changed"). Locks taken again from a valid cache entry search nothing.
//
// RUN-OPTIONS: verbosity=1
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^done$
// CHECK: look-ups that found the lock registered: 8 after its record changed, 8 of a lock initialised and never taken, 0 by its first thread after another lock took its cache slot, 8 by another thread
// CHECK-NOT: WARNING: locksan
#include <pthread.h>
#include <stdio.h>

#define N 8
static pthread_mutex_t m[N];

static void take_all(int times) {
  for (int t = 0; t < times; t++)
    for (int i = 0; i < N; i++) {
      pthread_mutex_lock(&m[i]);
      pthread_mutex_unlock(&m[i]);
    }
}

static void* other(void* arg) {
  (void)arg;
  take_all(3);
  return NULL;
}

int main(void) {
  for (int i = 0; i < N; i++) pthread_mutex_init(&m[i], NULL);
  take_all(3);
  pthread_t t;
  pthread_create(&t, NULL, other, NULL);
  pthread_join(t, NULL);
  for (int i = 0; i < N; i++) {
    pthread_mutex_destroy(&m[i]);
    pthread_mutex_init(&m[i], NULL);
  }
  take_all(3);
  printf("done\n");
  return 0;
}
