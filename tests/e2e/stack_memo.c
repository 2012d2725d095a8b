// The stack memo (stack_memo=1, the default; core/stack.h): a lock call made again from the same
// callers at the same stack depth reuses the stack captured before, checked by its return addresses
// still being in their slots. take_pair() is called through via_alpha() and via_beta(), two frames
// of one size at one depth, so that its second lock call has the same return address and stack
// pointer from both: only the return address into via_alpha/via_beta differs. Eight pairs
// m[i] -> x through via_alpha make new edges from that call (memoised at the second, reused after),
// then x -> m[0] through via_beta closes a cycle at the same call: its stack must be unwound again
// (the slot holds via_beta's return address now) and name via_beta, while the edge m[0] -> x keeps
// via_alpha.
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// RUN-OPTIONS: verbosity=1
// NATIVE-SAME-OUTPUT
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T0 
// CHECK: ^    #0 take_pair .*stack_memo\.c:%line(SECOND) 
// CHECK: ^    #1 via_beta .*stack_memo\.c:%line(BETA) 
// CHECK: ^    #2 main .*stack_memo\.c:%line(MAIN_BETA) 
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T0 
// CHECK: ^    #0 take_pair .*stack_memo\.c:%line(SECOND) 
// CHECK: ^    #1 via_alpha .*stack_memo\.c:%line(ALPHA) 
// CHECK: ^    #2 main .*stack_memo\.c:%line(MAIN_ALPHA) 
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*stack_memo\.c:%line(SECOND) in take_pair$
// CHECK: stack memo: [1-9]\d* stacks reused without an unwind, [1-9]\d* memoised \(\d+ from known frame sizes\), [1-9]\d* found changed
//
// VARIANT: alternate
// One call (take_pair's second lock, same return address and depth) from two callers in turn, 202
// times each, a new edge each time: a set keeps a stack per caller, so both are reused (twice an
// acquisition: the new lock's 8-frame "first locked at" stack, then its order check's whole stack),
// and the memo finds a changed stack only while the second one is being memoised. Then f[0] -> x through
// via_beta closes a cycle with x -> f[0] (via_alpha, the first pair): each edge shows its own caller.
// ARGS: alternate
// CLEAR: CHECK
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T0 
// CHECK: ^    #0 take_pair .*stack_memo\.c:%line(SECOND) 
// CHECK: ^    #1 via_beta .*stack_memo\.c:%line(BETA) 
// CHECK: ^    #2 main .*stack_memo\.c:%line(ALT_CLOSE) 
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T0 
// CHECK: ^    #0 take_pair .*stack_memo\.c:%line(SECOND) 
// CHECK: ^    #1 via_alpha .*stack_memo\.c:%line(ALPHA) 
// CHECK: ^    #2 main .*stack_memo\.c:%line(ALT_ALPHA) 
// CHECK: stack memo: (79\d|80\d) stacks reused without an unwind, \d+ memoised \(\d+ from known frame sizes\), [0-3] found changed
//
// VARIANT: quick
// Call sites that come back only once each (the same take_pair call at 300 stack depths, twice each,
// new edges every time), through frames of fixed sizes: once libgcc's first fill has given those
// sizes, a key's second capture is memoised from an ordinary capture (its slots follow from the
// caller's CFA and the frame sizes): nearly all 300, at no cost beyond that capture. (A new lock's
// first acquisition looks its key up twice, for its 8-frame "first locked at" stack and then for its
// order check's whole stack: the second is the key's second capture. At depths below stack_depth the
// whole stack reaches main, whose two calls of f have two return addresses: there the second call
// finds the stack changed.)
// ARGS: quick
// EXPECT-EXIT: 0
// CLEAR: CHECK EXPECT-REPORTS
// CHECK-NOT: WARNING: locksan
// CHECK: stack memo: (5[5-9]\d|600) stacks reused without an unwind, \d+ memoised \((2[5-9]\d|30\d) from known frame sizes\), ([0-9]|[1-2]\d) found changed; captured without it: 3\d\d first sightings, 0 of keys it refused, 0 past its fill budget
//
// VARIANT: budget
// The same through frames whose size varies (a VLA): no size can be known, every fill needs libgcc
// (~10-20 unwinds' cost in a large program), so a thread fills only while its hits pay for its fills
// (16, then one per 32 hits): at most 16 of the 300 keys are memoised through libgcc (one more,
// at depth 0, may be from known sizes), the other captures counted as past the fill budget.
// ARGS: budget
// EXPECT-EXIT: 0
// CLEAR: CHECK EXPECT-REPORTS
// CHECK-NOT: WARNING: locksan
// CHECK: stack memo: \d+ stacks reused without an unwind, (?:([0-9]|1[0-6]) memoised \(0|([1-9]|1[0-7]) memoised \(1) from known frame sizes\), \d+ found changed; captured without it: \d+ first sightings, 0 of keys it refused, [1-9]\d\d+ past its fill budget
//
// VARIANT: recurring
// The budget spent as in `budget`, then one key through those frames comes back 200 times (a new
// lock per call at one depth, as a per-item lock in a loop is): refused a fill by the budget, it
// earns one after 16 sightings (kMemoRecurring) and is reused from then on.
// ARGS: recurring
// EXPECT-EXIT: 0
// CLEAR: CHECK EXPECT-REPORTS
// CHECK-NOT: WARNING: locksan
// CHECK: stack memo: (1[6-9]\d|2\d\d|3\d\d) stacks reused without an unwind, .* [1-9]\d\d+ past its fill budget
//
// VARIANT: off
// stack_memo=0: every stack unwound; the same report.
// RUN-OPTIONS: verbosity=1:stack_memo=0
// CLEAR: CHECK
// CHECK: ^    #0 take_pair .*stack_memo\.c:%line(SECOND) 
// CHECK: ^    #1 via_beta .*stack_memo\.c:%line(BETA) 
// CHECK: ^    #0 take_pair .*stack_memo\.c:%line(SECOND) 
// CHECK: ^    #1 via_alpha .*stack_memo\.c:%line(ALPHA) 
// CHECK-NOT: stack memo:
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t m[8], x = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void take_pair(pthread_mutex_t* first, pthread_mutex_t* second) {
  pthread_mutex_lock(first);
  pthread_mutex_lock(second);  // @SECOND
  pthread_mutex_unlock(second);
  pthread_mutex_unlock(first);
}

