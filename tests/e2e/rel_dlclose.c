// dlclose of a library whose static mutexes locksan has seen, then dlopen again. The library (this
// same file built with -DREL_DLCLOSE_LIB -shared at run time, see build_lib) has two static mutexes
// X and Y (PTHREAD_MUTEX_INITIALIZER: no init call, no destroy call). The first instance takes
// X->Y and is dlclose'd; the second instance -- normally mapped at the same address, so its X and Y
// have the addresses the first one's had -- takes Y->X. The first instance's mutexes no longer
// exist: the two orders can never meet, so there is no inversion to report.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// ARGS: %s
// CHECK-STDOUT: ^library built$
// CHECK-STDOUT: ^first instance: X->Y done$
// CHECK-STDOUT: ^unloaded: yes$
// CHECK-STDOUT: ^second instance: Y->X done$
// CHECK-STDOUT: ^same address: yes$
//
// VARIANT: control
// Positive control: the library is NOT closed in between (the same mutexes, both orders): reported.
// ARGS: %s keep
// CLEAR: EXPECT-NO-STDERR CHECK-STDOUT NATIVE-SAME-OUTPUT
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK-STDOUT: ^second instance: Y->X done$
//
// VARIANT: threads
// The same with the second instance used from another thread while the main thread holds an
// unrelated lock (the library's locks are then taken on a fresh thread with a non-empty history).
// ARGS: %s thread
#ifdef REL_DLCLOSE_LIB
#include <pthread.h>
static pthread_mutex_t x = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t y = PTHREAD_MUTEX_INITIALIZER;
void* lib_x(void) { return &x; }
void lib_run(int reverse) {
  pthread_mutex_t* first = reverse ? &y : &x;
  pthread_mutex_t* second = reverse ? &x : &y;
  pthread_mutex_lock(first);
  pthread_mutex_lock(second);
  pthread_mutex_unlock(second);
  pthread_mutex_unlock(first);
}
#else
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void build_lib(const char* src) {
  char cmd[4096];
  // Built without the preload (the compiler is not the program under test).
  snprintf(cmd, sizeof cmd, "env -u LD_PRELOAD cc -shared -fPIC -g -pthread -DREL_DLCLOSE_LIB -o librel_dlclose.so '%s'", src);
  if (system(cmd) != 0) {
    printf("cannot build the library\n");
    exit(2);
  }
  printf("library built\n");
}

typedef void (*run_fn)(int);
typedef void* (*addr_fn)(void);
static run_fn g_run;

static void* thread_run(void* p) {
  g_run(1);
  return p;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* mode = argc > 2 ? argv[2] : "";
  build_lib(argv[1]);
  void* h1 = dlopen("./librel_dlclose.so", RTLD_NOW | RTLD_LOCAL);
  if (!h1) {
    printf("dlopen: %s\n", dlerror());
    return 2;
  }
  void* x1 = ((addr_fn)dlsym(h1, "lib_x"))();
  ((run_fn)dlsym(h1, "lib_run"))(0);
  printf("first instance: X->Y done\n");
  void* keep = NULL;
  if (strcmp(mode, "keep") == 0) keep = h1;
  else dlclose(h1);
  void* probe = dlopen("./librel_dlclose.so", RTLD_NOW | RTLD_NOLOAD);
  if (!keep) printf("unloaded: %s\n", probe ? "no" : "yes");
  if (probe) dlclose(probe);
  void* h2 = dlopen("./librel_dlclose.so", RTLD_NOW | RTLD_LOCAL);
  if (!h2) {
    printf("dlopen: %s\n", dlerror());
    return 2;
  }
  void* x2 = ((addr_fn)dlsym(h2, "lib_x"))();
  g_run = (run_fn)dlsym(h2, "lib_run");
  if (strcmp(mode, "thread") == 0) {
    static pthread_mutex_t unrelated = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&unrelated);
    pthread_t t;
    pthread_create(&t, 0, thread_run, 0);
    pthread_join(t, 0);
    pthread_mutex_unlock(&unrelated);
  } else {
    g_run(1);
  }
  printf("second instance: Y->X done\n");
  if (!keep) printf("same address: %s\n", x1 == x2 ? "yes" : "no");
  dlclose(h2);
  if (keep) dlclose(keep);
  return 0;
}
#endif
