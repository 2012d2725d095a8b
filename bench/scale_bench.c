/* scale_bench: locks, edges, threads and held locks at scale.
 *
 *   scale_bench [all|live|edges|threads|held|young|longrun] [options]
 *
 *   live     1,000,000 live heap mutexes (one malloc each), each locked/unlocked once, then
 *            destroyed and freed.  Reports the VmRSS growth per lock (from /proc/self/status).
 *            Every lock is taken at the same call site, so a tool's stack depot holds only a
 *            few stacks: the figure is the per-lock cost.
 *   edges    ~1,000,000 distinct lock-order edges, built by several threads, each nesting two
 *            locks of a shared array always in index order (lower index first), so the graph
 *            has no cycle.  Edges are added in buckets (default 100,000) separated by a barrier;
 *            each bucket's wall time is reported so that growth with the graph size is visible.
 *            Then the first bucket is walked again (edges already known).
 *   threads  1,000 threads alive at the same time (they meet at a barrier), each taking a few
 *            locks (a shared one, one on its own stack, one global), in two waves so that
 *            thread stacks are reused.
 *   held     one thread holding 100 locks at once, nested, released in LIFO order on even
 *            rounds and in acquisition (FIFO) order on odd rounds.
 *   young    100,000 iterations 30 frames down a recursion, each making a heap mutex, taking 6 pairs
 *            of long-lived locks one after the other under it (A1 then B1 under A1, released; A2, B2...)
 *            and freeing it: per iteration a new lock, 6 new edges out of it and 6 chains whose only
 *            edge is known (A_i -> B_i). The per-step shape of PyTorch's autograd locks (a lock made
 *            per step, held while the caching allocator's and the driver's long-lived locks are taken),
 *            at the depth of a real program's stacks: the cost of a new edge's evidence.
 *   longrun  2,000 rounds, each of 4 short-lived threads that create 100 heap locks, nest them (new
 *            edges from a bounded set of call sites), hand items over, then free them and exit.
 *            RSS after every round: memory under a long run must stay flat.
 *
 * Options: -Y young_iterations (100000)  -L live_locks (1000000)  -E edges (1000000)  -B bucket (100000)  -D edges_per_lock (10)
 *          -t edge_threads (8)  -T threads (1000)  -W waves (2)  -H held_depth (100)
 *          -I held_rounds (20000)  -R longrun_rounds (2000)  -P longrun_threads (4)
 *          -K longrun_locks (100)
 * Output: '#' lines for people, 'RESULT part=... key=value ...' lines for scripts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long g_live = 1000000;
static long g_edges = 1000000;
static long g_bucket = 100000;
static long g_per_lock = 10;
static int g_edge_threads = 8;
static int g_threads = 1000;
static int g_waves = 2;
static int g_depth = 100;
static long g_held_rounds = 20000;
static long g_young = 100000;

static void die(const char *what, int err) {
  fprintf(stderr, "scale_bench: %s: %s\n", what, strerror(err));
  exit(2);
}
static void check(int rc, const char *what) {
  if (rc != 0) die(what, rc);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* VmRSS in KiB, or -1. */
static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      v = strtol(line + 6, NULL, 10);
      break;
    }
  }
  fclose(f);
  return v;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "scale_bench: out of memory (%zu bytes)\n", n);
    exit(2);
  }
  return p;
}

