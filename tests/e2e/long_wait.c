// long_wait_ms: a thread blocked on a lock that another (running) thread holds for long is reported
// once per wait as `long-wait` (not a deadlock): the waiting thread, the lock, its holder, how long,
// where it waits, the holder's locks and (when it is itself in a futex wait) its stack. Off by
// default; waits that are not on a held lock (condition variables, sleep, join, pipe I/O, a semaphore
// used as a signal) never produce it. The program runs on unchanged: stdout as natively (a sleep of
// the holder is not cut short by the stack signal), exit status 66 (exitcode, as for every report).
//  - hold: T1 holds mutex l for 1.5 s twice, first sleeping (usleep: its stack is not taken), then
//    waiting on a condition variable (its stack is taken); main locks l each time (two reports).
//  - off: the same without long_wait_ms: nothing is printed, exit 0.
//  - reader: T1 holds rwlock rw for writing 1.5 s; main read-locks it.
//  - benign: 1 s waits on a condition variable, in sleep, in pthread_join, in read() on a pipe and in
//    sem_wait on a semaphore posted by another thread; a mutex held 1 s that nobody waits for.
//
// ARGS: hold
// RUN-OPTIONS: long_wait_ms=500:watchdog_interval_ms=100
// TIMEOUT: 20
// EXPECT-EXIT: 66
// EXPECT-REPORTS: long-wait=2
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^main got l twice$
// CHECK: ^==%pid==WARNING: locksan: long-wait \(a thread has been blocked on a lock for long\)$
// CHECK: ^  Thread T0 \(tid %pid, "long_wait\.exe"\) has been waiting [0-9.]+ s to lock mutex M\d+ \(0x[0-9a-f]+\), held by thread T1\.$
// CHECK: ^    blocked in: main .*long_wait\.c:%line(WAIT1)\b
// CHECK: ^    stack:$
// CHECK: ^    #\d+ main .*long_wait\.c:%line(WAIT1)\b
// CHECK: ^  Thread T1 \(tid \d+, "long_wait\.exe"\) holds it:$
// CHECK: ^    holds:$
// CHECK: ^      mutex M\d+ \(0x[0-9a-f]+\), acquired at hold_l .*long_wait\.c:%line(HOLD)\b
// CHECK: ^    stack: not available \(taken only from a thread blocked in a lock, condition or join wait
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+, mutex\): global 'l' in long_wait\.exe
// CHECK: ^SUMMARY: locksan: long-wait .*long_wait\.c:%line(WAIT1) in main$
// CHECK: ^==%pid==WARNING: locksan: long-wait
// CHECK: ^    blocked in: main .*long_wait\.c:%line(WAIT2)\b
// CHECK: ^  Thread T1 \(tid \d+, "long_wait\.exe"\) holds it:$
// CHECK: ^    stack:$
// CHECK: ^    #\d+ hold_l .*long_wait\.c:%line(CONDWAIT)\b
// CHECK: ^SUMMARY: locksan: long-wait .*long_wait\.c:%line(WAIT2) in main$
// CHECK-NOT: deadlock
// CHECK-NOT: interrupted
//
// VARIANT: off
// RUN-OPTIONS: watchdog_interval_ms=100
// EXPECT-EXIT: 0
// EXPECT-REPORTS: long-wait=0
// CLEAR: CHECK CHECK-NOT
// EXPECT-NO-STDERR
//
// VARIANT: reader
// ARGS: reader
// EXPECT-REPORTS: long-wait=1
// CLEAR: CHECK CHECK-STDOUT
// CHECK-STDOUT: ^main got rw$
// CHECK: ^  Thread T0 \(tid %pid, "long_wait\.exe"\) has been waiting [0-9.]+ s to read-lock rwlock RW\d+ \(0x[0-9a-f]+\), held by thread T1\.$
// CHECK: ^    blocked in: main .*long_wait\.c:%line(RDWAIT)\b
// CHECK: ^SUMMARY: locksan: long-wait .*long_wait\.c:%line(RDWAIT) in main$
//
// VARIANT: benign
// ARGS: benign
// RUN-OPTIONS: long_wait_ms=300:watchdog_interval_ms=100
// EXPECT-EXIT: 0
// EXPECT-REPORTS: long-wait=0
// CLEAR: CHECK CHECK-STDOUT
// CHECK-STDOUT: ^benign done$
// EXPECT-NO-STDERR
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t l = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER, idle = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
pthread_barrier_t bar;
sem_t sig;
int pipefd[2], ready;

static void* hold_l(void* p) {
  for (int i = 0; i < 2; i++) {
    pthread_mutex_lock(&l);  // @HOLD
    pthread_barrier_wait(&bar);
    if (i == 0) {
      if (usleep(1500 * 1000) != 0) puts("sleep interrupted");
    } else {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += 1;
      until.tv_nsec += 500 * 1000 * 1000;
      if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
      }
      pthread_mutex_lock(&cm);
      while (pthread_cond_timedwait(&cv, &cm, &until) == 0) {  // @CONDWAIT
      }
      pthread_mutex_unlock(&cm);
    }
    pthread_mutex_unlock(&l);
    pthread_barrier_wait(&bar);
  }
  return p;
}

static void* hold_rw(void* p) {
  pthread_rwlock_wrlock(&rw);
  pthread_barrier_wait(&bar);
  usleep(1500 * 1000);
  pthread_rwlock_unlock(&rw);
  return p;
}

static void* slow_peer(void* p) {
  usleep(1000 * 1000);  // main waits on the condition variable meanwhile
  pthread_mutex_lock(&cm);
  ready = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&cm);
  usleep(1000 * 1000);  // ... then reads the pipe
  if (write(pipefd[1], "x", 1) != 1) return p;
  usleep(1000 * 1000);  // ... then waits in sem_wait
  sem_post(&sig);
  pthread_mutex_lock(&idle);  // held 1 s, nobody waits for it
  usleep(1000 * 1000);
  pthread_mutex_unlock(&idle);
  return p;
}

static void* sleeper(void* p) {
  usleep(1000 * 1000);
  return p;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "hold";
  pthread_barrier_init(&bar, 0, 2);
  pthread_t t;
  if (!strcmp(mode, "reader")) {
    pthread_create(&t, 0, hold_rw, 0);
    pthread_barrier_wait(&bar);
    pthread_rwlock_rdlock(&rw);  // @RDWAIT
    pthread_rwlock_unlock(&rw);
    pthread_join(t, 0);
    puts("main got rw");
    return 0;
  }
  if (!strcmp(mode, "benign")) {
    sem_init(&sig, 0, 0);
    if (pipe(pipefd) != 0) return 1;
    pthread_create(&t, 0, slow_peer, 0);
    pthread_mutex_lock(&cm);
    while (!ready) pthread_cond_wait(&cv, &cm);
    pthread_mutex_unlock(&cm);
    char c;
    if (read(pipefd[0], &c, 1) != 1) return 1;
    sem_wait(&sig);
    pthread_join(t, 0);  // while T1 holds 'idle'
    sleep(1);
    pthread_t s;
    pthread_create(&s, 0, sleeper, 0);
    pthread_join(s, 0);
    puts("benign done");
    return 0;
  }
  pthread_create(&t, 0, hold_l, 0);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&l);  // @WAIT1
  pthread_mutex_unlock(&l);
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&l);  // @WAIT2
  pthread_mutex_unlock(&l);
  pthread_barrier_wait(&bar);
  pthread_join(t, 0);
  puts("main got l twice");
  return 0;
}
