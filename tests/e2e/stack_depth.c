// stack_depth=N keeps N frames per stack, counted from the user's frame that called the lock (or
// thread-creation) function: the interceptor's own frame, which reports never show, must not use up
// the budget. With stack_depth=1 every stack shows exactly its #0 frame, and the SUMMARY still names
// the place.
//
// RUN-OPTIONS: stack_depth=1
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T1 .*\n    #0 ba .*stack_depth\.c:%line(BA_A)\b
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here( \(.*\))?:\n    #0 ba .*stack_depth\.c:%line(BA_B)\b
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T0 .*\n    #0 main .*stack_depth\.c:%line(AB_B)\b
// CHECK: ^  Thread T1 .* created by thread T0 at:\n    #0 main .*stack_depth\.c:%line(CREATE)\b
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*stack_depth\.c:%line(BA_A) in ba$
// CHECK-NOT: ^    #1 
// CHECK-NOT: <empty stack>
//
// VARIANT: depth2
// RUN-OPTIONS: stack_depth=2
// CLEAR: CHECK CHECK-NOT
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T1 .*\n    #0 ba .*stack_depth\.c:%line(BA_A)\b.*\n    #1 start_thread 
// CHECK-NOT: ^    #2 
//
// VARIANT: out_of_range
// An out-of-range stack_depth is refused with one line, and the default (24) is used.
// RUN-OPTIONS: stack_depth=100
// CLEAR: CHECK CHECK-NOT
// CHECK: \A==%pid==locksan: stack_depth must be 1-64; using 24\n==%pid==WARNING
// CHECK: ^    #1 __libc_start_call_main 
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;

static void* ba(void* p) {
  pthread_mutex_lock(&b);  // @BA_B
  pthread_mutex_lock(&a);  // @BA_A
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
  return p;
}

int main(void) {
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&b);  // @AB_B
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
  pthread_t t;
  pthread_create(&t, 0, ba, 0);  // @CREATE
  pthread_join(t, 0);
  puts("done");
  return 0;
}
