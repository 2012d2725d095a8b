// A lock-class member first locked while the thread holds a lock captures only its 8-frame "first
// locked at" stack (its class key): its order check finds its class's edge known and wants no
// evidence. A lock with an id of its own (the call path's first 4, before it is a class) makes a new
// edge, and its order check captures the whole stack. 300 objects with a mutex in them (zeroed,
// never initialised: std::mutex's way), each made, locked and freed 30 frames down while `outer` is
// held, with the memo off so that every capture unwinds: ~5 whole stacks of ~42 frames and ~290 of
// 8 (17 with the runtime's own frames, which the unwinder walks first), not ~290 whole ones (before
// 2026-11-29 every new lock under a held one captured its whole stack once, for an order check that
// most often needed none).
//
// RUN-OPTIONS: verbosity=1:stack_memo=0:stack_depth=64
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^done$
// CHECK-NOT: WARNING: locksan
// CHECK: lock_identity=auto: 1 lock classes stand for 29[5-6] locks
// CHECK: stack captures: libunwind (2[89]\d|30\d) captures \((1\d|2[0-4])\.\d frames each
//
// VARIANT: depths
// With the memo (the default): members made at 150 stack depths, three times each (under
// lock_identity=site: every lock a member, none revived at its address). A key's second capture
// memoises it; for a member, only the 8 frames its class key needs (a partial entry: 7 frame sizes
// to know for a quick fill, 8 frames to unwind), not the whole stack of up to 64 frames: every
// unwind is short (17 frames with the runtime's, 39 before 2026-11-29) and the third member at each
// depth is served by the memo.
// ARGS: depths
// RUN-OPTIONS: verbosity=1:stack_depth=64:lock_identity=site
// CLEAR: CHECK
// CHECK: lock_identity=site: \d+ lock classes stand for 451 locks
// CHECK: stack captures: libunwind (2[7-9]\d|30\d) captures \((1\d|2[0-4])\.\d frames each
// CHECK: stack memo: (1[4-9]\d|2\d\d) stacks reused without an unwind, (1[4-9]\d|2\d\d) memoised
//
// VARIANT: upgrade
// A partial entry asked for the whole stack: members made 20 frames down with no lock held (no
// edge: only their 8-frame class key is asked for, which the memo keeps at that key), then a static
// mutex of the same class locked at the same call and depth while another lock, `outer2`, is held —
// a new edge, whose evidence is the whole stack at that key: the entry is filled again, whole. Then
// the inversion: the report's stack of that edge goes down to main, not 8 frames.
// ARGS: upgrade
// RUN-OPTIONS: verbosity=1:stack_depth=64:lock_identity=site
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CLEAR: CHECK CHECK-NOT
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T0
// CHECK: ^    #0 make_at_depth .*class_member_stack\.c:%line(LOCK)
// CHECK: ^    #20 make_at_depth .*class_member_stack\.c
// CHECK: ^    #21 main .*class_member_stack\.c:%line(UPGRADE)
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct Obj {
  long refs;
  pthread_mutex_t mu;
};

static pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER, outer2 = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t y = PTHREAD_MUTEX_INITIALIZER;

// A new object's mutex (or `use`, if not null) locked `depth` frames down, at one call.
__attribute__((noinline)) static int make_at_depth(int depth, pthread_mutex_t* use) {
  volatile int pad = depth;
  if (depth > 0) return make_at_depth(depth - 1, use) + pad;
  struct Obj* o = use ? NULL : calloc(1, sizeof *o);
  pthread_mutex_t* m = use ? use : &o->mu;
  pthread_mutex_lock(m);  // @LOCK
  pad++;
  pthread_mutex_unlock(m);
  free(o);
  return pad;
}

int main(int argc, char** argv) {
  if (argc > 1 && argv[1][0] == 'u') {  // upgrade
    for (int i = 0; i < 6; i++) make_at_depth(20, NULL);  // no lock held: no edge, 8 frames asked
    pthread_mutex_lock(&outer2);
    make_at_depth(20, &y);  // @UPGRADE
    pthread_mutex_unlock(&outer2);
    pthread_mutex_lock(&y);
    pthread_mutex_lock(&outer2);
    pthread_mutex_unlock(&outer2);
    pthread_mutex_unlock(&y);
    puts("done");
    return 0;
  }
  if (argc > 1) {  // depths
    for (int d = 0; d < 150; d++)
      for (int k = 0; k < 3; k++) {
        pthread_mutex_lock(&outer);
        make_at_depth(d, NULL);
        pthread_mutex_unlock(&outer);
      }
    puts("done");
    return 0;
  }
  for (int i = 0; i < 300; i++) {
    pthread_mutex_lock(&outer);
    make_at_depth(30, NULL);
    pthread_mutex_unlock(&outer);
  }
  puts("done");
  return 0;
}
