/* pair_bench: cost of the lock fast path, native or under a lock-checking tool.
 *
 *   pair_bench pair      [-t N] [-n ITERS] [-d SECONDS] [-r REPS]
 *       lock A, lock B, unlock B, unlock A in a loop.  With -t N every thread has its own
 *       pair of locks (each on its own cache line), so nothing is shared between threads:
 *       prints per-thread ns/pair and the aggregate throughput.
 *   pair_bench single    [-t N] [-n ITERS] [-d SECONDS] [-r REPS]
 *       lock/unlock of one mutex (per thread, own mutex).
 *   -s  run the measured loop in a spawned thread even for -t 1.  glibc (2.34+) skips the
 *       atomic instructions of pthread_mutex_lock while a process has never created a thread
 *       (__libc_single_threaded), so "-t 1" (main thread, single-threaded process) and
 *       "-t 1 -s" (multi-threaded process) differ by ~3x natively; scaling must be judged
 *       against "-t 1 -s".
 *   pair_bench contended [-t N] [-n TOTAL_OPS] [-c CS_WORK] [-r REPS]
 *       N threads hammer one mutex; a small critical section; fixed total ops split evenly;
 *       prints the wall seconds.
 *
 * -n fixes the iterations (per thread for pair/single, total for contended); without it
 * pair/single calibrate the iteration count so that one measurement takes -d seconds
 * (default 0.3), which also works under valgrind.  -r repeats the measurement inside the
 * process and reports the median (and min/max).  Output: one machine-readable line
 *   RESULT mode=pair threads=1 iters=... ns_per_op=12.3 ...
 * plus human-readable lines starting with '#'.  Exit status 0 on success.
 *
 * pair/single also report, for the measured loop of each thread, its CPU time per operation
 * (cpu_ns_per_op: CLOCK_THREAD_CPUTIME_ID, the mean over the threads, median over the reps) and
 * the share of the wall time the threads were on a CPU (oncpu: their CPU time summed over
 * threads x wall).  On a shared machine another process takes CPUs from the threads: wall time
 * and throughput then measure that load, whereas the CPU time per operation measures what the
 * threads cost each other while they run at the same time (a cache line written by both shows
 * there).  best_agg_mops is the highest aggregate throughput of the reps (load only lowers it).
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

#define CACHE_LINE 64
#define MAX_THREADS 1024
#define MAX_REPS 101

typedef struct {
  pthread_mutex_t m;
} __attribute__((aligned(CACHE_LINE))) padded_mutex;

typedef struct {
  padded_mutex a;
  padded_mutex b;
  int id;
  uint64_t iters;
  double start_ns, end_ns; /* taken by the thread itself */
  double elapsed_ns;
  double cpu_ns; /* CPU time of the measured loop */
  uint64_t sink;
} __attribute__((aligned(CACHE_LINE))) thread_slot;

static const char *g_mode = "pair";
static int g_threads = 1;
static uint64_t g_iters = 0; /* 0: calibrate */
static double g_seconds = 0.3;
static double g_warmup = 0.05;
static int g_reps = 1;
static int g_cs_work = 8;
static int g_spawn = 0; /* -s: run -t 1 in a spawned thread too (multi-threaded process) */

static pthread_barrier_t g_start;

static void die(const char *what, int err) {
  fprintf(stderr, "pair_bench: %s: %s\n", what, strerror(err));
  exit(2);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void check(int rc, const char *what) {
  if (rc != 0) die(what, rc);
}

/* The measured loops.  noinline keeps them identical whatever the caller. */
__attribute__((noinline)) static void loop_pair(pthread_mutex_t *a, pthread_mutex_t *b, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    pthread_mutex_lock(a);
    pthread_mutex_lock(b);
    pthread_mutex_unlock(b);
    pthread_mutex_unlock(a);
  }
}

__attribute__((noinline)) static void loop_single(pthread_mutex_t *a, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    pthread_mutex_lock(a);
    pthread_mutex_unlock(a);
  }
}

