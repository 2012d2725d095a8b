// examples/transfer.c — the classic lock-order inversion: transfer(a, b) locks a then b, so two
// transfers in opposite directions lock the same two accounts in opposite orders. Here they run one
// after the other and the program finishes, but run concurrently they deadlock.
#include <pthread.h>
#include <stdio.h>

struct account {
  pthread_mutex_t lock;
  long balance;
};

static struct account alice = {PTHREAD_MUTEX_INITIALIZER, 100};
static struct account bob = {PTHREAD_MUTEX_INITIALIZER, 100};

static void transfer(struct account* from, struct account* to, long amount) {
  pthread_mutex_lock(&from->lock);
  pthread_mutex_lock(&to->lock);
  from->balance -= amount;
  to->balance += amount;
  pthread_mutex_unlock(&to->lock);
  pthread_mutex_unlock(&from->lock);
}

static void* pay_alice(void* arg) {
  (void)arg;
  transfer(&bob, &alice, 10);
  return NULL;
}

int main(void) {
  transfer(&alice, &bob, 25);
  pthread_t t;
  pthread_create(&t, NULL, pay_alice, NULL);
  pthread_join(t, NULL);
  printf("alice=%ld bob=%ld\n", alice.balance, bob.balance);
  return 0;
}
