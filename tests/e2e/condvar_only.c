// Threads that only use condition variables (each with its own mutex, never nested), sleep and join:
// no output from locksan at all.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^rounds 200$
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t ping = PTHREAD_COND_INITIALIZER, pong = PTHREAD_COND_INITIALIZER;
int turn, rounds;

static void* player(void* arg) {
  int me = (int)(long)arg;
  for (int i = 0; i < 100; i++) {
    pthread_mutex_lock(&mu);
    while (turn != me) pthread_cond_wait(me ? &pong : &ping, &mu);
    rounds++;
    turn = !me;
    pthread_cond_signal(me ? &ping : &pong);
    pthread_mutex_unlock(&mu);
  }
  return 0;
}

int main(void) {
  pthread_t a, b;
  pthread_create(&a, 0, player, (void*)0L);
  pthread_create(&b, 0, player, (void*)1L);
  usleep(1000);
  struct timespec d = {0, 1000000};
  nanosleep(&d, 0);
  pthread_join(a, 0);
  pthread_join(b, 0);
  printf("rounds %d\n", rounds);
  return 0;
}
