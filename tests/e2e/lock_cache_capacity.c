// The thread's lock cache holds a working set of a few hundred locks (a PyTorch training step's):
// 200 heap mutexes, each in its own 64-byte block, taken in turn 100 times, search the registry
// about once each. With 256 entries ~14,000 of the acquisitions found their slot taken by another
// lock and searched the registry under its lock (`verbosity=1` counts the look-ups by cause).
//
// RUN-OPTIONS: verbosity=1
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^done$
// CHECK: stats: 200 locks live .* [0-9]{3} lock look-ups
// CHECK: look-ups that found the lock registered: 0 after its record changed, 200 of a lock initialised and never taken, [0-9]{1,3} by its first thread after another lock took its cache slot, 0 by another thread
// CHECK-NOT: WARNING: locksan
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define N 200

int main(void) {
  pthread_mutex_t* m[N];
  for (int i = 0; i < N; i++) {
    m[i] = malloc(64);
    if (!m[i]) return 1;
    pthread_mutex_init(m[i], NULL);
  }
  for (int round = 0; round < 100; round++)
    for (int i = 0; i < N; i++) {
      pthread_mutex_lock(m[i]);
      pthread_mutex_unlock(m[i]);
    }
  printf("done\n");
  return 0;
}
