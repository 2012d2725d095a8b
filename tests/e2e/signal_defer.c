// Program signal handlers behind locksan's trampoline (defer_signals, docs/design.md "Signals").
//
// Base: a queued real-time signal with a value is sent to the main thread 3,000 times, one at a time
// (the sender waits until the handler has seen each), while the main thread makes fresh heap locks
// (the detector's critical sections) all the time; many land in one and are delivered at its end. The
// SA_SIGINFO handler checks every siginfo: the code (SI_QUEUE), the sender's pid and the value, in
// order. Nothing is lost, nothing is changed, and some signals were deferred (verbosity=1).
//
// TIMEOUT: 60
// RUN-OPTIONS: verbosity=1
// CHECK-STDOUT: ^signals: 3000, bad: 0$
// CHECK-STDOUT: ^done$
// CHECK: ^==%pid==locksan: program signal handlers: yes \(deferred to the end of locksan's critical sections: [1-9]\d* signals\)$
// CHECK-NOT: WARNING
//
// VARIANT: roundtrip
// What the program reads back is its own: sigaction() returns its handler and flags (not the
// trampoline, no SA_SIGINFO it did not ask for), signal() returns the previous handler; the same
// output natively.
// ARGS: roundtrip
// NATIVE-SAME-OUTPUT
// CLEAR: CHECK CHECK-STDOUT RUN-OPTIONS
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^usr1: own handler yes, flags 0x10000000 \(SA_SIGINFO no\), mask has USR2 yes$
// CHECK-STDOUT: ^usr1 siginfo: own handler yes, SA_SIGINFO yes$
// CHECK-STDOUT: ^signal\(\) returned: default yes, then h1 yes, then h2 yes$
// CHECK-STDOUT: ^usr2 after signal\(\): own handler yes, SA_RESTART yes, SA_SIGINFO no$
// CHECK-STDOUT: ^raised: h1 0, h2 1, info 1 \(value 7, code ok\)$
// CHECK-STDOUT: ^done$
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000  // glibc sets it in every action it installs (kernel ABI, not exported)
#endif

static volatile int g_seen, g_bad, g_done;
static pid_t g_pid;

static void on_rt(int sig, siginfo_t* si, void* uc) {
  (void)sig;
  (void)uc;
  if (si->si_code != SI_QUEUE || si->si_pid != g_pid || si->si_value.sival_int != g_seen + 1) g_bad++;
  g_seen++;
}

static void* sender(void* arg) {
  int n = (int)(size_t)arg;
  for (int i = 1; i <= n; i++) {
    union sigval v;
    v.sival_int = i;
    sigqueue(g_pid, SIGRTMIN + 1, v);
    for (int spins = 0; g_seen < i; spins++) {
      struct timespec ts = {0, 20000};
      nanosleep(&ts, NULL);
      if (spins > 250000) {  // 5 s: the signal was lost
        g_bad++;
        g_done = 1;
        return NULL;
      }
    }
  }
  g_done = 1;
  return NULL;
}

static pthread_mutex_t A = PTHREAD_MUTEX_INITIALIZER;

static void fresh_locks(void) {
  pthread_mutex_t* m = malloc(2 * sizeof *m);
  pthread_mutex_init(&m[0], NULL);
  pthread_mutex_init(&m[1], NULL);
  pthread_mutex_lock(&A);
  pthread_mutex_lock(&m[0]);
  pthread_mutex_lock(&m[1]);
  pthread_mutex_unlock(&m[1]);
  pthread_mutex_unlock(&m[0]);
  pthread_mutex_unlock(&A);
  free(m);
}

static volatile int h1_ran, h2_ran, info_ran, info_value, info_code_ok;
static void h1(int sig) { (void)sig; h1_ran++; }
static void h2(int sig) { (void)sig; h2_ran++; }
static void hinfo(int sig, siginfo_t* si, void* uc) {
  (void)sig;
  (void)uc;
  info_ran++;
  info_value = si->si_value.sival_int;
  info_code_ok = si->si_code == SI_QUEUE;
}

static const char* yes(int b) { return b ? "yes" : "no"; }

static int roundtrip(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h1;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR1, NULL, &old);
  printf("usr1: own handler %s, flags 0x%x (SA_SIGINFO %s), mask has USR2 %s\n", yes(old.sa_handler == h1),
         (unsigned)(old.sa_flags & ~SA_RESTORER), yes(old.sa_flags & SA_SIGINFO),
         yes(sigismember(&old.sa_mask, SIGUSR2)));
  sa.sa_sigaction = hinfo;
  sa.sa_flags = SA_SIGINFO;
  struct sigaction prev;
  sigaction(SIGUSR1, &sa, &prev);  // prev: h1 again
  sigaction(SIGUSR1, NULL, &old);
  printf("usr1 siginfo: own handler %s, SA_SIGINFO %s\n", yes(old.sa_sigaction == hinfo && prev.sa_handler == h1),
         yes(old.sa_flags & SA_SIGINFO));
  sighandler_t r0 = signal(SIGUSR2, h1);
  sighandler_t r1 = signal(SIGUSR2, h2);
  sighandler_t r2 = signal(SIGUSR2, h2);
  printf("signal() returned: default %s, then h1 %s, then h2 %s\n", yes(r0 == SIG_DFL), yes(r1 == h1),
         yes(r2 == h2));
  sigaction(SIGUSR2, NULL, &old);
  printf("usr2 after signal(): own handler %s, SA_RESTART %s, SA_SIGINFO %s\n", yes(old.sa_handler == h2),
         yes(old.sa_flags & SA_RESTART), yes(old.sa_flags & SA_SIGINFO));
  raise(SIGUSR2);
  union sigval v;
  v.sival_int = 7;
  sigqueue(getpid(), SIGUSR1, v);
  printf("raised: h1 %d, h2 %d, info %d (value %d, code %s)\n", h1_ran, h2_ran, info_ran, info_value,
         info_code_ok ? "ok" : "wrong");
  printf("done\n");
  return 0;
}

int main(int argc, char** argv) {
  g_pid = getpid();
  if (argc > 1 && strcmp(argv[1], "roundtrip") == 0) return roundtrip();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_rt;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGRTMIN + 1, &sa, NULL);
  // Only the main thread takes the signal: the sender is created with it blocked.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN + 1);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  pthread_t t;
  const int n = 3000;
  pthread_create(&t, NULL, sender, (void*)(size_t)n);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  while (!g_done) fresh_locks();
  pthread_join(t, NULL);
  printf("signals: %d, bad: %d\n", g_seen, g_bad);
  printf("done\n");
  return 0;
}