/* --- live ------------------------------------------------------------------------- */
static void part_live(void) {
  long n = g_live;
  pthread_mutex_t **m = xmalloc(sizeof(*m) * (size_t)n);
  memset(m, 0, sizeof(*m) * (size_t)n); /* touch it before the baseline */
  long rss0 = rss_kb();
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    m[i] = xmalloc(sizeof(pthread_mutex_t));
    check(pthread_mutex_init(m[i], NULL), "pthread_mutex_init");
  }
  double t1 = now_s();
  long rss1 = rss_kb();
  for (long i = 0; i < n; i++) {
    pthread_mutex_lock(m[i]);
    pthread_mutex_unlock(m[i]);
  }
  double t2 = now_s();
  long rss2 = rss_kb();
  /* Lock them all a second time: the known-lock path. */
  for (long i = 0; i < n; i++) {
    pthread_mutex_lock(m[i]);
    pthread_mutex_unlock(m[i]);
  }
  double t3 = now_s();
  for (long i = 0; i < n; i++) {
    check(pthread_mutex_destroy(m[i]), "pthread_mutex_destroy");
    free(m[i]);
  }
  double t4 = now_s();
  long rss3 = rss_kb();
  free(m);
  double per_lock = (double)(rss2 - rss0) * 1024.0 / (double)n;
  printf("# live: %ld heap mutexes: RSS %+ld KiB after init, %+ld KiB after first lock "
         "(%.1f bytes/lock in all), %+ld KiB after destroy+free\n",
         n, rss1 - rss0, rss2 - rss0, per_lock, rss3 - rss0);
  printf("# live: init %.1f ns/lock, first lock+unlock %.1f ns, second %.1f ns, "
         "destroy+free %.1f ns\n",
         (t1 - t0) * 1e9 / n, (t2 - t1) * 1e9 / n, (t3 - t2) * 1e9 / n, (t4 - t3) * 1e9 / n);
  printf("RESULT part=live locks=%ld rss_init_kb=%ld rss_locked_kb=%ld rss_freed_kb=%ld "
         "bytes_per_lock=%.1f init_ns=%.1f first_lock_ns=%.1f relock_ns=%.1f destroy_ns=%.1f "
         "total_s=%.3f\n",
         n, rss1 - rss0, rss2 - rss0, rss3 - rss0, per_lock, (t1 - t0) * 1e9 / n,
         (t2 - t1) * 1e9 / n, (t3 - t2) * 1e9 / n, (t4 - t3) * 1e9 / n, t4 - t0);
  fflush(stdout);
}

/* --- edges ------------------------------------------------------------------------ */
static pthread_mutex_t *g_elocks;
static long g_nlocks;
static pthread_barrier_t g_ebar;
static long g_bucket_begin, g_bucket_end; /* set by main between barriers */
static volatile int g_edges_done;

/* Edge k joins lock i = k % M and lock (i + d) % M, d = 1 + k / M: all distinct as long as
 * d < M / 2.  The lower index is always taken first, so there is no cycle. */
static void do_edge(long k) {
  long i = k % g_nlocks, d = 1 + k / g_nlocks;
  long j = (i + d) % g_nlocks;
  long lo = i < j ? i : j, hi = i < j ? j : i;
  pthread_mutex_lock(&g_elocks[lo]);
  pthread_mutex_lock(&g_elocks[hi]);
  pthread_mutex_unlock(&g_elocks[hi]);
  pthread_mutex_unlock(&g_elocks[lo]);
}

static void *edge_worker(void *arg) {
  long id = (long)arg;
  for (;;) {
    pthread_barrier_wait(&g_ebar); /* start of a bucket (or the end) */
    if (g_edges_done) break;
    long len = g_bucket_end - g_bucket_begin;
    long b = g_bucket_begin + len * id / g_edge_threads;
    long e = g_bucket_begin + len * (id + 1) / g_edge_threads;
    for (long k = b; k < e; k++) do_edge(k);
    pthread_barrier_wait(&g_ebar); /* end of the bucket */
  }
  return NULL;
}

static double run_bucket(long begin, long end) {
  g_bucket_begin = begin;
  g_bucket_end = end;
  double t0 = now_s();
  pthread_barrier_wait(&g_ebar);
  pthread_barrier_wait(&g_ebar);
  return now_s() - t0;
}

