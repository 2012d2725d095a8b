// The "fresh lock" rule. A lock initialised by a thread and acquired by it before it acquires
// anything else cannot block at that first acquisition (no other thread can have taken it yet), so
// it makes no edge into the lock. This is PyTorch's storage.py pattern: under a global lock G, create
// a per-object lock P and take it at once; later take G while holding P. Not a deadlock: no report.
// The variant takes another lock between the init and the first acquisition: then P is not fresh
// and the same orders are a real cycle (reported).
//
// EXPECT-EXIT: 0
// EXPECT-REPORTS: lock-order-inversion=0
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^done$
//
// VARIANT: not_fresh
// ARGS: not_fresh
// EXPECT-EXIT: 66
// (three threads, each with its own P: three distinct cycles)
// EXPECT-REPORTS: lock-order-inversion=3
// CLEAR: NATIVE-SAME-OUTPUT
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t g = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t other = PTHREAD_MUTEX_INITIALIZER;
static int not_fresh;

static void* share(void* arg) {
  (void)arg;
  pthread_mutex_t* p = malloc(sizeof *p);
  pthread_mutex_lock(&g);
  pthread_mutex_init(p, NULL);
  if (not_fresh) {  // an acquisition between the init and the first lock of p
    pthread_mutex_lock(&other);
    pthread_mutex_unlock(&other);
  }
  pthread_mutex_lock(p);  // G -> P: P's first acquisition
  pthread_mutex_unlock(&g);
  pthread_mutex_lock(&g);  // P -> G
  pthread_mutex_unlock(&g);
  pthread_mutex_unlock(p);
  pthread_mutex_destroy(p);
  free(p);
  return NULL;
}

int main(int argc, char** argv) {
  not_fresh = argc > 1 && !strcmp(argv[1], "not_fresh");
  for (int i = 0; i < 3; i++) {
    pthread_t t;
    pthread_create(&t, NULL, share, NULL);
    pthread_join(t, NULL);
  }
  puts("done");
  return 0;
}
