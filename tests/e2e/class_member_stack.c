// A lock-class member first locked while the thread holds a lock captures only its 8-frame "first
// locked at" stack (its class key): its order check finds its class's edge known and wants no
// evidence. A lock with an id of its own (the call path's first 4, before it is a class) makes a new
// edge, and its order check captures the whole stack. 300 objects with a mutex in them (zeroed,
// never initialised: std::mutex's way), each made, locked and freed 30 frames down while `outer` is
// held, with the memo off so that every capture unwinds: ~5 whole stacks of ~42 frames and ~290 of
// 8 (17 with the runtime's own frames, which the unwinder walks first), not ~290 whole ones (before 2026-11-29 every new lock under a held one captured its whole stack
// once, for an order check that most often needed none).
//
// RUN-OPTIONS: verbosity=1:stack_memo=0:stack_depth=64
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^done$
// CHECK-NOT: WARNING: locksan
// CHECK: lock_identity=auto: 1 lock classes stand for 29[5-6] locks
// CHECK: stack captures: libunwind (2[89]\d|30\d) captures \((1\d|2[0-4])\.\d frames each
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct Obj {
  long refs;
  pthread_mutex_t mu;
};

static pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static int make_at_depth(int depth) {
  volatile int pad = depth;
  if (depth > 0) return make_at_depth(depth - 1) + pad;
  struct Obj* o = calloc(1, sizeof *o);
  pthread_mutex_lock(&o->mu);
  o->refs++;
  pthread_mutex_unlock(&o->mu);
  free(o);
  return pad;
}

int main(void) {
  for (int i = 0; i < 300; i++) {
    pthread_mutex_lock(&outer);
    make_at_depth(30);
    pthread_mutex_unlock(&outer);
  }
  puts("done");
  return 0;
}
