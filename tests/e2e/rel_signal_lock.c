// Signal handlers that lock a mutex. A SIGALRM timer fires every 50 us for about 1.5 s, always on the
// main thread (the workers are created with SIGALRM and SIGUSR1 blocked); the handler takes S (a lock
// the interrupted code never holds) and S->S2 nested; both signals are blocked while it runs. Meanwhile the main thread takes A->B, rwlocks, trylocks, fresh heap locks
// (the detector's slow paths, where the runtime is busy when the signal lands) and a recursive mutex,
// and two workers take A->B and fresh locks too. Every order is consistent: no report, no crash,
// no hang, exit 0, and the handler really ran (thousands of times).
//
// By default the handler runs behind locksan's trampoline, which delays a signal that lands in one of
// locksan's critical sections to its end (defer_signals); the *_masked variants block signals there.
//
// An edge from whatever main holds when the signal arrives into S is a real order (a handler can
// block on S while main holds A); none of them closes a cycle here.
//
// TIMEOUT: 15
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^handler ran: many$
// CHECK-STDOUT: ^done$
//
// VARIANT: sigusr_from_threads
// The signal is also sent by the workers with pthread_kill (SIGUSR1, same handler) at random moments.
// ARGS: kill
//
// VARIANT: any_thread
// SIGALRM is blocked in no thread: the handler runs on whichever thread the kernel picks, so one
// thread's handler may wait for S while another thread's handler holds it. Natively this cannot
// deadlock (S and S2 are only ever taken inside handlers, in one order, and a handler never
// interrupts a handler); under locksan it must not either.
// ARGS: any
//
// VARIANT: any_signal
// The same with the handler installed by signal() instead of sigaction() (BSD semantics; SIGALRM
// only): locksan must wrap a handler installed that way too (its trampoline delays a signal that lands
// in a runtime critical section to the section's end; verbosity=1 says at exit how many were).
// ARGS: any_signal
// RUN-OPTIONS: verbosity=1
// CLEAR: EXPECT-NO-STDERR
// CHECK: ^==%pid==locksan: program signal handlers: yes \(deferred to the end of locksan's critical sections: [1-9]\d* signals\)$
// CHECK-NOT: WARNING
//
// VARIANT: any_masked
// The same with defer_signals=0: signals are blocked around the runtime's critical sections instead.
// ARGS: any
// RUN-OPTIONS: verbosity=1:defer_signals=0
// CLEAR: EXPECT-NO-STDERR
// CHECK: ^==%pid==locksan: program signal handlers: yes \(signals blocked around the lock graph\)$
// CHECK-NOT: WARNING
//
// VARIANT: kill_masked
// sigusr_from_threads with defer_signals=0.
// ARGS: kill
// RUN-OPTIONS: defer_signals=0
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t s = PTHREAD_MUTEX_INITIALIZER, s2 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
volatile sig_atomic_t handled;
volatile int stop;
pthread_t main_thread;
int use_kill, any_thread;

static void handler(int sig) {
  (void)sig;
  pthread_mutex_lock(&s);
  pthread_mutex_lock(&s2);
  handled++;
  pthread_mutex_unlock(&s2);
  pthread_mutex_unlock(&s);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void work(unsigned* seed) {
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&b);
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
  pthread_rwlock_rdlock(&rw);
  if (pthread_mutex_trylock(&a) == 0) pthread_mutex_unlock(&a);
  pthread_rwlock_unlock(&rw);
  pthread_mutex_lock(&rec);
  pthread_mutex_lock(&rec);
  pthread_mutex_lock(&b);
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&rec);
  pthread_mutex_unlock(&rec);
  // Fresh heap locks: registration, edges and forgetting (free) on every iteration.
  pthread_mutex_t* m = malloc(3 * sizeof(pthread_mutex_t));
  for (int i = 0; i < 3; i++) pthread_mutex_init(&m[i], 0);
  pthread_mutex_lock(&a);
  for (int i = 0; i < 3; i++) pthread_mutex_lock(&m[i]);
  for (int i = 3; i-- > 0;) pthread_mutex_unlock(&m[i]);
  pthread_mutex_unlock(&a);
  if (rand_r(seed) % 4 == 0)
    for (int i = 0; i < 3; i++) pthread_mutex_destroy(&m[i]);
  free(m);
}

static void* worker(void* p) {
  unsigned seed = (unsigned)(size_t)p;
  while (!stop) {
    work(&seed);
    if (use_kill && rand_r(&seed) % 64 == 0) pthread_kill(main_thread, SIGUSR1);
  }
  return p;
}

int main(int argc, char** argv) {
  use_kill = argc > 1 && !strcmp(argv[1], "kill");
  int via_signal = argc > 1 && !strcmp(argv[1], "any_signal");
  any_thread = via_signal || (argc > 1 && !strcmp(argv[1], "any"));
  main_thread = pthread_self();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  // Both signals are blocked while the handler runs: a handler interrupted by the other signal would
  // lock S again (a real self-deadlock, which locksan reports as a double-lock).
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGALRM);
  sigaddset(&sa.sa_mask, SIGUSR1);
  sa.sa_flags = SA_RESTART;
  if (via_signal) {
    signal(SIGALRM, handler);
  } else {
    sigaction(SIGALRM, &sa, 0);
    sigaction(SIGUSR1, &sa, 0);
  }
  // Workers inherit the signal mask of their creator.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  sigaddset(&set, SIGUSR1);
  if (!any_thread) pthread_sigmask(SIG_BLOCK, &set, &old);
  pthread_t w[2];
  for (int i = 0; i < 2; i++) pthread_create(&w[i], 0, worker, (void*)(size_t)(i + 1));
  if (!any_thread) pthread_sigmask(SIG_SETMASK, &old, 0);
  struct itimerval it = {{0, 50}, {0, 50}};
  setitimer(ITIMER_REAL, &it, 0);
  unsigned seed = 7;
  double end = now() + 1.5;
  while (now() < end) work(&seed);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, 0);
  stop = 1;
  for (int i = 0; i < 2; i++) pthread_join(w[i], 0);
  printf("handler ran: %s\n", handled > 1000 ? "many" : "few");
  printf("done\n");
  return 0;
}
