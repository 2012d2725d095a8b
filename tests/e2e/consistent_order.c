// Many threads take A->B->C (and A->C) in the same order, concurrently, many times: no report.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER, c = PTHREAD_MUTEX_INITIALIZER;
long counter;

static void* worker(void* arg) {
  long n = (long)arg;
  for (int i = 0; i < 20000; i++) {
    pthread_mutex_lock(&a);
    if ((i + n) % 2) pthread_mutex_lock(&b);
    pthread_mutex_lock(&c);
    counter++;
    pthread_mutex_unlock(&c);
    if ((i + n) % 2) pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
  }
  return 0;
}

int main(void) {
  pthread_t t[8];
  for (long i = 0; i < 8; i++) pthread_create(&t[i], 0, worker, (void*)i);
  for (int i = 0; i < 8; i++) pthread_join(t[i], 0);
  printf("counter=%ld\n", counter);
  return 0;
}
