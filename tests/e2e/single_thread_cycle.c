// One thread takes A->B, and later B->A. It cannot deadlock as the program runs now, but does once
// the two paths run in two threads: reported, saying that one thread made every edge.
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// NATIVE-SAME-OUTPUT
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T0 
// CHECK: ^    #0 path_ba .*single_thread_cycle\.c:%line(BA_A) 
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T0 
// CHECK: ^    #0 path_ab .*single_thread_cycle\.c:%line(AB_B) 
// CHECK: ^  Every edge of this cycle was made by one thread \(T0\), at different times: it does not deadlock as the program runs now, but does as soon as these paths run in two threads\.$
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*single_thread_cycle\.c:%line(BA_A) in path_ba$
//
// VARIANT: two_threads
// Control: when two threads make the edges, the one-thread sentence is absent.
// ARGS: two_threads
// CLEAR: CHECK
// CHECK-NOT: Every edge of this cycle was made by one thread
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void path_ab(void) {
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&b);  // @AB_B
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
}

__attribute__((noinline)) static void path_ba(void) {
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);  // @BA_A
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
}

static void* thread_ba(void* p) {
  path_ba();
  return p;
}

int main(int argc, char** argv) {
  path_ab();
  if (argc > 1) {
    pthread_t t;
    pthread_create(&t, 0, thread_ba, 0);
    pthread_join(t, 0);
  } else {
    path_ba();
  }
  puts("done");
  return 0;
}
