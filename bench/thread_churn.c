// bench/thread_churn.c — cost of a program that runs one thread at a time: N sequential
// pthread_create + pthread_join of a thread that locks one mutex. With an argument, a second thread
// stays alive meanwhile (under locksan the watchdog then never stops). Prints microseconds per pair.
//   cc -O2 -pthread bench/thread_churn.c -o churn
//   ./churn; LD_PRELOAD=build/liblocksan.so ./churn; LD_PRELOAD=build/liblocksan.so ./churn keep
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void* work(void* p) {
  pthread_mutex_lock(&m);
  pthread_mutex_unlock(&m);
  return p;
}
static void* idle(void* p) {
  struct timespec ts = {5, 0};
  nanosleep(&ts, 0);
  return p;
}

int main(int argc, char** argv) {
  (void)argv;
  enum { kPairs = 2000 };
  pthread_t keep;
  if (argc > 1) pthread_create(&keep, 0, idle, 0);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < kPairs; i++) {
    pthread_t t;
    pthread_create(&t, 0, work, 0);
    pthread_join(t, 0);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%s: %.1f us per create+join\n", argc > 1 ? "2 threads" : "1 thread",
         ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / kPairs / 1e3);
  return 0;
}
