// tests/real/sqlite_mt.c — a multi-threaded SQLite workload (the Debian libsqlite3, built
// SQLITE_THREADSAFE=1: its mutexes are pthread mutexes, so locksan sees SQLite's own locking).
//
//   sqlite_mt DIR MODE
// MODE:
//   wal      8 threads, each with its own connection to one WAL database: transactions of inserts,
//            updates and selects, with a busy timeout (file locks between connections, SQLite's
//            global and per-connection mutexes inside).
//   shared   one connection opened with SQLITE_OPEN_FULLMUTEX shared by 8 threads (serialized mode:
//            the connection mutex is taken around every API call, nested with the pager/btree locks).
//   cache    4 connections in shared-cache mode (sqlite3_enable_shared_cache), 2 threads each: the
//            BtShared mutexes are entered in SQLite's documented order (sqlite3BtreeEnterAll).
//   mixed    all three at once, plus sqlite3_backup_step between two connections and
//            sqlite3_interrupt from a watcher thread.
// Prints one line "MODE: ok N rows" and exits 0, or names the failing call and exits 1.
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[1024];
static int failed;

static void die(sqlite3* db, const char* what, int rc) {
  fprintf(stderr, "%s: rc=%d %s\n", what, rc, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  __atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);
}

static int exec(sqlite3* db, const char* sql) {
  char* err = 0;
  int rc;
  for (int tries = 0; tries < 200; tries++) {
    rc = sqlite3_exec(db, sql, 0, 0, &err);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED && rc != SQLITE_LOCKED_SHAREDCACHE) break;
    sqlite3_free(err);
    err = 0;
    usleep(1000);
  }
  if (rc != SQLITE_OK && rc != SQLITE_INTERRUPT) {
    fprintf(stderr, "exec '%.60s': %s\n", sql, err ? err : sqlite3_errstr(rc));
    __atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);
  }
  sqlite3_free(err);
  return rc;
}

static sqlite3* open_db(const char* name, int flags) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  sqlite3* db = 0;
  int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 0);
  if (rc != SQLITE_OK) {
    die(db, "open", rc);
    return 0;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

static void work(sqlite3* db, int id, int iters, int txn) {
  char sql[256];
  for (int i = 0; i < iters && !failed; i++) {
    if (txn) exec(db, "BEGIN IMMEDIATE");
    snprintf(sql, sizeof sql, "INSERT INTO t(k, v) VALUES (%d, 'row %d of %d')", id * 100000 + i, i, id);
    exec(db, sql);
    snprintf(sql, sizeof sql, "UPDATE t SET v = v || '.' WHERE k = %d", id * 100000 + i / 2);
    exec(db, sql);
    if (txn) exec(db, "COMMIT");
    sqlite3_stmt* st = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*), max(k) FROM t WHERE k >= ?", -1, &st, 0) == SQLITE_OK) {
      sqlite3_bind_int(st, 1, id * 100000);
      while (sqlite3_step(st) == SQLITE_ROW) {
      }
      sqlite3_finalize(st);
    }
  }
}

struct job {
  sqlite3* db;
  const char* name;
  int flags;
  int id;
  int iters;
};

static void* own_connection(void* p) {
  struct job* j = p;
  sqlite3* db = open_db(j->name, j->flags);
  if (!db) return 0;
  work(db, j->id, j->iters, 1);
  sqlite3_close(db);
  return 0;
}

static void* shared_connection(void* p) {
  struct job* j = p;
  work(j->db, j->id, j->iters, 0);  // autocommit: the threads share one connection
  return 0;
}

static void setup(const char* name, int wal) {
  sqlite3* db = open_db(name, 0);
  if (!db) return;
  if (wal) exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v TEXT)");
  sqlite3_close(db);
}

static long count_rows(const char* name) {
  sqlite3* db = open_db(name, 0);
  long n = -1;
  sqlite3_stmt* st = 0;
  if (db && sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, 0) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

static volatile int stop_watcher;
static void* interrupter(void* p) {
  sqlite3* db = p;
  while (!stop_watcher) {
    usleep(20000);
    sqlite3_interrupt(db);
  }
  return 0;
}

static void* backup_loop(void* p) {
  (void)p;
  sqlite3* src = open_db("wal.db", 0);
  sqlite3* dst = open_db("backup.db", 0);
  for (int i = 0; i < 20 && src && dst; i++) {
    sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
    if (b) {
      while (sqlite3_backup_step(b, 16) == SQLITE_OK) {
      }
      sqlite3_backup_finish(b);
    }
  }
  sqlite3_close(src);
  sqlite3_close(dst);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: sqlite_mt DIR wal|shared|cache|mixed\n");
    return 2;
  }
  snprintf(dir, sizeof dir, "%s", argv[1]);
  const char* mode = argv[2];
  int all = !strcmp(mode, "mixed");
  pthread_t t[32];
  struct job jobs[32];
  int n = 0, iters = 150;
  if (!sqlite3_threadsafe()) {
    fprintf(stderr, "libsqlite3 is not thread-safe\n");
    return 1;
  }
  if (all || !strcmp(mode, "wal")) {
    setup("wal.db", 1);
    for (int i = 0; i < 8; i++, n++) {
      jobs[n] = (struct job){0, "wal.db", 0, n, iters};
      pthread_create(&t[n], 0, own_connection, &jobs[n]);
    }
  }
  sqlite3* shared = 0;
  pthread_t irq;
  if (all || !strcmp(mode, "shared")) {
    setup("shared.db", 1);
    shared = open_db("shared.db", SQLITE_OPEN_FULLMUTEX);
    for (int i = 0; i < 8; i++, n++) {
      jobs[n] = (struct job){shared, 0, 0, n, iters / 2};
      pthread_create(&t[n], 0, shared_connection, &jobs[n]);
    }
    if (all) pthread_create(&irq, 0, interrupter, shared);
  }
  if (all || !strcmp(mode, "cache")) {
    sqlite3_enable_shared_cache(1);
    setup("cache.db", 0);
    for (int i = 0; i < 8; i++, n++) {
      jobs[n] = (struct job){0, "cache.db", SQLITE_OPEN_SHAREDCACHE | SQLITE_OPEN_FULLMUTEX, n, iters / 3};
      pthread_create(&t[n], 0, own_connection, &jobs[n]);
    }
  }
  pthread_t bk;
  if (all) pthread_create(&bk, 0, backup_loop, 0);
  for (int i = 0; i < n; i++) pthread_join(t[i], 0);
  if (all) {
    pthread_join(bk, 0);
    stop_watcher = 1;
    pthread_join(irq, 0);
  }
  if (shared) sqlite3_close(shared);
  long rows = 0;
  if (all || !strcmp(mode, "wal")) rows += count_rows("wal.db");
  if (all || !strcmp(mode, "shared")) rows += count_rows("shared.db");
  if (all || !strcmp(mode, "cache")) rows += count_rows("cache.db");
  if (failed && !all) return 1;
  printf("%s: ok %ld rows\n", mode, rows);
  return failed && !all ? 1 : 0;
}
