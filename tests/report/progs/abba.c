// tests/report/progs/abba.c — a lock-order inversion between two code paths, run one after the
// other so that the program never hangs and its report is the same at every run.
//   abba           thread "poster" runs post_entry (ledger -> audit), then "auditor" run_audit
//                  (audit -> ledger): the auditor's edge closes the cycle
//   abba reverse   the same two paths in the other order: another report (the other edge closes the
//                  cycle, other lock numbers), the same bug, so the same fingerprint
// The line numbers of the lock calls are part of the golden reports: keep them where they are.
#include <pthread.h>
#include <string.h>

pthread_mutex_t ledger_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;
long ledger_total;

__attribute__((noinline)) void post_entry(long amount) {
  pthread_mutex_lock(&ledger_lock);
  pthread_mutex_lock(&audit_lock);
  ledger_total += amount;
  pthread_mutex_unlock(&audit_lock);
  pthread_mutex_unlock(&ledger_lock);
}

__attribute__((noinline)) void run_audit(void) {
  pthread_mutex_lock(&audit_lock);
  pthread_mutex_lock(&ledger_lock);
  ledger_total = 0;
  pthread_mutex_unlock(&ledger_lock);
  pthread_mutex_unlock(&audit_lock);
}

static void* poster(void* arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "poster");
  post_entry(10);
  return NULL;
}

static void* auditor(void* arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "auditor");
  run_audit();
  return NULL;
}

int main(int argc, char** argv) {
  int reverse = argc > 1 && !strcmp(argv[1], "reverse");
  pthread_t t;
  pthread_create(&t, NULL, reverse ? auditor : poster, NULL);
  pthread_join(t, NULL);
  pthread_create(&t, NULL, reverse ? poster : auditor, NULL);
  pthread_join(t, NULL);
  return 0;
}
