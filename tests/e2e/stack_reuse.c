// Locks on a thread's stack are forgotten when the thread exits (glibc caches thread stacks and hands
// them to later threads). T1 has a local mutex L, takes G then L, and exits. T2 -- very likely on the
// same stack -- has a local mutex at the same address, and takes it then G. Different locks: no report.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^same address: yes$
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t g = PTHREAD_MUTEX_INITIALIZER;
void* first_addr;
int same;

__attribute__((noinline)) static void frame(int second) {
  pthread_mutex_t local = PTHREAD_MUTEX_INITIALIZER;  // no init call: only the exit tells
  if (!second) {
    first_addr = &local;
    pthread_mutex_lock(&g);
    pthread_mutex_lock(&local);
    pthread_mutex_unlock(&local);
    pthread_mutex_unlock(&g);
  } else {
    same = first_addr == (void*)&local;
    pthread_mutex_lock(&local);
    pthread_mutex_lock(&g);
    pthread_mutex_unlock(&g);
    pthread_mutex_unlock(&local);
  }
}

static void* body(void* arg) {
  frame(arg != 0);
  return 0;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, 0, body, 0);
  pthread_join(t, 0);
  pthread_create(&t, 0, body, (void*)1);
  pthread_join(t, 0);
  printf("same address: %s\n", same ? "yes" : "no");
  return 0;
}
