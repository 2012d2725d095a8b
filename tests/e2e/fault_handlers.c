// Handlers of the synchronous fault signals (SIGSEGV, SIGBUS, SIGFPE), as PyTorch's DataLoader workers
// and crash reporters install them, do not make locksan block signals around its lock graph (two
// system calls per slow path): such a handler runs where an instruction faulted, not inside the
// runtime. The program installs them, takes fresh locks in a consistent order from two threads (the
// detector's slow paths), and really faults once in a worker: the handler recovers with siglongjmp,
// so the program's own fault handling still works under the preload.
//
// TIMEOUT: 15
// RUN-OPTIONS: verbosity=1
// CHECK-STDOUT: ^fault handled: 1$
// CHECK-STDOUT: ^done$
// CHECK: ^==%pid==locksan: program signal handlers: none \(signals left unblocked around the lock graph\)$
// CHECK-NOT: WARNING
//
// VARIANT: plus_sigusr1
// The same program with a SIGUSR1 handler as well (installed with signal()): an asynchronous signal's
// handler can interrupt the runtime anywhere, so it runs behind locksan's trampoline.
// ARGS: usr1
// CLEAR: CHECK
// CHECK: ^==%pid==locksan: program signal handlers: yes \(deferred to the end of locksan's critical sections: \d+ signals\)$
// CHECK-NOT: WARNING
//
// VARIANT: plus_sigusr1_masked
// The same with defer_signals=0: signals are blocked around the lock graph.
// ARGS: usr1
// RUN-OPTIONS: verbosity=1:defer_signals=0
// CLEAR: CHECK
// CHECK: ^==%pid==locksan: program signal handlers: yes \(signals blocked around the lock graph\)$
// CHECK-NOT: WARNING
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread sigjmp_buf t_jmp;
static __thread volatile int t_armed;
static volatile sig_atomic_t g_faults;

static void on_fault(int sig, siginfo_t* si, void* ctx) {
  (void)si;
  (void)ctx;
  if (!t_armed) {
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  g_faults++;
  siglongjmp(t_jmp, 1);
}

static void on_usr1(int sig) { (void)sig; }

static pthread_mutex_t A = PTHREAD_MUTEX_INITIALIZER;

static void* worker(void* arg) {
  int fault = arg != NULL;
  for (int i = 0; i < 2000; i++) {
    pthread_mutex_t* m = malloc(sizeof *m);  // a fresh lock every time: the slow path
    pthread_mutex_init(m, NULL);
    pthread_mutex_lock(&A);
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
    pthread_mutex_unlock(&A);
    free(m);
  }
  if (fault) {
    t_armed = 1;
    if (sigsetjmp(t_jmp, 1) == 0) {
      volatile int* volatile p = NULL;
      *p = 1;  // SIGSEGV
    }
    t_armed = 0;
  }
  return NULL;
}

int main(int argc, char** argv) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGFPE, &sa, NULL);
  if (argc > 1 && strcmp(argv[1], "usr1") == 0) signal(SIGUSR1, on_usr1);
  pthread_t t[2];
  pthread_create(&t[0], NULL, worker, (void*)1);
  pthread_create(&t[1], NULL, worker, NULL);
  pthread_join(t[0], NULL);
  pthread_join(t[1], NULL);
  printf("fault handled: %d\n", (int)g_faults);
  printf("done\n");
  return 0;
}