// The same frame, twice; the empty asm keeps take_pair from being a tail call.
__attribute__((noinline)) static void via_alpha(pthread_mutex_t* first, pthread_mutex_t* second) {
  take_pair(first, second);  // @ALPHA
  __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void via_beta(pthread_mutex_t* first, pthread_mutex_t* second) {
  take_pair(first, second);  // @BETA
  __asm__ volatile("" ::: "memory");
}

static pthread_mutex_t* g_fresh;
// At depth 0: a new lock under x (a new edge: an order check that captures the stack).
__attribute__((noinline)) static int at_depth(int depth) {
  volatile int pad = depth;
  if (depth > 0) return at_depth(depth - 1) + pad;
  take_pair(&x, g_fresh++);
  return pad;
}

// The same with a frame size that varies with the depth.
__attribute__((noinline)) static int at_depth_vla(int depth) {
  volatile char pad[(depth & 7) * 16 + 1];
  pad[0] = (char)depth;
  if (depth > 0) return at_depth_vla(depth - 1) + pad[0];
  take_pair(&x, g_fresh++);
  return pad[0];
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "alternate") == 0) {
    static pthread_mutex_t fresh[404];
    for (int i = 0; i < 404; i++) pthread_mutex_init(&fresh[i], NULL);
    for (int i = 0; i < 404; i += 2) {
      via_alpha(&x, &fresh[i]);  // @ALT_ALPHA
      via_beta(&x, &fresh[i + 1]);
    }
    via_beta(&fresh[0], &x);  // @ALT_CLOSE
    puts("done");
    return 0;
  }
  int recurring = argc > 1 && strcmp(argv[1], "recurring") == 0;
  if (argc > 1 && (strcmp(argv[1], "budget") == 0 || strcmp(argv[1], "quick") == 0 || recurring)) {
    static pthread_mutex_t fresh[800];
    for (int i = 0; i < 800; i++) pthread_mutex_init(&fresh[i], NULL);
    g_fresh = fresh;
    int (*f)(int) = strcmp(argv[1], "quick") == 0 ? at_depth : at_depth_vla;
    for (int d = 0; d < 300; d++) {
      f(d);
      f(d);
    }
    for (int i = 0; recurring && i < 200; i++) f(5);
    puts("done");
    return 0;
  }
  for (int i = 0; i < 8; i++) pthread_mutex_init(&m[i], NULL);
  for (int i = 7; i >= 0; i--) via_alpha(&m[i], &x);  // @MAIN_ALPHA
  via_beta(&x, &m[0]);  // @MAIN_BETA
  puts("done");
  return 0;
}
