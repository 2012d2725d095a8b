// bench/sqlite_bench.c — someone else's lock-heavy C code: SQLite's own locking, in memory.
//
//   sqlite_bench MODE [-t THREADS] [-n OPS_PER_THREAD]
// MODE:
//   own     each thread opens its own in-memory database and runs OPS transactions of
//           INSERT + point SELECT + UPDATE through prepared statements. SQLite (the Debian
//           libsqlite3, SQLITE_THREADSAFE=1, serialized by default) takes its connection mutex around
//           every API call, nested with the global memory-statistics mutex of every allocation and the
//           page-cache mutex: many uncontended pthread mutexes, three or four deep.
//   shared  one connection (SQLITE_OPEN_FULLMUTEX) shared by all threads, the same statements: the
//           connection mutex is contended, with the same nesting under it.
// No file I/O, no sleeps: the wall time is CPU and locks. Prints
//   RESULT mode=M threads=T ops=N wall_s=S ns_per_op=X
// (an op is one statement step) and exits 0, or names the failing call and exits 1.
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_ops = 20000;
static sqlite3* g_shared;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void check(sqlite3* db, int rc, int want, const char* what) {
  if (rc == want) return;
  fprintf(stderr, "sqlite_bench: %s: rc=%d %s\n", what, rc, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  exit(1);
}

static sqlite3* open_db(int full_mutex) {
  sqlite3* db = NULL;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | (full_mutex ? SQLITE_OPEN_FULLMUTEX : 0);
  check(db, sqlite3_open_v2(":memory:", &db, flags, NULL), SQLITE_OK, "open");
  check(db, sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v INTEGER, s TEXT)", 0, 0, 0),
        SQLITE_OK, "create");
  return db;
}

// One op = one sqlite3_step. Keys are per thread (tid * 2^24 + i) so shared mode does not collide.
static void work(sqlite3* db, long tid) {
  sqlite3_stmt *ins, *sel, *upd;
  check(db, sqlite3_prepare_v2(db, "INSERT INTO t(k, v, s) VALUES(?1, ?2, 'payload')", -1, &ins, 0), SQLITE_OK, "prepare insert");
  check(db, sqlite3_prepare_v2(db, "SELECT v FROM t WHERE k = ?1", -1, &sel, 0), SQLITE_OK, "prepare select");
  check(db, sqlite3_prepare_v2(db, "UPDATE t SET v = v + 1 WHERE k = ?1", -1, &upd, 0), SQLITE_OK, "prepare update");
  long base = tid << 24;
  for (int i = 0; i < g_ops / 3; i++) {
    long k = base + i;
    sqlite3_bind_int64(ins, 1, k);
    sqlite3_bind_int64(ins, 2, i);
    check(db, sqlite3_step(ins), SQLITE_DONE, "insert");
    sqlite3_reset(ins);
    sqlite3_bind_int64(sel, 1, k);
    check(db, sqlite3_step(sel), SQLITE_ROW, "select");
    if (sqlite3_column_int64(sel, 0) != i) {
      fprintf(stderr, "sqlite_bench: read back a wrong value\n");
      exit(1);
    }
    sqlite3_reset(sel);
    sqlite3_bind_int64(upd, 1, k);
    check(db, sqlite3_step(upd), SQLITE_DONE, "update");
    sqlite3_reset(upd);
  }
  sqlite3_finalize(ins);
  sqlite3_finalize(sel);
  sqlite3_finalize(upd);
}

static void* thread_main(void* arg) {
  long tid = (long)arg;
  if (g_shared) {
    work(g_shared, tid);
  } else {
    sqlite3* db = open_db(0);
    work(db, tid);
    sqlite3_close(db);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2 || (strcmp(argv[1], "own") && strcmp(argv[1], "shared"))) {
    fprintf(stderr, "usage: sqlite_bench own|shared [-t THREADS] [-n OPS_PER_THREAD]\n");
    return 2;
  }
  const char* mode = argv[1];
  int threads = 4;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-n")) g_ops = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "sqlite_bench: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (threads < 1 || threads > 256 || g_ops < 3) {
    fprintf(stderr, "sqlite_bench: -t 1..256, -n >= 3\n");
    return 2;
  }
  if (!sqlite3_threadsafe()) {
    fprintf(stderr, "sqlite_bench: this libsqlite3 was built without thread safety\n");
    return 1;
  }
  if (!strcmp(mode, "shared")) g_shared = open_db(1);
  pthread_t th[256];
  double t0 = now();
  for (long i = 0; i < threads; i++)
    if (pthread_create(&th[i], NULL, thread_main, (void*)i)) {
      fprintf(stderr, "sqlite_bench: pthread_create failed\n");
      return 1;
    }
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  double wall = now() - t0;
  if (g_shared) sqlite3_close(g_shared);
  long ops = (long)threads * (g_ops / 3) * 3;
  printf("RESULT mode=%s threads=%d ops=%ld wall_s=%.4f ns_per_op=%.1f\n", mode, threads, ops, wall, wall * 1e9 / ops);
  return 0;
}