static void part_edges(void) {
  if (g_per_lock < 1) g_per_lock = 1;
  g_nlocks = (g_edges + g_per_lock - 1) / g_per_lock;
  if (g_nlocks < 2 * g_per_lock + 2) g_nlocks = 2 * g_per_lock + 2;
  g_elocks = xmalloc(sizeof(pthread_mutex_t) * (size_t)g_nlocks);
  for (long i = 0; i < g_nlocks; i++) check(pthread_mutex_init(&g_elocks[i], NULL), "pthread_mutex_init");
  long rss0 = rss_kb();
  g_edges_done = 0;
  check(pthread_barrier_init(&g_ebar, NULL, (unsigned)g_edge_threads + 1), "pthread_barrier_init");
  pthread_t *tid = xmalloc(sizeof(pthread_t) * (size_t)g_edge_threads);
  for (long i = 0; i < g_edge_threads; i++)
    check(pthread_create(&tid[i], NULL, edge_worker, (void *)i), "pthread_create");
  double total = 0, first = -1, last = -1, worst = 0;
  int nb = 0;
  for (long begin = 0; begin < g_edges; begin += g_bucket) {
    long end = begin + g_bucket < g_edges ? begin + g_bucket : g_edges;
    double dt = run_bucket(begin, end);
    double ns = dt * 1e9 / (double)(end - begin);
    total += dt;
    if (first < 0) first = ns;
    last = ns;
    if (ns > worst) worst = ns;
    printf("RESULT part=edges_bucket bucket=%d edges_before=%ld edges_after=%ld ns_per_edge=%.1f "
           "rss_kb=%ld\n",
           nb, begin, end, ns, rss_kb() - rss0);
    fflush(stdout);
    nb++;
  }
  long rss1 = rss_kb();
  /* The first bucket again: every edge is known now. */
  long kend = g_bucket < g_edges ? g_bucket : g_edges;
  double known = run_bucket(0, kend) * 1e9 / (double)kend;
  g_edges_done = 1;
  pthread_barrier_wait(&g_ebar);
  for (int i = 0; i < g_edge_threads; i++) check(pthread_join(tid[i], NULL), "pthread_join");
  pthread_barrier_destroy(&g_ebar);
  free(tid);
  for (long i = 0; i < g_nlocks; i++) check(pthread_mutex_destroy(&g_elocks[i]), "pthread_mutex_destroy");
  free(g_elocks);
  double per_edge_bytes = (double)(rss1 - rss0) * 1024.0 / (double)g_edges;
  printf("# edges: %ld distinct edges over %ld locks, %d threads: %.3f s, %.1f ns/edge "
         "(first bucket %.1f, last %.1f, worst %.1f), known edges %.1f ns, RSS %+ld KiB "
         "(%.1f bytes/edge)\n",
         g_edges, g_nlocks, g_edge_threads, total, total * 1e9 / (double)g_edges, first, last, worst,
         known, rss1 - rss0, per_edge_bytes);
  printf("RESULT part=edges edges=%ld locks=%ld threads=%d total_s=%.4f ns_per_edge=%.1f "
         "first_bucket_ns=%.1f last_bucket_ns=%.1f worst_bucket_ns=%.1f growth=%.2f "
         "known_ns_per_edge=%.1f rss_kb=%ld bytes_per_edge=%.1f\n",
         g_edges, g_nlocks, g_edge_threads, total, total * 1e9 / (double)g_edges, first, last, worst,
         first > 0 ? last / first : 0.0, known, rss1 - rss0, per_edge_bytes);
  fflush(stdout);
}

/* --- threads ---------------------------------------------------------------------- */
#define N_SHARED 16
static pthread_mutex_t g_shared_locks[N_SHARED];
static pthread_mutex_t g_global = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t g_tbar;
static long g_tcount;

static void *thread_worker(void *arg) {
  long id = (long)arg;
  pthread_mutex_t mine; /* a lock on this thread's stack; the stack is reused later */
  check(pthread_mutex_init(&mine, NULL), "pthread_mutex_init");
  /* order: shared[id % 16] -> stack lock -> global: consistent, no cycle */
  pthread_mutex_lock(&g_shared_locks[id % N_SHARED]);
  pthread_mutex_lock(&mine);
  pthread_mutex_lock(&g_global);
  g_tcount++;
  pthread_mutex_unlock(&g_global);
  pthread_mutex_unlock(&mine);
  pthread_mutex_unlock(&g_shared_locks[id % N_SHARED]);
  pthread_barrier_wait(&g_tbar); /* all threads alive at once */
  pthread_mutex_lock(&mine);
  pthread_mutex_unlock(&mine);
  pthread_mutex_destroy(&mine);
  return NULL;
}

