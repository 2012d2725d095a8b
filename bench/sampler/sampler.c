// bench/sampler/sampler.c — a CPU-time sampling profiler for machines without perf (the GPU machine
// has neither perf nor gdb). Preloaded beside (or without) liblocksan.so:
//
//   SAMPLER_OUT=/tmp/prof LD_PRELOAD=".../libsampler.so .../liblocksan.so" python3 job.py
//
// ITIMER_PROF sends SIGPROF per SAMPLER_US (default 1000) microseconds of the process's CPU time, to
// whichever thread is running; the handler records the interrupted program counter. Each process
// (forked children too: a child does not inherit interval timers, so it is re-armed after fork) writes
// its samples to SAMPLER_OUT/pcs.PID (pairs of native 64-bit words: pc, time) in chunks of 64, from the handler (write
// is async-signal-safe), so that processes that leave by _exit (multiprocessing's workers) lose at most
// the last chunk, and copies /proc/self/maps to SAMPLER_OUT/maps.PID with each chunk. bench/sampler/
// report.py turns them into a flat profile per process and module/function.
//
// A measuring tool only: it is not part of liblocksan.so and is never installed.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define CHUNK 64
#define CAP (1u << 20)

// Each sample is two words: the program counter and CLOCK_MONOTONIC in ns. A record whose first word is
// 1 is a marker written at each flush: the second word is the process's CPU time then (ns), so that
// report.py can tell the sampling rate (the kernel's timer resolution may round the interval up).
static uintptr_t g_pcs[CAP][2];
static atomic_uint g_next;     // next free slot
static atomic_uint g_written;  // samples written out (a multiple of CHUNK, or all at exit)
static char g_dir[512];
static long g_us = 1000;

static void put_dec(char* p, long v) {
  char tmp[24];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10); while ((v /= 10) > 0);
  while (n) *p++ = tmp[--n];
  *p = 0;
}

static void path_for(char* out, const char* what) {
  size_t n = strlen(g_dir);
  memcpy(out, g_dir, n);
  out[n++] = '/';
  size_t w = strlen(what);
  memcpy(out + n, what, w);
  put_dec(out + n + w, (long)getpid());
}

static void copy_maps(void) {
  char path[600];
  path_for(path, "maps.");
  int in = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (in < 0) return;
  int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out >= 0) {
    char buf[4096];
    ssize_t r;
    while ((r = read(in, buf, sizeof buf)) > 0)
      if (write(out, buf, (size_t)r) != r) break;
    close(out);
  }
  close(in);
}

static void flush_range(unsigned from, unsigned to) {
  if (to <= from) return;
  char path[600];
  path_for(path, "pcs.");
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t want = (ssize_t)((to - from) * sizeof g_pcs[0]);
  if (write(fd, g_pcs + from, (size_t)want) != want) { /* best effort */ }
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  uintptr_t marker[2] = {1, (uintptr_t)ts.tv_sec * 1000000000u + (uintptr_t)ts.tv_nsec};
  if (write(fd, marker, sizeof marker) != (ssize_t)sizeof marker) { /* best effort */ }
  close(fd);
  copy_maps();
}

static void on_prof(int sig, siginfo_t* si, void* ctx) {
  (void)sig;
  (void)si;
  int saved = errno;
  ucontext_t* uc = (ucontext_t*)ctx;
  unsigned i = atomic_fetch_add(&g_next, 1);
  if (i < CAP) {
#if defined(__x86_64__)
    g_pcs[i][0] = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#else
    g_pcs[i][0] = 0;
#endif
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    g_pcs[i][1] = (uintptr_t)ts.tv_sec * 1000000000u + (uintptr_t)ts.tv_nsec;
    if ((i + 1) % CHUNK == 0) {
      // The chunk [i+1-CHUNK, i+1): another thread may still be writing a slot of it (rare; a zero
      // or stale word, which report.py drops when it maps to no module).
      unsigned from = i + 1 - CHUNK;
      flush_range(from, i + 1);
      atomic_store(&g_written, i + 1);
    }
  }
  errno = saved;
}

static void arm(void) {
  struct itimerval it;
  it.it_interval.tv_sec = g_us / 1000000;
  it.it_interval.tv_usec = g_us % 1000000;
  it.it_value = it.it_interval;
  setitimer(ITIMER_PROF, &it, NULL);
}

static void after_fork_child(void) {
  atomic_store(&g_next, 0);
  atomic_store(&g_written, 0);
  arm();
}

static void at_exit(void) {
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_PROF, &off, NULL);
  unsigned n = atomic_load(&g_next);
  if (n > CAP) n = CAP;
  flush_range(atomic_load(&g_written), n);
}

// An interval timer survives exec but the handler does not: a program exec'd by a sampled one (a shell
// script's `exec`, pyenv's shims) would die of SIGPROF before its own copy of this library arms again.
// So the timer is stopped before exec, and restarted if exec fails.
typedef int (*execve_fn)(const char*, char* const[], char* const[]);
int execve(const char* path, char* const argv[], char* const envp[]) {
  static execve_fn real;
  if (!real) real = (execve_fn)dlsym(RTLD_NEXT, "execve");
  struct itimerval off = {{0, 0}, {0, 0}};
  if (g_dir[0]) setitimer(ITIMER_PROF, &off, NULL);
  int rc = real(path, argv, envp);
  if (g_dir[0]) arm();
  return rc;
}
int execv(const char* path, char* const argv[]) { return execve(path, argv, environ); }

// multiprocessing's children leave by os._exit: flush what is left first.
void _exit(int status) {
  typedef void (*exit_fn)(int);
  static exit_fn real;
  if (!real) real = (exit_fn)dlsym(RTLD_NEXT, "_exit");
  if (g_dir[0]) at_exit();
  real(status);
  __builtin_unreachable();
}

__attribute__((constructor)) static void sampler_init(void) {
  const char* dir = getenv("SAMPLER_OUT");
  if (!dir || !*dir || strlen(dir) >= sizeof g_dir - 32) return;
  strcpy(g_dir, dir);
  const char* us = getenv("SAMPLER_US");
  if (us && atol(us) > 0) g_us = atol(us);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_prof;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  // libc's own sigaction, not an interposer's: liblocksan.so counts a handler installed through its
  // sigaction as the program's and then blocks signals around its graph lock, which the profile
  // would measure.
  typedef int (*sigaction_fn)(int, const struct sigaction*, struct sigaction*);
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  sigaction_fn real_sigaction = libc ? (sigaction_fn)dlsym(libc, "sigaction") : NULL;
  (real_sigaction ? real_sigaction : sigaction)(SIGPROF, &sa, NULL);
  pthread_atfork(NULL, NULL, after_fork_child);
  atexit(at_exit);
  arm();
}
