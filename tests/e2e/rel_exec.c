// Starting programs from a watched, multi-threaded process: vfork+exec, posix_spawn, fork+exec, and
// exec of the process itself -- each while other threads hold locks and keep locking. LD_PRELOAD is
// inherited, so locksan follows into the new program:
//  - the last one is exec'd from a second thread of a forked child whose main thread holds a lock;
//  - the started program is this one in "inverter" mode: a single-thread A->B / B->A inversion, so
//    its report (with the new program's pid) and its exit status 66 prove that locksan runs there;
//  - /bin/sh and /bin/cat (other programs) run normally; cat /proc/self/maps shows liblocksan.so
//    mapped into them, and their exit statuses and output pass through.
// The parent itself makes no inversion and exits 0.
//
// ARGS: all
// EXPECT-REPORTS: lock-order-inversion=4
// CHECK-COUNT: 4 ^SUMMARY: locksan: lock-order-inversion .*rel_exec\.c:%line(INV) in inverter$
// CHECK-NOT: ^==%pid==WARNING
// CHECK-STDOUT: ^vfork\+exec: child exit 66$
// CHECK-STDOUT: ^posix_spawn: child exit 66$
// CHECK-STDOUT: ^fork\+exec: child exit 66$
// CHECK-STDOUT: ^posix_spawn /bin/sh: exit 7, output 'hello from sh'$
// CHECK-STDOUT: ^vfork /bin/cat /proc/self/maps: exit 0, liblocksan mapped: yes$
// CHECK-STDOUT: ^exec from a thread: child exit 66$
// CHECK-STDOUT: ^parent done$
//
// VARIANT: exec_replaces
// The process replaces itself (execv, no fork) while other threads hold locks: the new image starts
// a fresh locksan and runs normally (it prints and exits 0, no report).
// ARGS: exec_self_clean
// CLEAR: CHECK CHECK-COUNT CHECK-NOT CHECK-STDOUT
// EXPECT-REPORTS: lock-order-inversion=0
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^before exec$
// CHECK-STDOUT: ^clean image: ok$
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
volatile int stop;
char self[4096];

static int inverter(void) {
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&b);
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);  // @INV
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
  return 0;
}

static void* holder(void* p) {
  pthread_mutex_lock(&held);
  while (!stop) usleep(1000);
  pthread_mutex_unlock(&held);
  return p;
}

static void* locker(void* p) {
  while (!stop) {
    pthread_mutex_t* m = malloc(sizeof *m);
    pthread_mutex_init(m, 0);
    pthread_mutex_lock(&a);
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
    pthread_mutex_unlock(&a);
    free(m);
  }
  return p;
}

static void* exec_thread(void* p) {
  execv(self, (char**)p);
  return 0;
}

static int status_of(pid_t pid) {
  int st;
  if (waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "inverter")) return inverter();
  if (!strcmp(mode, "clean")) {
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
    printf("clean image: ok\n");
    return 0;
  }
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 2;
  self[n] = 0;

  pthread_t t[3];
  pthread_create(&t[0], 0, holder, 0);
  pthread_create(&t[1], 0, locker, 0);
  pthread_create(&t[2], 0, locker, 0);
  usleep(20000);

  if (!strcmp(mode, "exec_self_clean")) {
    printf("before exec\n");
    fflush(stdout);
    char* args[] = {self, "clean", 0};
    execv(self, args);
    return 3;
  }

  char* inv_args[] = {self, "inverter", 0};
  fflush(stdout);
  pid_t pid = vfork();
  if (pid == 0) {
    execv(self, inv_args);
    _exit(127);
  }
  printf("vfork+exec: child exit %d\n", status_of(pid));

  if (posix_spawn(&pid, self, 0, 0, inv_args, environ) != 0) return 4;
  printf("posix_spawn: child exit %d\n", status_of(pid));

  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    execv(self, inv_args);
    _exit(127);
  }
  printf("fork+exec: child exit %d\n", status_of(pid));

  // Another program, through a pipe.
  int fds[2];
  if (pipe(fds) != 0) return 5;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  char* sh_args[] = {"/bin/sh", "-c", "echo hello from sh; exit 7", 0};
  if (posix_spawn(&pid, "/bin/sh", &fa, 0, sh_args, environ) != 0) return 6;
  close(fds[1]);
  char buf[256] = {0};
  ssize_t got = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  if (got > 0 && buf[got - 1] == '\n') buf[got - 1] = 0;
  printf("posix_spawn /bin/sh: exit %d, output '%s'\n", status_of(pid), buf);

  if (pipe(fds) != 0) return 5;
  fflush(stdout);
  pid = vfork();
  if (pid == 0) {
    dup2(fds[1], 1);
    char* cat_args[] = {"/bin/cat", "/proc/self/maps", 0};
    execv("/bin/cat", cat_args);
    _exit(127);
  }
  close(fds[1]);
  static char maps[1 << 20];
  size_t total = 0;
  while ((got = read(fds[0], maps + total, sizeof maps - 1 - total)) > 0) total += got;
  maps[total] = 0;
  close(fds[0]);
  int st = status_of(pid);
  printf("vfork /bin/cat /proc/self/maps: exit %d, liblocksan mapped: %s\n", st,
         strstr(maps, "liblocksan.so") ? "yes" : "no");

  // exec from a second thread of a forked child, while the child's main thread holds a lock.
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    pthread_mutex_lock(&b);
    pthread_t et;
    pthread_create(&et, 0, exec_thread, inv_args);
    pthread_join(et, 0);
    _exit(127);
  }
  printf("exec from a thread: child exit %d\n", status_of(pid));

  stop = 1;
  for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
  printf("parent done\n");
  return 0;
}
