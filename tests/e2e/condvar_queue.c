// A work queue with several producers and consumers using pthread_cond_wait and
// pthread_cond_timedwait, plus a stats lock taken inside the queue lock (always in that order):
// no report, and the same output as without locksan.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^consumed 4000 items, sum 7998000$
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#define CAP 16
#define PRODUCERS 4
#define CONSUMERS 4
#define PER_PRODUCER 1000

pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
int queue[CAP], head, count, producers_left = PRODUCERS;
long consumed, sum;

static void* producer(void* arg) {
  long id = (long)arg;
  for (int i = 0; i < PER_PRODUCER; i++) {
    pthread_mutex_lock(&qmu);
    while (count == CAP) pthread_cond_wait(&not_full, &qmu);
    queue[(head + count) % CAP] = (int)(id * PER_PRODUCER + i);
    count++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&qmu);
  }
  pthread_mutex_lock(&qmu);
  producers_left--;
  pthread_cond_broadcast(&not_empty);
  pthread_mutex_unlock(&qmu);
  return 0;
}

static void* consumer(void* arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&qmu);
    while (count == 0 && producers_left > 0) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 1000000;
      if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
      pthread_cond_timedwait(&not_empty, &qmu, &ts);
    }
    if (count == 0) {
      pthread_mutex_unlock(&qmu);
      return 0;
    }
    int v = queue[head];
    head = (head + 1) % CAP;
    count--;
    pthread_cond_signal(&not_full);
    pthread_mutex_lock(&stats_mu);
    consumed++;
    sum += v;
    pthread_mutex_unlock(&stats_mu);
    pthread_mutex_unlock(&qmu);
  }
}

int main(void) {
  pthread_t p[PRODUCERS], c[CONSUMERS];
  for (long i = 0; i < CONSUMERS; i++) pthread_create(&c[i], 0, consumer, (void*)i);
  for (long i = 0; i < PRODUCERS; i++) pthread_create(&p[i], 0, producer, (void*)i);
  for (int i = 0; i < PRODUCERS; i++) pthread_join(p[i], 0);
  for (int i = 0; i < CONSUMERS; i++) pthread_join(c[i], 0);
  printf("consumed %ld items, sum %ld\n", consumed, sum);
  return 0;
}