static void part_threads(void) {
  for (int i = 0; i < N_SHARED; i++) check(pthread_mutex_init(&g_shared_locks[i], NULL), "pthread_mutex_init");
  pthread_t *tid = xmalloc(sizeof(pthread_t) * (size_t)g_threads);
  long rss0 = rss_kb();
  double best = 1e30, sum = 0;
  long peak_rss = 0;
  for (int w = 0; w < g_waves; w++) {
    g_tcount = 0;
    check(pthread_barrier_init(&g_tbar, NULL, (unsigned)g_threads + 1), "pthread_barrier_init");
    double t0 = now_s();
    for (long i = 0; i < g_threads; i++) {
      int rc = pthread_create(&tid[i], NULL, thread_worker, (void *)i);
      if (rc != 0) {
        fprintf(stderr, "scale_bench: pthread_create #%ld of %d: %s\n", i, g_threads, strerror(rc));
        exit(2);
      }
    }
    pthread_barrier_wait(&g_tbar);
    long rss_live = rss_kb() - rss0;
    if (rss_live > peak_rss) peak_rss = rss_live;
    for (long i = 0; i < g_threads; i++) check(pthread_join(tid[i], NULL), "pthread_join");
    double dt = now_s() - t0;
    pthread_barrier_destroy(&g_tbar);
    if (g_tcount != g_threads) {
      fprintf(stderr, "scale_bench: threads: %ld of %d threads ran\n", g_tcount, g_threads);
      exit(3);
    }
    printf("# threads: wave %d: %d threads created, all alive at once, joined in %.3f s "
           "(RSS %+ld KiB while alive)\n",
           w, g_threads, dt, rss_live);
    sum += dt;
    if (dt < best) best = dt;
  }
  free(tid);
  for (int i = 0; i < N_SHARED; i++) pthread_mutex_destroy(&g_shared_locks[i]);
  printf("RESULT part=threads threads=%d waves=%d total_s=%.4f best_wave_s=%.4f us_per_thread=%.1f "
         "peak_rss_kb=%ld\n",
         g_threads, g_waves, sum, best, best * 1e6 / g_threads, peak_rss);
  fflush(stdout);
}

/* --- held ------------------------------------------------------------------------- */
static void part_held(void) {
  int n = g_depth;
  pthread_mutex_t *m = xmalloc(sizeof(pthread_mutex_t) * (size_t)n);
  for (int i = 0; i < n; i++) check(pthread_mutex_init(&m[i], NULL), "pthread_mutex_init");
  /* first round on its own: every edge is new */
  double t0 = now_s();
  for (int i = 0; i < n; i++) pthread_mutex_lock(&m[i]);
  for (int i = n - 1; i >= 0; i--) pthread_mutex_unlock(&m[i]);
  double first = now_s() - t0;
  t0 = now_s();
  for (long r = 0; r < g_held_rounds; r++) {
    for (int i = 0; i < n; i++) pthread_mutex_lock(&m[i]);
    if (r & 1) {
      for (int i = 0; i < n; i++) pthread_mutex_unlock(&m[i]); /* FIFO: oldest first */
    } else {
      for (int i = n - 1; i >= 0; i--) pthread_mutex_unlock(&m[i]); /* LIFO */
    }
  }
  double dt = now_s() - t0;
  for (int i = 0; i < n; i++) check(pthread_mutex_destroy(&m[i]), "pthread_mutex_destroy");
  free(m);
  double ns = g_held_rounds ? dt * 1e9 / ((double)g_held_rounds * n) : 0;
  printf("# held: %d locks held at once: first round %.1f us, then %.1f ns per lock+unlock "
         "(%ld rounds)\n",
         n, first * 1e6, ns, g_held_rounds);
  printf("RESULT part=held depth=%d rounds=%ld first_round_us=%.1f ns_per_lock=%.2f total_s=%.4f\n", n,
         g_held_rounds, first * 1e6, ns, dt + first);
  fflush(stdout);
}

/* --- young ------------------------------------------------------------------------ */
enum { kYoungPairs = 6, kYoungDepth = 30 };
static pthread_mutex_t g_young_a[kYoungPairs], g_young_b[kYoungPairs];

