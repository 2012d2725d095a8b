// Binary semaphores as locks (as CPython's threading.Lock uses them): a successful sem_trywait is an
// acquisition, order-checked as a blocking one; a failed sem_trywait by the semaphore's holder drops
// it from the holder's held stack and leaves it tracked (the holder posts it later itself:
// Condition._is_owned); a blocking wait for it after such a probe makes it a signal.
//
// base: T1 takes S (sem_wait) then M; T2, later, holds M and takes S with sem_trywait (it succeeds:
// S is free). The cycle S -> M -> S is reported, the trywait as the acquisition.
// ARGS: abba_try
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// NATIVE-SAME-OUTPUT
// CHECK: ^  Semaphore SEM\d+ acquired here while holding mutex M\d+, in thread T2 
// CHECK: ^    #0 t2_abba_try .*sem_probe\.c:%line(TRY_S) 
// CHECK: ^  Mutex M\d+ acquired here while holding semaphore SEM\d+, in thread T1 
// CHECK: ^    #0 t1_s_then_m .*sem_probe\.c:%line(S_THEN_M) 
//
// VARIANT: probe_keeps
// T1 takes S, probes it with sem_trywait (fails: T1 holds it), posts it. Then T2 takes S then M, and T3
// M then S: S stayed tracked, and the cycle is reported (before 2026-11-28 the failed probe forgot S,
// and nothing was).
// ARGS: probe_keeps
// CLEAR: CHECK
// CHECK: ^  Semaphore SEM\d+ acquired here while holding mutex M\d+, in thread T3 
// CHECK: ^    #0 t3_m_then_s .*sem_probe\.c:%line(M_THEN_S) 
// CHECK: ^  Mutex M\d+ acquired here while holding semaphore SEM\d+, in thread T2 
// CHECK: ^    #0 t1_s_then_m .*sem_probe\.c:%line(S_THEN_M) 
//
// VARIANT: probe_window
// The limit of the rule (docs/limits.md): T1 takes S, probes it (fails), takes M, posts S. Between the
// failed probe and the post S is not in T1's held stack, so T1 makes no edge S -> M, and T2's M -> S
// closes no cycle.
// ARGS: probe_window
// CLEAR: EXPECT-EXIT EXPECT-REPORTS CHECK
// EXPECT-NO-STDERR
//
// VARIANT: signal
// Condition.wait's waiter lock in C: T1 takes W, probes it (fails), then blocks on it until T2 posts it
// while holding M; T1 then takes M. W is a signal: no report, and the program's output is its own.
// ARGS: signal
// CLEAR: EXPECT-EXIT EXPECT-REPORTS CHECK
// EXPECT-NO-STDERR
//
// VARIANT: stale_drop
// The drop a failed probe records is for that semaphore only: T1 takes W, probes it (fails), then
// destroys it and makes another binary semaphore at the same address. T2 takes the new one; T1 probes
// it (fails: T2 holds it) and blocks until T2 posts it — an ordinary contended acquisition, not a
// signal wait. T1 then takes M under it, and T3 takes M then W: the cycle is reported.
// ARGS: stale_drop
// CLEAR: CHECK
// CHECK: ^  Semaphore SEM\d+ acquired here while holding mutex M\d+, in thread T3 
// CHECK: ^    #0 t3_m_then_w .*sem_probe\.c:%line(M_THEN_W) 
// CHECK: ^  Mutex M\d+ acquired here while holding semaphore SEM\d+, in thread T1 
// CHECK: ^    #0 t1_stale .*sem_probe\.c:%line(STALE_M) 
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static sem_t s;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void* t1_s_then_m(void* arg) {
  (void)arg;
  sem_wait(&s);
  pthread_mutex_lock(&m);  // @S_THEN_M
  pthread_mutex_unlock(&m);
  sem_post(&s);
  return NULL;
}

