// pthread_cond_wait re-acquires its mutex on return, and that is an acquisition made while the
// thread's other locks are still held. T1 holds X, takes M with trylock (so that no X->M edge comes
// from the lock call itself), and waits on a condition with M: M is re-acquired while X is held,
// edge X->M. T2 (later) takes M then X: the inversion is reported.
//
// ARGS: wait
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// NATIVE-SAME-OUTPUT
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T2 
// CHECK: ^    #0 t2 .*condvar_reacquire\.c:%line(T2_X) 
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T1 
// CHECK: ^    #0 t1 .*condvar_reacquire\.c:%line(WAIT) 
// CHECK: global 'm'
// CHECK-STDOUT: ^woken$
//
// VARIANT: timedwait
// The same with pthread_cond_timedwait timing out (the mutex is re-acquired on ETIMEDOUT too).
// ARGS: timedwait
// CLEAR: CHECK CHECK-STDOUT
// CHECK: ^    #0 t1 .*condvar_reacquire\.c:%line(TIMEDWAIT) 
// CHECK-STDOUT: ^timedwait: ETIMEDOUT$
//
// VARIANT: control
// Control: T1 waits holding only M (X released before the wait): no edge X->M, no report.
// ARGS: control
// CLEAR: CHECK CHECK-STDOUT
// EXPECT-EXIT: 0
// EXPECT-REPORTS: lock-order-inversion=0
// EXPECT-NO-STDERR
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

pthread_mutex_t x = PTHREAD_MUTEX_INITIALIZER, m = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
int ready, waiting;
const char* mode;

static void* t1(void* p) {
  pthread_mutex_lock(&x);
  if (pthread_mutex_trylock(&m) != 0) return p;
  if (!strcmp(mode, "control")) {
    // Release X (not the most recent lock) and wait holding only M.
    pthread_mutex_unlock(&x);
  }
  if (!strcmp(mode, "timedwait")) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20 * 1000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    int rc = pthread_cond_timedwait(&cv, &m, &ts);  // @TIMEDWAIT
    printf("timedwait: %s\n", rc == ETIMEDOUT ? "ETIMEDOUT" : rc == 0 ? "0" : "other");
  } else {
    waiting = 1;
    while (!ready) pthread_cond_wait(&cv, &m);  // @WAIT
    puts("woken");
  }
  pthread_mutex_unlock(&m);
  if (strcmp(mode, "control")) pthread_mutex_unlock(&x);
  return p;
}

static void* t2(void* p) {
  pthread_mutex_lock(&m);
  pthread_mutex_lock(&x);  // @T2_X
  pthread_mutex_unlock(&x);
  pthread_mutex_unlock(&m);
  return p;
}

int main(int argc, char** argv) {
  mode = argc > 1 ? argv[1] : "wait";
  pthread_t t;
  pthread_create(&t, 0, t1, 0);
  if (strcmp(mode, "timedwait")) {
    // Wake T1 once it waits. main holds nothing else while it takes M: no edge.
    for (;;) {
      pthread_mutex_lock(&m);
      if (waiting) {
        ready = 1;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&m);
        break;
      }
      pthread_mutex_unlock(&m);
      struct timespec d = {0, 1000000};
      nanosleep(&d, 0);
    }
  }
  pthread_join(t, 0);
  pthread_create(&t, 0, t2, 0);
  pthread_join(t, 0);
  puts("done");
  return 0;
}