static void young_loop(void) {
  for (int j = 0; j < kYoungPairs; j++) {
    check(pthread_mutex_init(&g_young_a[j], NULL), "pthread_mutex_init");
    check(pthread_mutex_init(&g_young_b[j], NULL), "pthread_mutex_init");
  }
  double t0 = now_s();
  for (long i = 0; i < g_young; i++) {
    pthread_mutex_t *m = xmalloc(sizeof *m);
    check(pthread_mutex_init(m, NULL), "pthread_mutex_init");
    pthread_mutex_lock(m);
    for (int j = 0; j < kYoungPairs; j++) {
      pthread_mutex_lock(&g_young_a[j]);
      pthread_mutex_lock(&g_young_b[j]);
      pthread_mutex_unlock(&g_young_b[j]);
      pthread_mutex_unlock(&g_young_a[j]);
    }
    pthread_mutex_unlock(m);
    check(pthread_mutex_destroy(m), "pthread_mutex_destroy");
    free(m);
  }
  double dt = now_s() - t0;
  double ns = dt * 1e9 / (double)g_young;
  printf("# young: %ld iterations %d frames deep, each a new heap mutex with %d new edges out of it: "
         "%.1f ns an iteration (%.1f ns per new edge, all included)\n",
         g_young, kYoungDepth, kYoungPairs, ns, ns / kYoungPairs);
  printf("RESULT part=young iterations=%ld depth=%d pairs=%d ns_per_iter=%.1f ns_per_new_edge=%.1f "
         "total_s=%.4f\n", g_young, kYoungDepth, kYoungPairs, ns, ns / kYoungPairs, dt);
  fflush(stdout);
}

/* A frame that the compiler can neither inline nor turn into a loop. */
__attribute__((noinline)) static int young_down(int depth) {
  volatile int pad = depth;
  if (depth <= 0) {
    young_loop();
    return pad;
  }
  return young_down(depth - 1) + pad;
}

static void part_young(void) { young_down(kYoungDepth); }

/* --- longrun ---------------------------------------------------------------------- */
/* A long run of the kind a sanitizer is left on for: every round starts short-lived threads that
 * create heap locks (mutexes and rwlocks, of varied sizes so that addresses move), nest them under
 * long-lived ones and under each other in a consistent order from a bounded set of call sites
 * (recursion depth 1..8: at most 8 x 4 distinct stacks), hand items over through a condition
 * variable, take a lock on their own stack, then destroy or merely free the heap locks and exit.
 * Every round is new locks, new edges, new threads; nothing a round makes outlives it except what a
 * tool keeps.  RSS (VmRSS) is read after each round: a tool whose memory stays flat returns to the
 * same level round after round; a leak shows as steady growth over the second half of the rounds. */
#define LR_LONG 16
static long g_lr_rounds = 2000;
static int g_lr_threads = 4;
static long g_lr_locks = 100;
static pthread_mutex_t g_lr_long[LR_LONG];
static pthread_mutex_t g_lr_qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_lr_qcv = PTHREAD_COND_INITIALIZER;
static long g_lr_queue;

typedef struct {
  long round;
  int id;
} lr_arg;

/* Lock `a` then `b` at one of four call sites chosen by `site`, `depth` frames down. */
static __attribute__((noinline)) void lr_nest(pthread_mutex_t *a, pthread_mutex_t *b, int site,
                                              int depth) {
  if (depth > 1) {
    lr_nest(a, b, site, depth - 1);
    __asm__ volatile("" ::: "memory"); /* not a tail call: one frame per level */
    return;
  }
  switch (site & 3) {
    case 0: pthread_mutex_lock(a); pthread_mutex_lock(b); break;
    case 1: pthread_mutex_lock(a); while (pthread_mutex_trylock(b) != 0) {} break;
    case 2: pthread_mutex_lock(a); pthread_mutex_lock(b); break;
    default: pthread_mutex_lock(a); pthread_mutex_lock(b); break;
  }
  pthread_mutex_unlock(b);
  pthread_mutex_unlock(a);
}

