// A block that holds a used mutex is moved by realloc (or reallocarray): the allocator frees the old
// block internally, where free() is not called. A new block at the old address then holds a
// zero-filled mutex (PTHREAD_MUTEX_INITIALIZER, never passed to pthread_mutex_init) taken in the
// opposite order against mu_g. If the moved-away lock's identity stayed at that address, the new
// lock would inherit its edge mu_g -> old and the program would get a false lock-order-inversion.
// locksan moves a block that may hold a live lock itself (malloc, copy, forget, free), so the old
// address is forgotten before anyone can be given it. The copy at the new address works as a lock.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^realloc: reused the old address: yes$
// CHECK-STDOUT: ^reallocarray: reused the old address: yes$
// CHECK-STDOUT: ^shrunk: 7$
// CHECK-STDOUT: ^done$
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct S {
  long value;
  pthread_mutex_t m;
};

pthread_mutex_t mu_g = PTHREAD_MUTEX_INITIALIZER;

// A new zero-filled block at `old` if the allocator hands that address out again within a few tries.
static struct S* block_at(void* old) {
  void* tries[64];
  struct S* found = NULL;
  int n = 0;
  for (; n < 64; n++) {
    tries[n] = malloc(sizeof(struct S));
    if (tries[n] == old) {
      found = tries[n];
      break;
    }
  }
  for (int i = 0; i < n; i++) free(tries[i]);
  if (found) memset(found, 0, sizeof *found);
  return found;
}

static void scenario(const char* name, int use_reallocarray) {
  struct S* a = malloc(sizeof *a);
  pthread_mutex_init(&a->m, NULL);
  pthread_mutex_lock(&mu_g);  // mu_g -> a->m
  pthread_mutex_lock(&a->m);
  pthread_mutex_unlock(&a->m);
  pthread_mutex_unlock(&mu_g);
  void* old = a;
  struct S* moved = use_reallocarray ? reallocarray(a, 1 << 15, sizeof *a) : realloc(a, 1 << 20);
  struct S* b = block_at(old);
  printf("%s: reused the old address: %s\n", name, b ? "yes" : "no");
  if (b) {
    pthread_mutex_lock(&b->m);  // b->m -> mu_g: the opposite order, but another lock
    pthread_mutex_lock(&mu_g);
    pthread_mutex_unlock(&mu_g);
    pthread_mutex_unlock(&b->m);
    free(b);
  }
  pthread_mutex_lock(&moved->m);  // the copy works as a lock
  pthread_mutex_unlock(&moved->m);
  free(moved);
}

int main(void) {
  scenario("realloc", 0);
  scenario("reallocarray", 1);
  // Shrinking a block that holds a lock: its contents are kept.
  struct S* c = malloc(4 * sizeof *c);
  pthread_mutex_init(&c->m, NULL);
  c->value = 7;
  pthread_mutex_lock(&c->m);
  pthread_mutex_unlock(&c->m);
  c = realloc(c, sizeof *c);
  pthread_mutex_lock(&c->m);
  printf("shrunk: %ld\n", c->value);
  pthread_mutex_unlock(&c->m);
  free(c);
  printf("done\n");
  return 0;
}