static void* t2_abba_try(void* arg) {
  (void)arg;
  pthread_mutex_lock(&m);
  int rc = sem_trywait(&s);  // @TRY_S
  printf("trywait S: %d\n", rc);
  if (rc == 0) sem_post(&s);
  pthread_mutex_unlock(&m);
  return NULL;
}

static void* t1_probe(void* arg) {
  (void)arg;
  sem_wait(&s);
  int rc = sem_trywait(&s);
  int e = errno;
  printf("probe by the holder: %d (%s)\n", rc, rc ? strerror(e) : "taken");
  sem_post(&s);
  return NULL;
}

static void* t3_m_then_s(void* arg) {
  (void)arg;
  pthread_mutex_lock(&m);
  sem_wait(&s);  // @M_THEN_S
  sem_post(&s);
  pthread_mutex_unlock(&m);
  return NULL;
}

static void* t1_probe_window(void* arg) {
  (void)arg;
  sem_wait(&s);
  int rc = sem_trywait(&s);
  printf("probe by the holder: %d\n", rc);
  pthread_mutex_lock(&m);
  pthread_mutex_unlock(&m);
  sem_post(&s);
  return NULL;
}

static sem_t w;

static void* t1_waiter(void* arg) {
  (void)arg;
  sem_wait(&w);
  int rc = sem_trywait(&w);
  printf("poll: %d\n", rc);
  sem_wait(&w);  // until t2 posts it
  pthread_mutex_lock(&m);
  pthread_mutex_unlock(&m);
  puts("signalled");
  return NULL;
}

static void* t2_notifier(void* arg) {
  (void)arg;
  usleep(50 * 1000);
  pthread_mutex_lock(&m);
  sem_post(&w);
  pthread_mutex_unlock(&m);
  return NULL;
}

static pthread_barrier_t held_by_t2;

static void* t2_holds_w(void* arg) {
  (void)arg;
  sem_wait(&w);
  pthread_barrier_wait(&held_by_t2);
  usleep(50 * 1000);
  sem_post(&w);
  return NULL;
}

static void* t1_stale(void* arg) {
  (void)arg;
  sem_wait(&w);
  int rc = sem_trywait(&w);
  printf("probe by the holder: %d\n", rc);
  sem_destroy(&w);
  sem_init(&w, 0, 1);  // another semaphore at the same address
  pthread_t t2;
  pthread_create(&t2, NULL, t2_holds_w, NULL);
  pthread_barrier_wait(&held_by_t2);
  rc = sem_trywait(&w);
  printf("probe while T2 holds it: %d\n", rc);
  sem_wait(&w);
  pthread_mutex_lock(&m);  // @STALE_M
  pthread_mutex_unlock(&m);
  sem_post(&w);
  pthread_join(t2, NULL);
  return NULL;
}

static void* t3_m_then_w(void* arg) {
  (void)arg;
  pthread_mutex_lock(&m);
  sem_wait(&w);  // @M_THEN_W
  sem_post(&w);
  pthread_mutex_unlock(&m);
  return NULL;
}

static void run(void* (*f)(void*)) {
  pthread_t t;
  pthread_create(&t, NULL, f, NULL);
  pthread_join(t, NULL);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "abba_try";
  sem_init(&s, 0, 1);
  sem_init(&w, 0, 1);
  if (strcmp(mode, "abba_try") == 0) {
    run(t1_s_then_m);
    run(t2_abba_try);
  } else if (strcmp(mode, "probe_keeps") == 0) {
    run(t1_probe);
    run(t1_s_then_m);
    run(t3_m_then_s);
  } else if (strcmp(mode, "probe_window") == 0) {
    run(t1_probe_window);
    run(t3_m_then_s);
  } else if (strcmp(mode, "stale_drop") == 0) {
    pthread_barrier_init(&held_by_t2, NULL, 2);
    run(t1_stale);
    run(t3_m_then_w);
  } else if (strcmp(mode, "signal") == 0) {
    pthread_t a, b;
    pthread_create(&a, NULL, t1_waiter, NULL);
    pthread_create(&b, NULL, t2_notifier, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
  }
  puts("done");
  return 0;
}