static void *lr_worker(void *p) {
  lr_arg *arg = p;
  long n = g_lr_locks;
  pthread_mutex_t **m = xmalloc(sizeof(*m) * (size_t)n);
  pthread_rwlock_t *rw = xmalloc(sizeof(*rw));
  pthread_mutex_t mine; /* on this thread's stack */
  check(pthread_mutex_init(&mine, NULL), "pthread_mutex_init");
  check(pthread_rwlock_init(rw, NULL), "pthread_rwlock_init");
  for (long i = 0; i < n; i++) {
    /* sizes 40..232 bytes: the heap hands out other addresses than last round's */
    m[i] = xmalloc(sizeof(pthread_mutex_t) + (size_t)(((i + arg->round) % 25) * 8));
    check(pthread_mutex_init(m[i], NULL), "pthread_mutex_init");
  }
  int depth = 1 + (int)((arg->round + arg->id) % 8);
  for (long i = 0; i < n; i++) {
    /* long-lived -> new, new -> newer (index order): consistent, no cycle */
    lr_nest(&g_lr_long[(i + arg->id) % LR_LONG], m[i], (int)i, depth);
    if (i + 1 < n) lr_nest(m[i], m[i + 1], (int)(i >> 1), depth);
  }
  pthread_rwlock_rdlock(rw);
  pthread_mutex_lock(&mine);
  pthread_mutex_lock(m[0]);
  pthread_mutex_unlock(m[0]);
  pthread_mutex_unlock(&mine);
  pthread_rwlock_unlock(rw);
  /* hand-overs: even threads produce, odd ones consume */
  for (int k = 0; k < 64; k++) {
    pthread_mutex_lock(&g_lr_qmu);
    if (arg->id & 1) {
      while (g_lr_queue == 0) pthread_cond_wait(&g_lr_qcv, &g_lr_qmu);
      g_lr_queue--;
    } else {
      g_lr_queue++;
      pthread_cond_signal(&g_lr_qcv);
    }
    pthread_mutex_unlock(&g_lr_qmu);
  }
  for (long i = 0; i < n; i++) {
    if (i & 1) check(pthread_mutex_destroy(m[i]), "pthread_mutex_destroy"); /* half only freed */
    free(m[i]);
  }
  check(pthread_rwlock_destroy(rw), "pthread_rwlock_destroy");
  free(rw);
  free(m);
  check(pthread_mutex_destroy(&mine), "pthread_mutex_destroy");
  return NULL;
}

static void part_longrun(void) {
  int nt = g_lr_threads & ~1; /* producers and consumers in pairs */
  if (nt < 2) nt = 2;
  for (int i = 0; i < LR_LONG; i++) check(pthread_mutex_init(&g_lr_long[i], NULL), "pthread_mutex_init");
  pthread_t tid[64];
  lr_arg args[64];
  if (nt > 64) nt = 64;
  long *rss = xmalloc(sizeof(long) * (size_t)g_lr_rounds);
  double *secs = xmalloc(sizeof(double) * (size_t)g_lr_rounds);
  long rss0 = rss_kb();
  double t0 = now_s();
  for (long r = 0; r < g_lr_rounds; r++) {
    double r0 = now_s();
    for (int i = 0; i < nt; i++) {
      args[i].round = r;
      args[i].id = i;
      check(pthread_create(&tid[i], NULL, lr_worker, &args[i]), "pthread_create");
    }
    for (int i = 0; i < nt; i++) check(pthread_join(tid[i], NULL), "pthread_join");
    secs[r] = now_s() - r0;
    rss[r] = rss_kb() - rss0;
  }
  double total = now_s() - t0;
  long half = g_lr_rounds / 2, last = g_lr_rounds - 1;
  long peak = 0;
  for (long r = 0; r < g_lr_rounds; r++)
    if (rss[r] > peak) peak = rss[r];
  /* time per round: the first tenth of the rounds against the last tenth (medians would need a
   * sort; means of a tenth are steady enough here) */
  long tenth = g_lr_rounds / 10 > 0 ? g_lr_rounds / 10 : 1;
  double first_ms = 0, last_ms = 0;
  for (long r = 0; r < tenth; r++) {
    first_ms += secs[r] * 1e3 / (double)tenth;
    last_ms += secs[g_lr_rounds - 1 - r] * 1e3 / (double)tenth;
  }
  for (long r = 0; r < g_lr_rounds; r += g_lr_rounds / 10 > 0 ? g_lr_rounds / 10 : 1)
    printf("# longrun: round %ld: RSS %+ld KiB, %.2f ms\n", r, rss[r], secs[r] * 1e3);
  long grow_half = rss[last] - rss[half];
  printf("# longrun: %ld rounds x %d threads x %ld heap locks: RSS %+ld KiB after the first round, "
         "%+ld at mid-run, %+ld at the end (peak %+ld); second half %+ld KiB (%.2f KiB a round); "
         "round time %.2f ms first tenth, %.2f ms last tenth; %.2f s in all\n",
         g_lr_rounds, nt, g_lr_locks, rss[0], rss[half], rss[last], peak, grow_half,
         (double)grow_half / (double)(last - half > 0 ? last - half : 1), first_ms, last_ms, total);
  printf("RESULT part=longrun rounds=%ld threads=%d locks=%ld rss_first_kb=%ld rss_mid_kb=%ld "
         "rss_end_kb=%ld rss_peak_kb=%ld growth_second_half_kb=%ld kb_per_round_second_half=%.3f "
         "first_round_ms=%.3f last_round_ms=%.3f round_time_ratio=%.3f total_s=%.3f\n",
         g_lr_rounds, nt, g_lr_locks, rss[0], rss[half], rss[last], peak, grow_half,
         (double)grow_half / (double)(last - half > 0 ? last - half : 1), first_ms, last_ms,
         first_ms > 0 ? last_ms / first_ms : 0.0, total);
  fflush(stdout);
  free(rss);
  free(secs);
  for (int i = 0; i < LR_LONG; i++) pthread_mutex_destroy(&g_lr_long[i]);
}

