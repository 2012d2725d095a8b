// Lock revival (revive_locks=1, the default; docs/design.md "Locks re-created at the same address"):
// a heap mutex made, taken under A and freed once per item of a loop (PyTorch's DataLoader makes a
// torch.Generator, with a std::mutex, per item) takes the graph node of the previous item's mutex
// back, so that each item makes no new node, edge or order check. The variants check that revival
// changes no verdict: a real inversion through a revived lock is reported, and a lock whose node must
// not be reused (edges from a second chain, an edge out of it, an order check with edges while it
// was held) is a new lock. The init_* variants do the same with a mutex registered at its
// pthread_mutex_init (revived at its first acquisition).
//
// ARGS: loop
// RUN-OPTIONS: verbosity=1
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^same address: yes$
// CHECK: stats: .* 999 locks revived \(1 parked\)
//
// VARIANT: loop_off
// revive_locks=0: every item's mutex is a new lock.
// RUN-OPTIONS: verbosity=1 revive_locks=0
// CLEAR: CHECK
// CHECK: stats: .* 0 locks revived \(0 parked\)
//
// VARIANT: trace
// verbosity=3 prints each new, revived and forgotten lock, each order check that missed the caches and
// each edge it looked at, in the form bench/sampler/trace_sites.py reads.
// RUN-OPTIONS: verbosity=3
// CLEAR: CHECK
// CHECK: ^==%pid==locksan: T0 new lock (\d+)\(mutex\)@0x[0-9a-f]+ at pc 0x[0-9a-f]+, 1 held$
// CHECK: ^==%pid==locksan: T0 check \d+\(mutex\)@0x[0-9a-f]+ at pc 0x[0-9a-f]+, 1 held$
// CHECK: ^==%pid==locksan: T0 edge \d+\(mutex\)@0x[0-9a-f]+ -> \d+\(mutex\)@0x[0-9a-f]+ at pc 0x[0-9a-f]+: 1$
// CHECK: ^==%pid==locksan: forget lock \d+\(mutex\)@0x[0-9a-f]+, first taken at pc 0x[0-9a-f]+$
// CHECK: ^==%pid==locksan: T0 revived lock \d+\(mutex\)@0x[0-9a-f]+ at pc 0x[0-9a-f]+, 1 held$
// CHECK-COUNT: 999 revived lock
//
// VARIANT: inversion
// Positive: after the loop, the revived mutex of one more item is held while A is taken: A -> m (the
// revived edge) and m -> A make a cycle, reported with the call sites of both orders.
// ARGS: inversion
// RUN-OPTIONS: verbosity=1
// CLEAR: CHECK
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: lock_revival.c:%line(INV)
// CHECK: lock_revival.c:%line(TAKE)
// CHECK: stats: .* 1000 locks revived
//
// VARIANT: second_chain
// The first item's mutex is also taken under B (a second chain with a new edge B -> m): it is not
// parked. The next item's mutex, at the same address, is a new lock, so taking B while holding it
// is no inversion (a revived node would bring the stale B -> m and a false cycle).
// ARGS: second_chain
// RUN-OPTIONS: verbosity=1
// CLEAR: CHECK
// CHECK: stats: .* 0 locks revived
//
// VARIANT: out_edge
// The first item's mutex is held while C is taken (an edge out of it): not parked. The next one
// taken under C is no inversion.
// ARGS: out_edge
// RUN-OPTIONS: verbosity=1
// CLEAR: CHECK
// CHECK: stats: .* 0 locks revived
//
// VARIANT: gate
// The first item's mutex is held (under a freshly initialised lock F) while X is taken: the edge
// F -> X has it as a gate, so its id must not come back for another lock: not parked.
// ARGS: gate
// RUN-OPTIONS: verbosity=1
// CLEAR: CHECK
// CHECK: stats: .* 0 locks revived
//
// VARIANT: init_loop
// A mutex initialised (pthread_mutex_init), taken under A and destroyed at the same address, 1,000
// times: registered at its init, it takes the destroyed one's node back at its first acquisition.
// ARGS: init_loop
// RUN-OPTIONS: verbosity=1
// CLEAR: CHECK CHECK-STDOUT
// CHECK-STDOUT: ^init loop done$
// CHECK: stats: .* 999 locks revived \(1 parked\)
//
// VARIANT: init_out_edge
// The same with an edge out of the first one (it is held while C is taken): not parked (the
// recurring rule is for libcuda's locks only), so the next one, taken under C, is no inversion.
// ARGS: init_out_edge
// RUN-OPTIONS: verbosity=1
// CLEAR: CHECK CHECK-STDOUT
// CHECK-STDOUT: ^init out edge done$
// CHECK: stats: .* 0 locks revived
//
// VARIANT: other_thread
// The next mutex at the same address is first taken by another thread: a new lock.
// ARGS: other_thread
// RUN-OPTIONS: verbosity=1
// CLEAR: CHECK
// CHECK: stats: .* 0 locks revived
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t A = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t B = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t C = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t X = PTHREAD_MUTEX_INITIALIZER;

