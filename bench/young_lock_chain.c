// bench/young_lock_chain.c — a lock made per iteration and taken above locks whose edges are known:
// per iteration a new heap mutex M is taken, then under it K pairs of long-lived locks one after
// another, each pair nested (A1 then B1 under it, released; A2 then B2, ...: after the first
// iteration every Ai -> Bi is known), and M is freed. Every iteration is a new lock, K new edges
// M -> Ai and K chains [M, Ai] + Bi whose only edge is known: the shape of PyTorch's per-step autograd locks taken above the caching
// allocator's and libcuda's locks (docs/gpu.md). The loop runs DEPTH frames down a recursion, so
// that a stack capture costs what it costs in a deep program (PyTorch's are 24+ frames).
// THRASH_KIB > 0: each iteration also reads and writes that much of a buffer of the program's own
// (a cache line every 64 bytes, going round), as a real program's work between its locks does: the
// detector's tables are then cold at each lock, as in PyTorch's steps. Compare native and locksan at
// the same THRASH_KIB (the difference is locksan's cost with cold caches).
// Prints ns per iteration.
//   cc -O2 -pthread bench/young_lock_chain.c -o young
//   ./young [ITERS [K [DEPTH [THRASH_KIB]]]]   (defaults: 100000 1 0 0: M, then A and B under it)
//   ./young 400000; LD_PRELOAD=build/liblocksan.so ./young 400000
//   LD_PRELOAD=build/liblocksan.so ./young 100000 6 30
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
enum { kMaxK = 16 };
static pthread_mutex_t g_a[kMaxK], g_b[kMaxK];
static long g_iters;
static int g_k;
static size_t g_thrash;  // bytes touched per iteration
static size_t g_buf_size, g_buf_at;
static volatile unsigned char* g_buf;
static void thrash(void) {
  for (size_t n = 0; n < g_thrash; n += 64) {
    g_buf[g_buf_at]++;
    g_buf_at = (g_buf_at + 64) % g_buf_size;
  }
}
static void* spin(void* p) { return p; }
static void loop(void) {
  for (long i = 0; i < g_iters; i++) {
    pthread_mutex_t* m = malloc(sizeof *m);
    pthread_mutex_init(m, 0);
    pthread_mutex_lock(m);
    for (int j = 0; j < g_k; j++) {
      pthread_mutex_lock(&g_a[j]);
      pthread_mutex_lock(&g_b[j]);
      pthread_mutex_unlock(&g_b[j]);
      pthread_mutex_unlock(&g_a[j]);
    }
    pthread_mutex_unlock(m);
    pthread_mutex_destroy(m);
    free(m);
    if (g_thrash) thrash();
  }
}
// A frame that the compiler can neither inline nor turn into a loop.
__attribute__((noinline)) static int down(int depth) {
  volatile int pad = depth;
  if (depth <= 0) {
    loop();
    return pad;
  }
  return down(depth - 1) + pad;
}
int main(int argc, char** argv) {
  g_iters = argc > 1 ? atol(argv[1]) : 100000;
  g_k = argc > 2 ? atoi(argv[2]) : 1;
  int depth = argc > 3 ? atoi(argv[3]) : 0;
  long thrash_kib = argc > 4 ? atol(argv[4]) : 0;
  if (g_k < 1 || g_k > kMaxK || depth < 0 || depth > 200 || thrash_kib < 0 || thrash_kib > (1 << 20)) {
    fprintf(stderr, "usage: young [ITERS [K (1-%d) [DEPTH (0-200) [THRASH_KIB (0-1048576)]]]]\n", kMaxK);
    return 2;
  }
  if (thrash_kib) {
    g_thrash = (size_t)thrash_kib << 10;
    g_buf_size = (size_t)64 << 20;  // larger than the last-level cache
    g_buf = calloc(g_buf_size, 1);
    if (!g_buf) return 2;
  }
  for (int j = 0; j < kMaxK; j++) {
    pthread_mutex_init(&g_a[j], 0);
    pthread_mutex_init(&g_b[j], 0);
  }
  pthread_t t; pthread_create(&t, 0, spin, 0); pthread_join(t, 0);
  struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
  down(depth);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%.1f ns/iter\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / g_iters);
  return 0;
}