static void run_loop(thread_slot *s, uint64_t n) {
  if (strcmp(g_mode, "pair") == 0)
    loop_pair(&s->a.m, &s->b.m, n);
  else
    loop_single(&s->a.m, n);
}

static thread_slot *new_slots(int n) {
  void *p = NULL;
  int rc = posix_memalign(&p, CACHE_LINE, sizeof(thread_slot) * (size_t)n);
  if (rc != 0) die("posix_memalign", rc);
  memset(p, 0, sizeof(thread_slot) * (size_t)n);
  thread_slot *s = p;
  for (int i = 0; i < n; i++) {
    s[i].id = i;
    check(pthread_mutex_init(&s[i].a.m, NULL), "pthread_mutex_init");
    check(pthread_mutex_init(&s[i].b.m, NULL), "pthread_mutex_init");
  }
  return s;
}

static void free_slots(thread_slot *s, int n) {
  for (int i = 0; i < n; i++) {
    pthread_mutex_destroy(&s[i].a.m);
    pthread_mutex_destroy(&s[i].b.m);
  }
  free(s);
}

/* Warm up for g_warmup seconds, then find the iteration count that takes g_seconds. */
static uint64_t calibrate(thread_slot *s) {
  double t_end = now_ns() + g_warmup * 1e9;
  while (now_ns() < t_end) run_loop(s, 1000);
  uint64_t n = 1000;
  for (;;) {
    double t0 = now_ns();
    run_loop(s, n);
    double dt = now_ns() - t0;
    if (dt >= g_seconds * 1e9 / 8 || n >= (UINT64_C(1) << 40)) {
      double want = (double)n * (g_seconds * 1e9) / (dt > 1 ? dt : 1);
      if (want < 1000) want = 1000;
      return (uint64_t)want;
    }
    n *= 2;
  }
}

static void *uncontended_worker(void *arg) {
  thread_slot *s = arg;
  /* Own warm-up: first touch of the locks, tool's per-thread state. */
  run_loop(s, s->iters / 20 + 1);
  pthread_barrier_wait(&g_start);
  s->start_ns = now_ns();
  double c0 = thread_cpu_ns();
  run_loop(s, s->iters);
  s->cpu_ns = thread_cpu_ns() - c0;
  s->end_ns = now_ns();
  s->elapsed_ns = s->end_ns - s->start_ns;
  return NULL;
}

/* --- contended --------------------------------------------------------------------- */
static padded_mutex g_hot;
static struct {
  volatile uint64_t counter;
  volatile uint64_t state;
} __attribute__((aligned(CACHE_LINE))) g_shared;

typedef struct {
  uint64_t ops;
  double start_ns, end_ns;
} __attribute__((aligned(CACHE_LINE))) contended_arg;

