// fork while other threads hold locks and keep locking. Thread T1 holds L across the forks; stress
// threads take fresh heap locks (the detector's slow paths) the whole time. Each child locks and
// unlocks its own mutexes (nested, consistent order), uses a condition variable and a thread, and
// exits 0: no report, no hang, in parent or child. A child that does not finish within 5 s is killed
// and named on stdout (and the run stops forking).
//
// TIMEOUT: 20
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^children ok: 100/100$
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t l = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
pthread_barrier_t bar;
volatile int stop;
int flag;

static void* holder(void* p) {
  pthread_mutex_lock(&l);
  pthread_barrier_wait(&bar);  // main forks now
  pthread_barrier_wait(&bar);  // main is done forking
  pthread_mutex_unlock(&l);
  return p;
}

static void* stress(void* p) {
  while (!stop) {
    pthread_mutex_t* m = malloc(2 * sizeof(pthread_mutex_t));
    pthread_mutex_init(&m[0], 0);
    pthread_mutex_init(&m[1], 0);
    pthread_mutex_lock(&m[0]);
    pthread_mutex_lock(&m[1]);
    pthread_mutex_unlock(&m[1]);
    pthread_mutex_unlock(&m[0]);
    free(m);
  }
  return p;
}

static void* child_thread(void* p) {
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&b);
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
  pthread_mutex_lock(&cmu);
  flag = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&cmu);
  return p;
}

static int child(void) {
  for (int i = 0; i < 100; i++) {
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
  }
  pthread_t t;
  if (pthread_create(&t, 0, child_thread, 0) != 0) return 2;
  pthread_mutex_lock(&cmu);
  while (!flag) pthread_cond_wait(&cv, &cmu);
  pthread_mutex_unlock(&cmu);
  pthread_join(t, 0);
  return 0;
}

int main(void) {
  pthread_barrier_init(&bar, 0, 2);
  pthread_t h, s[2];
  pthread_create(&h, 0, holder, 0);
  for (int i = 0; i < 2; i++) pthread_create(&s[i], 0, stress, 0);
  pthread_barrier_wait(&bar);
  int ok = 0;
  for (int i = 0; i < 100; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) exit(child());
    int st = 0, done = 0;
    for (int ms = 0; ms < 5000 && !done; ms++) {
      done = waitpid(pid, &st, WNOHANG) == pid;
      if (!done) {
        struct timespec d = {0, 1000000};
        nanosleep(&d, 0);
      }
    }
    if (!done) {
      printf("child %d (fork #%d) hung: killed\n", (int)pid, i + 1);
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      break;
    }
    ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  pthread_barrier_wait(&bar);
  stop = 1;
  pthread_join(h, 0);
  for (int i = 0; i < 2; i++) pthread_join(s[i], 0);
  printf("children ok: %d/100\n", ok);
  return 0;
}