static void usage(void) {
  fprintf(stderr,
          "usage: scale_bench [all|live|edges|threads|held|young|longrun] [-L live_locks] [-E edges]\n"
          "                   [-B bucket] [-D edges_per_lock] [-t edge_threads] [-T threads]\n"
          "                   [-W waves] [-H held_depth] [-I held_rounds] [-R longrun_rounds]\n"
          "                   [-P longrun_threads] [-K longrun_locks] [-Y young_iterations]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *part = "all";
  if (argc > 1 && argv[1][0] != '-') {
    part = argv[1];
    optind = 2;
  }
  int opt;
  while ((opt = getopt(argc, argv, "Y:L:E:B:D:t:T:W:H:I:R:P:K:")) != -1) {
    switch (opt) {
      case 'Y': g_young = atol(optarg); break;
      case 'L': g_live = atol(optarg); break;
      case 'E': g_edges = atol(optarg); break;
      case 'B': g_bucket = atol(optarg); break;
      case 'D': g_per_lock = atol(optarg); break;
      case 't': g_edge_threads = atoi(optarg); break;
      case 'T': g_threads = atoi(optarg); break;
      case 'W': g_waves = atoi(optarg); break;
      case 'H': g_depth = atoi(optarg); break;
      case 'I': g_held_rounds = atol(optarg); break;
      case 'R': g_lr_rounds = atol(optarg); break;
      case 'P': g_lr_threads = atoi(optarg); break;
      case 'K': g_lr_locks = atol(optarg); break;
      default: usage();
    }
  }
  if (g_live < 1 || g_edges < 1 || g_bucket < 1 || g_edge_threads < 1 || g_threads < 1 ||
      g_waves < 1 || g_depth < 1 || g_held_rounds < 0 || g_lr_rounds < 2 || g_lr_threads < 1 ||
      g_lr_locks < 1 || g_young < 1) {
    fprintf(stderr, "scale_bench: counts must be positive\n");
    return 2;
  }
  int all = strcmp(part, "all") == 0, known = all;
  double t0 = now_s();
  if (all || strcmp(part, "live") == 0) { part_live(); known = 1; }
  if (all || strcmp(part, "edges") == 0) { part_edges(); known = 1; }
  if (all || strcmp(part, "threads") == 0) { part_threads(); known = 1; }
  if (all || strcmp(part, "held") == 0) { part_held(); known = 1; }
  if (all || strcmp(part, "young") == 0) { part_young(); known = 1; }
  if (all || strcmp(part, "longrun") == 0) { part_longrun(); known = 1; }
  if (!known) usage();
  printf("RESULT part=done part_run=%s total_s=%.3f\n", part, now_s() - t0);
  return 0;
}