static void *contended_worker(void *arg) {
  contended_arg *a = arg;
  pthread_barrier_wait(&g_start);
  a->start_ns = now_ns();
  for (uint64_t i = 0; i < a->ops; i++) {
    pthread_mutex_lock(&g_hot.m);
    uint64_t x = g_shared.state;
    for (int k = 0; k < g_cs_work; k++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    g_shared.state = x;
    g_shared.counter = g_shared.counter + 1;
    pthread_mutex_unlock(&g_hot.m);
  }
  a->end_ns = now_ns();
  return NULL;
}

/* One contended run of `total` ops; returns wall ns: from the first thread's start to the last
 * thread's end, each taken by the threads themselves (the main thread may be descheduled, or
 * under valgrind run last, after the barrier). */
static double contended_once(uint64_t total) {
  pthread_t tid[MAX_THREADS];
  contended_arg args[MAX_THREADS];
  uint64_t per = total / (uint64_t)g_threads, extra = total % (uint64_t)g_threads;
  g_shared.counter = 0;
  check(pthread_barrier_init(&g_start, NULL, (unsigned)g_threads + 1), "pthread_barrier_init");
  for (int i = 0; i < g_threads; i++) {
    args[i].ops = per + ((uint64_t)i < extra ? 1 : 0);
    check(pthread_create(&tid[i], NULL, contended_worker, &args[i]), "pthread_create");
  }
  pthread_barrier_wait(&g_start);
  for (int i = 0; i < g_threads; i++) check(pthread_join(tid[i], NULL), "pthread_join");
  double first = args[0].start_ns, last = args[0].end_ns;
  for (int i = 1; i < g_threads; i++) {
    if (args[i].start_ns < first) first = args[i].start_ns;
    if (args[i].end_ns > last) last = args[i].end_ns;
  }
  double dt = last - first;
  pthread_barrier_destroy(&g_start);
  if (g_shared.counter != total) {
    fprintf(stderr, "pair_bench: contended: counter %llu != %llu (mutual exclusion broken)\n",
            (unsigned long long)g_shared.counter, (unsigned long long)total);
    exit(3);
  }
  return dt;
}

static void *noop_thread(void *arg) { return arg; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return (n % 2) ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(void) {
  fprintf(stderr,
          "usage: pair_bench {pair|single|contended} [-t THREADS] [-s] [-n ITERS] [-d SECONDS]\n"
          "                  [-w WARMUP_SECONDS] [-r REPS] [-c CS_WORK]\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  g_mode = argv[1];
  int is_contended = strcmp(g_mode, "contended") == 0;
  if (!is_contended && strcmp(g_mode, "pair") != 0 && strcmp(g_mode, "single") != 0) usage();
  optind = 2;
  int opt;
  while ((opt = getopt(argc, argv, "t:n:d:w:r:c:s")) != -1) {
    switch (opt) {
      case 't': g_threads = atoi(optarg); break;
      case 'n': g_iters = strtoull(optarg, NULL, 10); break;
      case 'd': g_seconds = atof(optarg); break;
      case 'w': g_warmup = atof(optarg); break;
      case 'r': g_reps = atoi(optarg); break;
      case 'c': g_cs_work = atoi(optarg); break;
      case 's': g_spawn = 1; break;
      default: usage();
    }
  }
  if (g_threads < 1 || g_threads > MAX_THREADS) {
    fprintf(stderr, "pair_bench: -t must be 1..%d\n", MAX_THREADS);
    return 2;
  }
  if (g_reps < 1 || g_reps > MAX_REPS) {
    fprintf(stderr, "pair_bench: -r must be 1..%d\n", MAX_REPS);
    return 2;
  }
  if (g_seconds <= 0) g_seconds = 0.3;

  double per_op[MAX_REPS], wall[MAX_REPS], agg[MAX_REPS], cpu[MAX_REPS], oncpu[MAX_REPS];

  if (is_contended) {
    uint64_t total = g_iters ? g_iters : 2000000;
    check(pthread_mutex_init(&g_hot.m, NULL), "pthread_mutex_init");
    contended_once(total / 10 + (uint64_t)g_threads); /* warm-up */
    for (int r = 0; r < g_reps; r++) {
      double dt = contended_once(total);
      wall[r] = dt / 1e9;
      per_op[r] = dt / (double)total;
      printf("# rep %d: contended threads=%d ops=%llu wall=%.4f s (%.1f ns/op)\n", r, g_threads,
             (unsigned long long)total, wall[r], per_op[r]);
    }
    double mn = wall[0], mx = wall[0];
    for (int r = 1; r < g_reps; r++) {
      if (wall[r] < mn) mn = wall[r];
      if (wall[r] > mx) mx = wall[r];
    }
    double w = median(wall, g_reps);
    printf("RESULT mode=contended threads=%d ops=%llu cs_work=%d reps=%d wall_s=%.6f "
           "min_wall_s=%.6f max_wall_s=%.6f ns_per_op=%.2f\n",
           g_threads, (unsigned long long)total, g_cs_work, g_reps, w, mn, mx,
           w * 1e9 / (double)total);
    pthread_mutex_destroy(&g_hot.m);
    return 0;
  }

  if (g_threads > 1 || g_spawn) {
    /* Make the process multi-threaded before calibrating (see -s above). */
    pthread_t t;
    check(pthread_create(&t, NULL, noop_thread, NULL), "pthread_create");
    check(pthread_join(t, NULL), "pthread_join");
  }
  thread_slot *cal = new_slots(1);
  uint64_t n = g_iters ? g_iters : calibrate(cal);
  free_slots(cal, 1);

  double max_thread[MAX_REPS];
  for (int r = 0; r < g_reps; r++) {
    thread_slot *s = new_slots(g_threads);
    if (g_threads == 1 && !g_spawn) {
      s[0].iters = n;
      run_loop(&s[0], n / 20 + 1); /* warm-up on the fresh locks */
      double t0 = now_ns();
      double c0 = thread_cpu_ns();
      run_loop(&s[0], n);
      s[0].cpu_ns = thread_cpu_ns() - c0;
      s[0].elapsed_ns = now_ns() - t0;
      wall[r] = s[0].elapsed_ns;
    } else {
      pthread_t tid[MAX_THREADS];
      check(pthread_barrier_init(&g_start, NULL, (unsigned)g_threads + 1), "pthread_barrier_init");
      for (int i = 0; i < g_threads; i++) {
        s[i].iters = n;
        check(pthread_create(&tid[i], NULL, uncontended_worker, &s[i]), "pthread_create");
      }
      pthread_barrier_wait(&g_start);
      for (int i = 0; i < g_threads; i++) check(pthread_join(tid[i], NULL), "pthread_join");
      double first = s[0].start_ns, last = s[0].end_ns;
      for (int i = 1; i < g_threads; i++) {
        if (s[i].start_ns < first) first = s[i].start_ns;
        if (s[i].end_ns > last) last = s[i].end_ns;
      }
      wall[r] = last - first;
      pthread_barrier_destroy(&g_start);
    }
    double sum = 0, mx = 0, cpu_sum = 0;
    for (int i = 0; i < g_threads; i++) {
      double v = s[i].elapsed_ns / (double)n;
      sum += v;
      if (v > mx) mx = v;
      cpu_sum += s[i].cpu_ns;
    }
    per_op[r] = sum / g_threads;
    cpu[r] = cpu_sum / g_threads / (double)n;
    oncpu[r] = cpu_sum / g_threads / wall[r];
    max_thread[r] = mx;
    agg[r] = (double)n * g_threads / (wall[r] / 1e9) / 1e6; /* Mops/s */
    printf("# rep %d: %s threads=%d iters=%llu per-thread %.2f ns/op (slowest %.2f), "
           "aggregate %.2f Mops/s, wall %.4f s, CPU %.2f ns/op, on CPU %.0f%% of the wall\n",
           r, g_mode, g_threads, (unsigned long long)n, per_op[r], mx, agg[r], wall[r] / 1e9, cpu[r],
           100 * oncpu[r]);
    free_slots(s, g_threads);
  }
  double mn = per_op[0], mxv = per_op[0];
  for (int r = 1; r < g_reps; r++) {
    if (per_op[r] < mn) mn = per_op[r];
    if (per_op[r] > mxv) mxv = per_op[r];
  }
  double best_agg = agg[0];
  for (int r = 1; r < g_reps; r++)
    if (agg[r] > best_agg) best_agg = agg[r];
  double med = median(per_op, g_reps);
  double med_agg = median(agg, g_reps);
  double med_cpu = median(cpu, g_reps);
  double med_oncpu = median(oncpu, g_reps);
  double med_slow = median(max_thread, g_reps);
  double med_wall = median(wall, g_reps);
  printf("RESULT mode=%s threads=%d spawn=%d iters=%llu reps=%d ns_per_op=%.3f min_ns_per_op=%.3f "
         "max_ns_per_op=%.3f slowest_thread_ns_per_op=%.3f agg_mops=%.3f best_agg_mops=%.3f "
         "wall_s=%.6f cpu_ns_per_op=%.3f oncpu=%.3f\n",
         g_mode, g_threads, g_spawn, (unsigned long long)n, g_reps, med, mn, mxv, med_slow, med_agg,
         best_agg, med_wall / 1e9, med_cpu, med_oncpu);
  return 0;
}
