// Records of exited threads are kept only while something a report can show names them, so that a
// program that runs thread after thread does not grow locksan's memory by a record per thread.
// Here thread "mid" starts thread "early", which takes mu_a then mu_b (an edge that stays in the
// graph) and exits; mid exits too. Then 6,000 short-lived threads each take a heap lock under
// mu_c and free it (their edges go with the lock): their records are dropped when the records reach
// the sweep threshold (4,096). Finally main takes mu_b then mu_a: the inversion's report must still
// name early, with its name and tid, created by mid, created by main — the records an edge names and
// their parents survive the sweeps.
//
// TIMEOUT: 120
// RUN-OPTIONS: verbosity=1
// CHECK: ^==%pid==WARNING: locksan: lock-order-inversion \(potential deadlock\)$
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T2 \(tid \d+, "early"\):$
// CHECK: ^    #0 early_body .*dead_thread_records\.c:%line(EARLY_B) 
// CHECK: ^  Thread T2 \(tid \d+, "early", finished\) created by thread T1 at:$
// CHECK: ^    #0 mid_body .*dead_thread_records\.c:%line(CREATE_EARLY) 
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*dead_thread_records\.c:%line(MAIN_A) in main$
// CHECK: stats: .* 6003 threads, .* \d{1,4} records of exited threads \([4-6]\d{3} dropped\)
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK-STDOUT: ^threads: 6000$
//
// VARIANT: json
// The JSON report lists every thread of the report with its parent: mid's record (kept as the
// parent of a kept record) is there with its name and creation stack.
// RUN-OPTIONS: report_format=json
// CLEAR: CHECK EXPECT-REPORTS
// CHECK: "threads":\[.*\{"number":2,"tid":[1-9]\d*,"name":"early","parent":1,"alive":false,"creation_stack":\{"id":\d+,"frames":\[\{"function":"mid_body"
// CHECK: \{"number":1,"tid":[1-9]\d*,"name":"mid","parent":0,"alive":false,"creation_stack":\{"id":\d+,"frames":\[\{"function":"main"
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { kChurn = 6000, kBatch = 16 };

pthread_mutex_t mu_a = PTHREAD_MUTEX_INITIALIZER, mu_b = PTHREAD_MUTEX_INITIALIZER,
                mu_c = PTHREAD_MUTEX_INITIALIZER;
long done;

static void* early_body(void* p) {
  pthread_setname_np(pthread_self(), "early");
  pthread_mutex_lock(&mu_a);
  pthread_mutex_lock(&mu_b);  // @EARLY_B
  pthread_mutex_unlock(&mu_b);
  pthread_mutex_unlock(&mu_a);
  return p;
}

static void* mid_body(void* p) {
  pthread_setname_np(pthread_self(), "mid");
  pthread_t t;
  pthread_create(&t, 0, early_body, 0);  // @CREATE_EARLY
  pthread_join(t, 0);
  return p;
}

static void* churn_body(void* p) {
  pthread_mutex_t* heap = malloc(sizeof *heap);
  pthread_mutex_init(heap, 0);
  pthread_mutex_lock(&mu_c);
  pthread_mutex_lock(heap);
  done++;
  pthread_mutex_unlock(heap);
  pthread_mutex_unlock(&mu_c);
  pthread_mutex_destroy(heap);
  free(heap);
  return p;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, 0, mid_body, 0);  // @CREATE_MID
  pthread_join(t, 0);
  for (int i = 0; i < kChurn; i += kBatch) {
    pthread_t c[kBatch];
    for (int j = 0; j < kBatch; j++)
      if (pthread_create(&c[j], 0, churn_body, 0) != 0) {
        printf("pthread_create failed\n");
        return 1;
      }
    for (int j = 0; j < kBatch; j++) pthread_join(c[j], 0);
  }
  printf("threads: %ld\n", done);
  pthread_mutex_lock(&mu_b);
  pthread_mutex_lock(&mu_a);  // @MAIN_A
  pthread_mutex_unlock(&mu_a);
  pthread_mutex_unlock(&mu_b);
  return 0;
}
