// A program that links libunwind and libdw itself (as perf does). locksan loads its own copies of
// these privately; a second copy must not mix state with the program's (perf crashed in libunwind
// under the preload before locksan used the program's copy). The program unwinds with its own
// libunwind, creates threads, and has one inversion, which must be reported with file:line frames.
//
// CFLAGS: -lunwind -ldw
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T1 .*\n    #0 worker .*links_unwinders\.c:%line(WORKER_SECOND)\b
// CHECK-STDOUT: ^own unwind: [1-9][0-9]* frames$
// CHECK-STDOUT: ^libdw: ok$
#define UNW_LOCAL_ONLY
#include <elfutils/libdwfl.h>
#include <libunwind.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;

static void* worker(void* arg) {
  (void)arg;
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);  // @WORKER_SECOND
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
  return NULL;
}

int main(void) {
  void* pcs[32];
  printf("own unwind: %d frames\n", unw_backtrace(pcs, 32));
  Dwfl_Callbacks cb = {.find_elf = dwfl_linux_proc_find_elf, .find_debuginfo = dwfl_standard_find_debuginfo};
  Dwfl* d = dwfl_begin(&cb);
  printf("libdw: %s\n", d ? "ok" : "failed");
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&b);
  pthread_mutex_unlock(&b);
  pthread_mutex_unlock(&a);
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  pthread_join(t, NULL);
  printf("own unwind again: %d frames\n", unw_backtrace(pcs, 32) > 0);
  if (d) dwfl_end(d);
  return 0;
}
