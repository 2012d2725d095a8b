// The fast path reuses a held-lock slot in place when the same lock is taken again at the same depth
// after the same held locks (its order check was done then). Each variant makes the slot look
// reusable while the acquisition still needs its order check; the main thread takes A then B (in
// many iterations), a second thread then takes B then A: the inversion must be reported.
//
//   fresh:        B is fresh the first time (initialised under A, taken at once: no edge A->B,
//                 docs/design.md), then unlocked and taken again under A: now it makes the edge.
//   out_of_order: A, C, B taken, C unlocked out of order (B's chain changes in place), C destroyed,
//                 then B taken again under A.
//   reinit:       A->B many times, then B destroyed and initialised again at the same address (a
//                 new lock), then A->B again.
//   trylock:      B taken by trylock under A (no edge), unlocked, then taken by pthread_mutex_lock.
//   recursive:    A is recursive and taken twice (re-entry) before B, many times.
//   repeat:       plain A->B, many times.
//   other_below:  C->B many times (B's slot above C validated), then A at the same depth as C and B
//                 above it: B's slot still holds B's entry, but the lock below it changed.
//   entry_chain:  C->B many times through the fill path (D taken between, so B's slot is emptied):
//                 B's lock cache entry keeps the validated chain C,B; then A->B: another chain.
//
// ARGS: fresh
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK-STDOUT: ^done$
//
// VARIANT: out_of_order
// ARGS: out_of_order
//
// VARIANT: reinit
// ARGS: reinit
//
// VARIANT: trylock
// ARGS: trylock
//
// VARIANT: recursive
// ARGS: recursive
//
// VARIANT: repeat
// ARGS: repeat
//
// VARIANT: other_below
// ARGS: other_below
//
// VARIANT: entry_chain
// ARGS: entry_chain
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b, c, d;
static const char* mode;

static void* inverse(void* arg) {
  (void)arg;
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
  return NULL;
}

static void a_then_b(int n) {
  for (int i = 0; i < n; i++) {
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
  }
}

int main(int argc, char** argv) {
  mode = argc > 1 ? argv[1] : "fresh";
  if (!strcmp(mode, "recursive")) {
    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&a, &at);
    pthread_mutexattr_destroy(&at);
  }
  if (!strcmp(mode, "fresh")) {
    pthread_mutex_lock(&a);
    pthread_mutex_init(&b, NULL);
    pthread_mutex_lock(&b);  // fresh: no edge
    pthread_mutex_unlock(&b);
    for (int i = 0; i < 100; i++) {  // the same chain again, at the same depth
      pthread_mutex_lock(&b);
      pthread_mutex_unlock(&b);
    }
    pthread_mutex_unlock(&a);
  } else if (!strcmp(mode, "out_of_order")) {
    pthread_mutex_init(&b, NULL);
    pthread_mutex_init(&c, NULL);
    for (int i = 0; i < 10; i++) {
      pthread_mutex_lock(&a);
      pthread_mutex_lock(&c);
      pthread_mutex_lock(&b);  // edges A->C, C->B
      pthread_mutex_unlock(&c);  // out of order: B now sits right above A
      pthread_mutex_unlock(&b);
      pthread_mutex_unlock(&a);
    }
    pthread_mutex_destroy(&c);  // C and its edges are forgotten: A->B is not implied any more
    a_then_b(100);
  } else if (!strcmp(mode, "reinit")) {
    pthread_mutex_init(&b, NULL);
    a_then_b(100);
    pthread_mutex_destroy(&b);
    pthread_mutex_init(&b, NULL);
    a_then_b(100);
  } else if (!strcmp(mode, "trylock")) {
    pthread_mutex_init(&b, NULL);
    for (int i = 0; i < 100; i++) {
      pthread_mutex_lock(&a);
      if (pthread_mutex_trylock(&b) == 0) pthread_mutex_unlock(&b);
      pthread_mutex_unlock(&a);
    }
    a_then_b(1);
  } else if (!strcmp(mode, "other_below")) {
    pthread_mutex_init(&b, NULL);
    pthread_mutex_init(&c, NULL);
    for (int i = 0; i < 100; i++) {
      pthread_mutex_lock(&c);
      pthread_mutex_lock(&b);  // edge C->B (no cycle with the other thread's B->A)
      pthread_mutex_unlock(&b);
      pthread_mutex_unlock(&c);
    }
    a_then_b(1);
  } else if (!strcmp(mode, "entry_chain")) {
    pthread_mutex_init(&b, NULL);
    pthread_mutex_init(&c, NULL);
    pthread_mutex_init(&d, NULL);
    for (int i = 0; i < 100; i++) {
      pthread_mutex_lock(&c);
      pthread_mutex_lock(&b);  // edge C->B; B's slot was emptied by D: filled, not reused
      pthread_mutex_unlock(&b);
      pthread_mutex_unlock(&c);
      pthread_mutex_lock(&d);
      pthread_mutex_unlock(&d);
    }
    a_then_b(1);
  } else if (!strcmp(mode, "recursive")) {
    pthread_mutex_init(&b, NULL);
    for (int i = 0; i < 100; i++) {
      pthread_mutex_lock(&a);
      pthread_mutex_lock(&a);
      pthread_mutex_lock(&b);
      pthread_mutex_unlock(&b);
      pthread_mutex_unlock(&a);
      pthread_mutex_unlock(&a);
    }
  } else {
    pthread_mutex_init(&b, NULL);
    a_then_b(1000);
  }
  pthread_t t;
  pthread_create(&t, NULL, inverse, NULL);
  pthread_join(t, NULL);
  printf("done\n");
  return 0;
}
