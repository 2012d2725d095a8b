// bench/step_proxy.c — the lock and heap traffic of one step of bench/gpu_bench.py's PyTorch loop
// (training process), without PyTorch, so that locksan's cost on it can be counted on a machine
// without a GPU (callgrind, with its cache simulation: the detector's tables are cold between a
// real step's locks). Per step, by default, the counts bench/gpu_count.sh measured on the GPU
// machine (2026-11-28: 1,959 mutex pairs, 918 read and 211 write rwlock pairs, 1,826 frees) and
// locksan's verbosity=1 counters there (46 new locks a step, freed within the step):
//   - NEW heap objects, each with a std::mutex-like lock (zeroed, never pthread_mutex_init), made
//     DEPTH frames down one call path and locked twice, once under a long-lived lock; freed at the
//     step's end (the path becomes a lock class under lock_identity=auto);
//   - PAIRS mutex lock/unlock pairs on 32 long-lived mutexes, a third of them nested under one of
//     four outer ones (the same chains every step, no cycle);
//   - RD and WR rwlock pairs on 8 long-lived rwlocks;
//   - FREES frees of heap blocks of 16 to 2,048 bytes, each picked at random from 16,384 live ones
//     (all over the heap, as a real program's are) and made again (besides the new objects);
//   - THRASH_KIB of a 64 MiB buffer read and written a line at a time, spread over the step (the
//     program's own work, which evicts the detector's tables from the caches).
// Prints ns per step. Compare native and locksan at the same arguments.
//   cc -O2 -pthread bench/step_proxy.c -o step_proxy
//   ./step_proxy [STEPS [THRASH_KIB [DEPTH [LOCK_EVERY]]]]   (defaults: 2000 2048 20 0)
// LOCK_EVERY=N (N >= 2): every Nth block of the pool holds a live mutex (initialised, locked once,
// never freed), so that frees land in pages with live locks — three frees in four do in the torch
// step (docs/gpu.md) — and free()'s filter has to look past the page.
//   valgrind --tool=callgrind --cache-sim=yes ./step_proxy 200
//   LD_PRELOAD=build/liblocksan.so valgrind --tool=callgrind --cache-sim=yes ./step_proxy 200
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { kNew = 46, kPairs = 1959, kRd = 918, kWr = 211, kFrees = 1826, kMutexes = 32, kRwlocks = 8 };
static pthread_mutex_t g_m[kMutexes];
static pthread_rwlock_t g_rw[kRwlocks];
static size_t g_thrash;  // bytes touched per step
static volatile unsigned char* g_buf;
static size_t g_buf_size = 64u << 20, g_buf_at;
static unsigned g_rng = 12345;
enum { kPool = 16384 };  // live heap blocks (~16 MiB) that the step's frees pick from
static void* g_pool[kPool];
static int g_lock_every;  // every Nth pool block holds a live mutex (0: none)
static unsigned rnd(void) { return g_rng = g_rng * 1103515245u + 12345u; }

struct Obj {  // a per-step object with a lock in it, as autograd's nodes and graph tasks have
  long refcount;
  pthread_mutex_t mu;
  char payload[88];
};

static void thrash(size_t bytes) {
  for (size_t n = 0; n < bytes; n += 64) {
    g_buf[g_buf_at]++;
    g_buf_at = (g_buf_at + 64) % g_buf_size;
  }
}

// One new object, made and first locked DEPTH frames down (a deep C++ stack, as PyTorch's).
static __attribute__((noinline)) struct Obj* make_obj(int depth) {
  if (depth > 0) {
    struct Obj* o = make_obj(depth - 1);
    __asm__ volatile("" ::: "memory");  // not a tail call: every frame stays on the stack
    return o;
  }
  struct Obj* o = calloc(1, sizeof *o);
  pthread_mutex_lock(&o->mu);
  o->refcount = 1;
  pthread_mutex_unlock(&o->mu);
  pthread_mutex_lock(&g_m[0]);
  pthread_mutex_lock(&o->mu);
  o->refcount++;
  pthread_mutex_unlock(&o->mu);
  pthread_mutex_unlock(&g_m[0]);
  return o;
}

static void step(int depth) {
  struct Obj* objs[kNew];
  int made = 0;
  // The step's work is spread over its operations: a slice of the thrash every 64 operations.
  size_t slice = g_thrash / ((kPairs + kRd + kWr + kFrees) / 64 + 1);
  long op = 0;
  for (int i = 0; i < kPairs; i++, op++) {
    if (made < kNew && i % (kPairs / kNew) == 0) objs[made++] = make_obj(depth);
    pthread_mutex_t* m = &g_m[5 + rnd() % (kMutexes - 5)];
    if (i % 3 == 0) {  // g_m[1..4] are only ever taken first: no cycle
      pthread_mutex_lock(&g_m[1 + i % 4]);
      pthread_mutex_lock(m);
      pthread_mutex_unlock(m);
      pthread_mutex_unlock(&g_m[1 + i % 4]);
    } else {
      pthread_mutex_lock(m);
      pthread_mutex_unlock(m);
    }
    if (i < kRd) {
      pthread_rwlock_t* rw = &g_rw[rnd() % kRwlocks];
      pthread_rwlock_rdlock(rw);
      pthread_rwlock_unlock(rw);
    }
    if (i < kWr) {
      pthread_rwlock_wrlock(&g_rw[i % kRwlocks]);
      pthread_rwlock_unlock(&g_rw[i % kRwlocks]);
    }
    if (i < kFrees) {  // a block of the pool, made some steps ago, freed and made again
      unsigned idx = rnd() % kPool;
      if (g_lock_every && idx % g_lock_every == 0) idx++;  // blocks with a lock are never freed
      void** slot = &g_pool[idx];
      free(*slot);
      *slot = malloc(16 + rnd() % 2033);
      memset(*slot, 0, 16);
    }
    if (op % 64 == 0) thrash(slice);
  }
  for (int i = 0; i < made; i++) free(objs[i]);
}

int main(int argc, char** argv) {
  long steps = argc > 1 ? atol(argv[1]) : 2000;
  g_thrash = (argc > 2 ? (size_t)atol(argv[2]) : 2048) << 10;
  int depth = argc > 3 ? atoi(argv[3]) : 20;
  g_lock_every = argc > 4 ? atoi(argv[4]) : 0;
  if (g_lock_every == 1) g_lock_every = 2;
  for (int i = 0; g_lock_every && i < kPool; i++) {
    g_pool[i] = malloc(i % g_lock_every == 0 ? 64 + rnd() % 2001 : 16 + rnd() % 2033);
    if (i % g_lock_every == 0) {
      pthread_mutex_t* m = g_pool[i];
      pthread_mutex_init(m, NULL);
      pthread_mutex_lock(m);
      pthread_mutex_unlock(m);
    }
  }
  for (int i = 0; i < kMutexes; i++) pthread_mutex_init(&g_m[i], NULL);
  for (int i = 0; i < kRwlocks; i++) pthread_rwlock_init(&g_rw[i], NULL);
  g_buf = calloc(1, g_buf_size);
  for (int i = 0; i < 20; i++) step(depth);  // warm-up: the classes form, the chains are known
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < steps; i++) step(depth);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
  printf("RESULT steps=%ld thrash_kib=%zu depth=%d lock_every=%d ns_per_step=%.0f\n", steps, g_thrash >> 10,
         depth, g_lock_every, ns / (double)steps);
  return 0;
}
