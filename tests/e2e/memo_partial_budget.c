// A partial stack-memo entry (a class key's 8 frames) asked for the whole stack when the memo's fill
// budget is spent, from other callers at the same key, must not keep those callers' frames under
// its old depot id. Here the key K is the lock call in leaf(), reached through mid_a() or mid_b(),
// two frames of one size: one call, one stack pointer, only the return address into mid_a/mid_b
// differs. Under lock_identity=site every lock is a member of the class of its 8-frame "first locked
// at" stack.
//  1. Three new locks through mid_a: K memoised with 8 frames (libgcc's fill learns mid_a's frame
//     size), class A.
//  2. The fill budget spent (16 fills through frames whose size varies, no hits to pay for them).
//  3. A new edge o2 -> y made at K through mid_b: its evidence is the whole stack; the entry is to be
//     filled again, whole, but mid_b's frame size is unknown and no slow fill is allowed. Before
//     2026-11-29 (bd5968d) that attempt left the entry filled, with mid_b's return address and slot
//     written over mid_a's and mid_a's depot id kept.
//  4. A lock of class A held (through mid_a), then a new lock through mid_b: its class key must be
//     mid_b's stack, class B — an edge A -> B. With the stale entry the memo answered mid_b's frames
//     with mid_a's depot id: class A, "taken while another lock of its class was held".
//
// RUN-OPTIONS: verbosity=1:lock_identity=site
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^done$
// CHECK-NOT: WARNING: locksan
// CHECK: lock_identity=site: \d+ lock classes stand for \d+ locks; 0 order checks of a lock taken while another lock of its class was held
// CHECK: stack memo: .* [1-9]\d* past its fill budget
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t o2 = PTHREAD_MUTEX_INITIALIZER, y = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void leaf(pthread_mutex_t* m, int keep) {
  pthread_mutex_lock(m);  // K
  if (!keep) pthread_mutex_unlock(m);
  __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void mid_a(pthread_mutex_t* m, int keep) {
  leaf(m, keep);
  __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void mid_b(pthread_mutex_t* m, int keep) {
  leaf(m, keep);
  __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void top(int d, void (*mid)(pthread_mutex_t*, int), pthread_mutex_t* m,
                                          int keep) {
  volatile int pad = d;
  if (d > 0)
    top(d - 1, mid, m, keep);
  else
    mid(m, keep);
  (void)pad;
}
// `use`, or a new heap mutex (zeroed: std::mutex's way), locked at K 14 frames down.
__attribute__((noinline)) static pthread_mutex_t* via(void (*mid)(pthread_mutex_t*, int), pthread_mutex_t* use,
                                                      int keep) {
  pthread_mutex_t* m = use ? use : calloc(1, 64);
  top(10, mid, m, keep);
  return m;
}
// A new lock below `depth` frames whose size varies with the depth: its key's fill needs libgcc.
__attribute__((noinline)) static int at_depth_vla(int depth) {
  volatile char pad[(depth & 7) * 16 + 1];
  pad[0] = (char)depth;
  if (depth > 0) return at_depth_vla(depth - 1) + pad[0];
  pthread_mutex_t* m = calloc(1, 64);
  pthread_mutex_lock(m);
  pthread_mutex_unlock(m);
  free(m);
  return pad[0];
}

int main(void) {
  pthread_mutex_lock(&y);  // y and o2: registered here (their classes are main's)
  pthread_mutex_unlock(&y);
  pthread_mutex_lock(&o2);
  pthread_mutex_unlock(&o2);
  for (int i = 0; i < 3; i++) free(via(mid_a, NULL, 0));  // 1.
  for (int d = 0; d < 40; d++) {                          // 2.
    at_depth_vla(d);
    at_depth_vla(d);
    free(via(mid_a, NULL, 0));  // K's entry kept the most recently used of its set
  }
  pthread_mutex_lock(&o2);  // 3.
  via(mid_b, &y, 0);
  pthread_mutex_unlock(&o2);
  pthread_mutex_t* a = via(mid_a, NULL, 1);  // 4.
  pthread_mutex_t* b = via(mid_b, NULL, 0);
  pthread_mutex_unlock(a);
  free(a);
  free(b);
  puts("done");
  return 0;
}
