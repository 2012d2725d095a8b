// A forked child is checked like any process: an inversion made in the child is reported with the
// child's pid, the child exits with the exitcode (66), and the parent, which made no inversion,
// exits 0 with no report of its own.
//
// CHECK: ^child pid (\d+)\n==\1==WARNING: locksan: lock-order-inversion
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*fork_child_inversion\.c:%line(BA_A) in ba$
// CHECK: ^==(\d+)==locksan: reported 1 warning$
// CHECK-NOT: ^==%pid==
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK-STDOUT: ^child exit status 66$
//
// VARIANT: inherited_order
// The parent takes A->B before forking; the child only takes B->A. The order the parent established
// is part of the child's history: the child reports, the parent does not.
// ARGS: inherited
//
// VARIANT: log_path
// With log_path, the child's report goes to its own file (PREFIX.CHILDPID); the parent writes none.
// RUN-OPTIONS: log_path=%t/rep
// ARGS: logcheck %t/rep
// CLEAR: CHECK
// EXPECT-REPORTS: lock-order-inversion=0
// CHECK: \Achild pid \d+\n\Z
// CHECK-STDOUT: ^child log: has report with child pid$
// CHECK-STDOUT: ^parent log: absent$
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;

static void* ab(void* p) {
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&b);
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
  return p;
}

static void* ba(void* p) {
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);  // @BA_A
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
  return p;
}

static void run(void* (*fn)(void*)) {
  pthread_t t;
  pthread_create(&t, 0, fn, 0);
  pthread_join(t, 0);
}

int main(int argc, char** argv) {
  int inherited = argc > 1 && !strcmp(argv[1], "inherited");
  const char* logprefix = argc > 2 && !strcmp(argv[1], "logcheck") ? argv[2] : 0;
  if (inherited) run(ab);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    fprintf(stderr, "child pid %d\n", (int)getpid());
    if (!inherited) run(ab);
    run(ba);
    exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("child exit status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  if (logprefix) {
    char path[4096], want[64], line[4096];
    snprintf(path, sizeof path, "%s.%d", logprefix, (int)pid);
    snprintf(want, sizeof want, "==%d==WARNING: locksan: lock-order-inversion", (int)pid);
    FILE* f = fopen(path, "r");
    int found = 0;
    while (f && fgets(line, sizeof line, f)) found |= strstr(line, want) != 0;
    if (f) fclose(f);
    printf("child log: %s\n", found ? "has report with child pid" : f ? "no report" : "absent");
    snprintf(path, sizeof path, "%s.%d", logprefix, (int)getpid());
    f = fopen(path, "r");
    printf("parent log: %s\n", f ? "present" : "absent");
    if (f) fclose(f);
  }
  return 0;
}
