// Locks used before liblocksan's constructor has run.
//  - A shared library linked into the program (built at run time from this file with
//    -DREL_EARLY_LIB: librel_early.so, DT_NEEDED by the stage-2 program) has a constructor that runs
//    before liblocksan's (the loader runs a preloaded library's constructor after those of the
//    libraries the program links): it takes E1->E2 and then locks H and keeps holding it.
//  - The stage-2 program (this file with -DREL_EARLY_MAIN) also has a .preinit_array function, which
//    runs before every constructor, that locks P and keeps it.
// Then main unlocks H and P (locks it never locked itself), and the program goes on: P and H are
// used from threads in the start-up order (P->H: the constructor locked H while P was held) with
// another lock (no report), and finally a thread takes E2->E1,
// against the order of the library constructor: the sane outcome is that this inversion is reported
// (locksan starts on the first lock call, whoever makes it) -- and nothing else is, the program does
// not crash and exits with locksan's exitcode.
//
// ARGS: %s
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*rel_early_locks\.c:%line(E21) in e2_then_e1$
// CHECK-STDOUT: ^built$
// CHECK-STDOUT: ^stage 2: preinit held P: yes, constructor held H: yes$
// CHECK-STDOUT: ^unlock H: 0, unlock P: 0$
// CHECK-STDOUT: ^threads done$
//
// VARIANT: no_inversion
// Without the final E2->E1: nothing at all is reported, exit 0.
// ARGS: %s clean
// EXPECT-EXIT: 0
// EXPECT-REPORTS: lock-order-inversion=0
// CLEAR: CHECK
// EXPECT-NO-STDERR
#if defined(REL_EARLY_LIB)
#include <pthread.h>
pthread_mutex_t early_e1 = PTHREAD_MUTEX_INITIALIZER, early_e2 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t early_h = PTHREAD_MUTEX_INITIALIZER;
int early_ctor_ran;
__attribute__((constructor)) static void lib_ctor(void) {
  pthread_mutex_lock(&early_e1);
  pthread_mutex_lock(&early_e2);
  pthread_mutex_unlock(&early_e2);
  pthread_mutex_unlock(&early_e1);
  pthread_mutex_lock(&early_h);  // held across liblocksan's constructor, released by main
  early_ctor_ran = pthread_mutex_trylock(&early_h) != 0;
}
#elif defined(REL_EARLY_MAIN)
#include <pthread.h>
#include <stdio.h>
#include <string.h>
extern pthread_mutex_t early_e1, early_e2, early_h;
extern int early_ctor_ran;
pthread_mutex_t p = PTHREAD_MUTEX_INITIALIZER, other = PTHREAD_MUTEX_INITIALIZER;
int preinit_ran;

static void preinit(int argc, char** argv, char** envp) {
  (void)argc, (void)argv, (void)envp;
  pthread_mutex_lock(&p);
  preinit_ran = pthread_mutex_trylock(&p) != 0;
}
__attribute__((section(".preinit_array"), used)) static void (*preinit_fn)(int, char**, char**) = preinit;

static void* user(void* arg) {
  for (int i = 0; i < 100; i++) {
    // P then H: the order in which the start-up code took them (the library constructor locked H
    // while the preinit function held P).
    pthread_mutex_lock(&p);
    pthread_mutex_lock(&early_h);
    pthread_mutex_lock(&other);
    pthread_mutex_unlock(&other);
    pthread_mutex_unlock(&early_h);
    pthread_mutex_unlock(&p);
  }
  return arg;
}

static void* e2_then_e1(void* arg) {
  pthread_mutex_lock(&early_e2);
  pthread_mutex_lock(&early_e1);  // @E21
  pthread_mutex_unlock(&early_e1);
  pthread_mutex_unlock(&early_e2);
  return arg;
}

int main(int argc, char** argv) {
  printf("stage 2: preinit held P: %s, constructor held H: %s\n", preinit_ran ? "yes" : "no",
         early_ctor_ran ? "yes" : "no");
  int uh = pthread_mutex_unlock(&early_h);
  int up = pthread_mutex_unlock(&p);
  printf("unlock H: %d, unlock P: %d\n", uh, up);
  pthread_t t[3];
  for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, user, 0);
  for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
  printf("threads done\n");
  if (!(argc > 1 && !strcmp(argv[1], "clean"))) {
    pthread_create(&t[0], 0, e2_then_e1, 0);
    pthread_join(t[0], 0);
  }
  return 0;
}
#else
// Stage 1: build the library and the stage-2 program (without the preload), then exec stage 2 with
// the environment unchanged (LD_PRELOAD included).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (argc < 2) return 2;
  char cmd[8192];
  snprintf(cmd, sizeof cmd,
           "env -u LD_PRELOAD cc -shared -fPIC -g -pthread -DREL_EARLY_LIB -o librel_early.so '%s' && "
           "env -u LD_PRELOAD cc -g -pthread -DREL_EARLY_MAIN -o rel_early_stage2 '%s' -L. -lrel_early "
           "-Wl,-rpath,'$ORIGIN'",
           argv[1], argv[1]);
  if (system(cmd) != 0) {
    printf("build failed\n");
    return 2;
  }
  printf("built\n");
  fflush(stdout);
  char* args[] = {"./rel_early_stage2", argc > 2 ? argv[2] : 0, 0};
  execv(args[0], args);
  perror("execv");
  return 3;
}
#endif
