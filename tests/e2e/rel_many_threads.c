// 10,000 threads over one run, at most 16 alive at a time. Each thread takes two global locks in
// order, a lock on its own stack and a heap lock, and exits. locksan keeps per-thread state; memory
// must stay bounded by the threads alive, not grow with every thread that ever ran. At the end the
// program compares its VmRSS with the VmRSS after the first 500 threads: the growth over the next
// 9,500 threads must stay under 32 MiB (without locksan it is ~0). It also prints the growth.
// verbosity=1 prints the detector's own memory at exit.
//
// TIMEOUT: 120
// RUN-OPTIONS: verbosity=1
// CHECK-STDOUT: ^threads: 10000$
// CHECK-STDOUT: ^rss growth over 9500 threads: bounded \(\d+ KiB\)$
// CHECK: ^==%pid==locksan: stats: \d+ locks live \(\d+ seen\), \d+ edges .* 10001 threads, 
// CHECK-NOT: WARNING
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kTotal = 10000, kBatch = 16, kWarm = 500 };

pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
long done;

static long rss_kib(void) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
  if (f) fclose(f);
  return v;
}

static void* body(void* p) {
  pthread_mutex_t local;
  pthread_mutex_init(&local, 0);
  pthread_mutex_t* heap = malloc(sizeof *heap);
  pthread_mutex_init(heap, 0);
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&local);
  pthread_mutex_lock(heap);
  pthread_mutex_lock(&b);
  done++;
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(heap);
  pthread_mutex_unlock(&local);
  pthread_mutex_unlock(&a);
  pthread_mutex_destroy(heap);
  free(heap);
  return p;
}

int main(void) {
  long warm = 0;
  for (int i = 0; i < kTotal; i += kBatch) {
    pthread_t t[kBatch];
    for (int j = 0; j < kBatch; j++)
      if (pthread_create(&t[j], 0, body, 0) != 0) {
        printf("pthread_create failed\n");
        return 1;
      }
    for (int j = 0; j < kBatch; j++) pthread_join(t[j], 0);
    if (i + kBatch == kWarm) warm = rss_kib();
  }
  long end = rss_kib();
  long growth = end - warm;
  printf("threads: %ld\n", done);
  printf("rss growth over %d threads: %s (%ld KiB)\n", kTotal - kWarm,
         growth < 32 * 1024 ? "bounded" : "UNBOUNDED", growth);
  return 0;
}
