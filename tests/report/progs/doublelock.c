// tests/report/progs/doublelock.c — a thread locks a mutex it already holds: a double-lock report.
// Run it with LOCKSAN_OPTIONS=halt_on_error=1: locksan reports and exits before the second lock
// would block forever.
#include <pthread.h>

pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
int config_version;

__attribute__((noinline)) void apply_config(void) {
  pthread_mutex_lock(&config_lock);
  config_version++;
  pthread_mutex_unlock(&config_lock);
}

__attribute__((noinline)) void reload_config(void) {
  pthread_mutex_lock(&config_lock);
  apply_config();
  pthread_mutex_unlock(&config_lock);
}

int main(void) {
  reload_config();
  return 0;
}