struct item {
  char before[24];
  pthread_mutex_t mu;  // zero-filled: a default mutex, registered at its first lock
  char after[8];
};

// One call site for every first acquisition under A (revival needs the same call site).
__attribute__((noinline)) static void take_under_a(pthread_mutex_t* m) {
  pthread_mutex_lock(&A);
  pthread_mutex_lock(m);  // @TAKE
  pthread_mutex_unlock(m);
  pthread_mutex_unlock(&A);
}

// malloc (not calloc, which bypasses glibc's per-thread cache): the block just freed comes back.
static struct item* new_item(void) {
  struct item* it = malloc(sizeof *it);
  memset(it, 0, sizeof *it);
  return it;
}

static void* other_thread(void* arg) {
  take_under_a(&((struct item*)arg)->mu);
  return NULL;
}

static pthread_mutex_t initialised;  // (re)initialised by pthread_mutex_init in the init_* modes

// Initialised, then taken under A after another acquisition (so not a fresh lock, which makes no edge).
static void init_and_take(void) {
  pthread_mutex_init(&initialised, NULL);
  pthread_mutex_lock(&X);
  pthread_mutex_unlock(&X);
  take_under_a(&initialised);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "loop";
  if (!strcmp(mode, "init_loop")) {
    for (int i = 0; i < 1000; i++) {
      init_and_take();
      pthread_mutex_destroy(&initialised);
    }
    puts("init loop done");
    return 0;
  }
  if (!strcmp(mode, "init_out_edge")) {
    init_and_take();
    pthread_mutex_lock(&initialised);
    pthread_mutex_lock(&C);  // initialised -> C
    pthread_mutex_unlock(&C);
    pthread_mutex_unlock(&initialised);
    pthread_mutex_destroy(&initialised);
    init_and_take();
    pthread_mutex_lock(&C);
    pthread_mutex_lock(&initialised);  // C -> the new lock: no inversion with the first one's edge
    pthread_mutex_unlock(&initialised);
    pthread_mutex_unlock(&C);
    pthread_mutex_destroy(&initialised);
    puts("init out edge done");
    return 0;
  }
  if (!strcmp(mode, "loop") || !strcmp(mode, "inversion")) {
    void* first = NULL;
    int same = 1;
    for (int i = 0; i < 1000; i++) {
      struct item* it = new_item();
      if (!first) first = it;
      same &= (void*)it == first;
      take_under_a(&it->mu);
      free(it);
    }
    printf("same address: %s\n", same ? "yes" : "no");
    if (!strcmp(mode, "inversion")) {
      struct item* it = new_item();
      take_under_a(&it->mu);
      pthread_mutex_lock(&it->mu);
      pthread_mutex_lock(&A);  // @INV
      pthread_mutex_unlock(&A);
      pthread_mutex_unlock(&it->mu);
      free(it);
    }
    return 0;
  }
  struct item* first = new_item();
  take_under_a(&first->mu);
  if (!strcmp(mode, "second_chain")) {
    pthread_mutex_lock(&B);
    pthread_mutex_lock(&first->mu);
    pthread_mutex_unlock(&first->mu);
    pthread_mutex_unlock(&B);
  } else if (!strcmp(mode, "out_edge")) {
    pthread_mutex_lock(&first->mu);
    pthread_mutex_lock(&C);
    pthread_mutex_unlock(&C);
    pthread_mutex_unlock(&first->mu);
  } else if (!strcmp(mode, "gate")) {
    pthread_mutex_t* f = malloc(sizeof *f);
    pthread_mutex_init(f, NULL);  // fresh: its first acquisition makes no edge into it
    pthread_mutex_lock(&first->mu);
    pthread_mutex_lock(f);
    pthread_mutex_lock(&X);  // F -> X, with the item's mutex held: a gate of that edge
    pthread_mutex_unlock(&X);
    pthread_mutex_unlock(f);
    pthread_mutex_unlock(&first->mu);
    pthread_mutex_destroy(f);
    free(f);
  }
  free(first);
  struct item* next = new_item();
  printf("same address: %s\n", next == first ? "yes" : "no");
  if (!strcmp(mode, "other_thread")) {
    pthread_t t;
    pthread_create(&t, NULL, other_thread, next);
    pthread_join(t, NULL);
  } else {
    take_under_a(&next->mu);
  }
  if (!strcmp(mode, "second_chain")) {
    pthread_mutex_lock(&next->mu);
    pthread_mutex_lock(&B);  // next -> B: no inversion with the first mutex's B -> m
    pthread_mutex_unlock(&B);
    pthread_mutex_unlock(&next->mu);
  } else if (!strcmp(mode, "out_edge")) {
    pthread_mutex_lock(&C);
    pthread_mutex_lock(&next->mu);  // C -> next: no inversion with the first mutex's m -> C
    pthread_mutex_unlock(&next->mu);
    pthread_mutex_unlock(&C);
  }
  free(next);
  return 0;
}
