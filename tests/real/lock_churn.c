// tests/real/lock_churn.c — detector memory against the number of live locks and against churn.
//
//   lock_churn LIVE CHURN [free|destroy|stack]
// Keeps LIVE heap mutexes alive to the end (each locked once, nested under a global lock, so each
// has a graph node and an edge), and meanwhile creates, uses and discards CHURN more mutexes, at most
// 64 alive at a time: `free` frees them without pthread_mutex_destroy (like std::mutex), `destroy`
// destroys then frees, `stack` uses mutexes on short-lived threads' stacks (one thread per 64 locks).
// Prints VmRSS at the end; run with LOCKSAN_OPTIONS=verbosity=1 for the detector's own statistics
// ("N locks live (M seen), E edges, ... K KiB of detector memory").
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;

static long rss_kib(void) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
  if (f) fclose(f);
  return v;
}

static void use(pthread_mutex_t* m) {
  pthread_mutex_lock(&outer);
  pthread_mutex_lock(m);
  pthread_mutex_unlock(m);
  pthread_mutex_unlock(&outer);
}

static void* stack_batch(void* p) {
  pthread_mutex_t local[64];
  for (int i = 0; i < 64; i++) {
    pthread_mutex_init(&local[i], 0);
    use(&local[i]);
  }
  return p;
}

int main(int argc, char** argv) {
  long live = argc > 1 ? atol(argv[1]) : 100000;
  long churn = argc > 2 ? atol(argv[2]) : 1000000;
  const char* mode = argc > 3 ? argv[3] : "free";
  pthread_mutex_t** keep = malloc(sizeof *keep * (live ? live : 1));
  for (long i = 0; i < live; i++) {
    keep[i] = malloc(sizeof(pthread_mutex_t));
    pthread_mutex_init(keep[i], 0);
    use(keep[i]);
  }
  if (!strcmp(mode, "stack")) {
    for (long done = 0; done < churn; done += 64) {
      pthread_t t;
      pthread_create(&t, 0, stack_batch, 0);
      pthread_join(t, 0);
    }
  } else {
    pthread_mutex_t* batch[64];
    for (long done = 0; done < churn; done += 64) {
      for (int i = 0; i < 64; i++) {
        batch[i] = malloc(sizeof(pthread_mutex_t));
        pthread_mutex_init(batch[i], 0);
        use(batch[i]);
      }
      for (int i = 0; i < 64; i++) {
        if (!strcmp(mode, "destroy")) pthread_mutex_destroy(batch[i]);
        free(batch[i]);
      }
    }
  }
  printf("live %ld churn %ld mode %s: VmRSS %ld KiB\n", live, churn, mode, rss_kib());
  return 0;
}
