// tests/report/progs/deadlock.c — a real ABBA deadlock: both threads take their first lock, meet at
// a barrier, then block on the second. locksan reports the inversion before they block and its
// watchdog the deadlock itself; run with abort_on_deadlock=1 the process then aborts.
#include <pthread.h>

pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_barrier_t both_hold;

static void* producer(void* arg) {
  (void)arg;
  pthread_mutex_lock(&queue_lock);
  pthread_barrier_wait(&both_hold);
  pthread_mutex_lock(&stats_lock);
  return NULL;
}

static void* reporter(void* arg) {
  (void)arg;
  pthread_mutex_lock(&stats_lock);
  pthread_barrier_wait(&both_hold);
  pthread_mutex_lock(&queue_lock);
  return NULL;
}

int main(void) {
  pthread_t a, b;
  pthread_barrier_init(&both_hold, NULL, 2);
  pthread_create(&a, NULL, producer, NULL);
  pthread_create(&b, NULL, reporter, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  return 0;
}
