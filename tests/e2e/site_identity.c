// lock_identity=site (docs/design.md "Lock classes"): the program's pthread locks first locked on the
// same call path share one graph node, as lockdep's lock classes do. A heap mutex made per item and
// first locked at one place is one class, whatever its address.
//
// lock_identity=auto (the default) is lock_identity=instance until class_after locks first locked on
// one call path have been freed or destroyed; that path's later locks are one class.
//
// The base run (lock_identity=instance): item 0 takes its mutex m0 then G (m0 -> G); item 1 takes G
// then its own mutex m1 (G -> m1). m0 was destroyed and freed before m1 existed, so no two threads
// could ever wait for each other here: no report.
// ARGS: cross
// RUN-OPTIONS: verbosity=1 lock_identity=instance
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^done$
// CHECK-NOT: lock_identity=site
//
// VARIANT: cross_site
// Positive: under lock_identity=site, m0 and m1 are one node (first locked on the same call path), so
// C -> G and G -> C make a cycle, reported with both call sites and the class named as such. This is
// the mode's coarseness, stated in the option's help: an inversion between two instances that never
// exist at the same time is reported (lockdep would report it too).
// RUN-OPTIONS: verbosity=1 lock_identity=site
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CLEAR: CHECK-NOT
// CHECK: site_identity.c:%line(FIRST)
// CHECK: site_identity.c:%line(MG)
// CHECK: one node for the 2 locks first locked on this call path \(a lock class\)
// CHECK: lock_identity=site: 2 lock classes stand for 3 locks; 0 order checks of a lock taken while another lock of its class was held
//
// VARIANT: cross_site_json
// The JSON form says which lock stands for a class, and for how many locks (docs/report-schema.md).
// RUN-OPTIONS: lock_identity=site report_format=json
// EXPECT-EXIT: 66
// CLEAR: CHECK CHECK-NOT EXPECT-REPORTS
// CHECK: "kind":"lock-order-inversion"
// CHECK: "kind":"mutex".*"class_locks":2
//
// VARIANT: loop_site
// Many items, each with its own mutex first locked on one path, each held while G and H are taken in
// the same order: one class, so two edges (C -> G, G -> H) and one order check per new chain (not
// per item), and no report. G and H, first locked on paths of their own, are classes of one lock.
// ARGS: loop
// RUN-OPTIONS: verbosity=1 lock_identity=site
// CLEAR: CHECK-NOT
// CHECK: stats: 2 locks live \(1002 seen\), 2 edges \(0 closing cycles\), .* 2 slow checks
// CHECK: lock_identity=site: 3 lock classes stand for 1002 locks; 0 order checks
//
// VARIANT: loop_instance
// The same under lock_identity=instance: each item's mutex is a node of its own (the edges out of it
// go when it is freed).
// ARGS: loop
// CHECK: stats: 2 locks live \(1002 seen\)
// CHECK-NOT: lock_identity=site
//
// VARIANT: abba_site
// A plain inversion between two long-lived locks (each its own class) is reported under
// lock_identity=site as under the default.
// ARGS: abba
// RUN-OPTIONS: lock_identity=site
// CLEAR: CHECK-NOT
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: site_identity.c:%line(AB)
// CHECK: site_identity.c:%line(BA)
//
// VARIANT: nested_instance
// Two mutexes first locked on one path, then taken in both orders: a real inversion, reported under
// lock_identity=instance (and auto: nested_auto).
// ARGS: nested
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
//
// VARIANT: nested_site
// The same under lock_identity=site: one class, so the two are not checked against each other (a
// class's edge into itself is no order; lockdep needs nesting annotations there). Stated in the help;
// verbosity=1 counts the order checks that met such a nesting (one: the second order is a chain the
// first made).
// ARGS: nested
// RUN-OPTIONS: verbosity=1 lock_identity=site
// CLEAR: CHECK-NOT
// CHECK: lock_identity=site: 1 lock classes stand for 2 locks; 1 order checks of a lock taken while another lock of its class was held \(not checked against it\)$
//
// VARIANT: cross_many_instance
// Twelve items, their mutexes taken alternately before and after G (each destroyed before the next
// is made): under the default no two of them coexist, so no report.
// ARGS: cross_many
// CHECK-NOT: WARNING: locksan
//
// VARIANT: cross_many_auto
// lock_identity=auto: after 4 of them were freed, the path that first locks them is a class, so the
// later items' mutexes are one node and C -> G, G -> C is reported (the coarseness of a class). G's
// path is the other call path counted.
// ARGS: cross_many
// RUN-OPTIONS: verbosity=1 lock_identity=auto
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CLEAR: CHECK-NOT
// CHECK: site_identity.c:%line(FIRST)
// CHECK: site_identity.c:%line(MG)
// CHECK: one node for the 2 locks first locked on this call path \(a lock class\), described by the one that made it a class$
// CHECK: lock_identity=auto: 1 lock classes stand for 8 locks; 0 order checks
// CHECK: lock_identity=auto: 2 call paths first locked a lock of the program's \(a class once 4 of their locks were freed or destroyed\)
//
// VARIANT: default_is_auto
// Without lock_identity the same run is lock_identity=auto's.
// ARGS: cross_many
// RUN-OPTIONS: verbosity=1
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CLEAR: CHECK-NOT
// CHECK: lock_identity=auto: 1 lock classes stand for 8 locks; 0 order checks
//
// VARIANT: cross_auto
// Two items under lock_identity=auto: one mutex freed is not a class (class_after=4): the default's
// answer, no report.
// ARGS: cross
// RUN-OPTIONS: verbosity=1 lock_identity=auto
// CHECK: lock_identity=auto: 0 lock classes stand for 0 locks
// CHECK-NOT: WARNING: locksan
//
// VARIANT: cross_auto_after_1
// With class_after=1 the second item's mutex is a class's first lock: a new node, not the first
// item's (whose edges went when it was freed), so still no report.
// RUN-OPTIONS: verbosity=1 lock_identity=auto class_after=1
// CHECK: lock_identity=auto: 1 lock classes stand for 1 locks
//
// VARIANT: loop_auto
// The loop under lock_identity=auto: the first 4 items' mutexes are nodes of their own, the other
// 996 one class; G and H, long-lived, stay locks of their own.
// ARGS: loop
// RUN-OPTIONS: verbosity=1 lock_identity=auto
// CLEAR: CHECK CHECK-NOT
// CHECK: stats: 2 locks live \(1002 seen\), 2 edges \(0 closing cycles\)
// CHECK: lock_identity=auto: 1 lock classes stand for 996 locks; 0 order checks
//
// VARIANT: nested_auto
// Two long-lived mutexes first locked on one path, then taken in both orders: under
// lock_identity=auto neither was freed, so they are not a class and the inversion is reported.
// ARGS: nested
// RUN-OPTIONS: verbosity=1 lock_identity=auto
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: lock_identity=auto: 0 lock classes stand for 0 locks
//
// VARIANT: deep_site
// A class is keyed by the 8 innermost frames of the stack that first locks its locks: items whose
// mutexes are first locked 12 frames down, reached from two different outer functions, are one
// class (their stacks differ only below those 8 frames). The stack memo answers these 8-frame
// requests from entries that hold the whole stack; keyed by the whole stack they were two classes.
// ARGS: deep
// RUN-OPTIONS: verbosity=1 lock_identity=site
// CLEAR: CHECK CHECK-NOT
// CHECK: lock_identity=site: 1 lock classes stand for 16 locks; 0 order checks
//
// VARIANT: bad_class_after
// class_after out of range: one line, and 4.
// ARGS: cross
// RUN-OPTIONS: lock_identity=auto class_after=0
// CHECK: ^==%pid==locksan: class_after must be 1-1000000; using 4$
//
// VARIANT: bad_value
// A value that is neither 'auto', 'instance' nor 'site': one line, and the default.
// ARGS: cross
// RUN-OPTIONS: verbosity=1 lock_identity=lockdep
// CHECK: ^==%pid==locksan: lock_identity=lockdep is not 'auto', 'instance' or 'site'; using 'auto'$
// CHECK: lock_identity=auto: 0 lock classes
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t g = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t h = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t* new_mutex(void) {
  pthread_mutex_t* m = malloc(sizeof *m);
  pthread_mutex_init(m, NULL);
  return m;
}

static void free_mutex(pthread_mutex_t* m) {
  pthread_mutex_destroy(m);
  free(m);
}

// Every item's mutex is first locked here, called from one place: one call path.
__attribute__((noinline)) static void first_lock(pthread_mutex_t* m) {
  pthread_mutex_lock(m);
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void use_item(int order, pthread_mutex_t* m) {
  if (order) pthread_mutex_lock(&g);
  first_lock(m);  // @FIRST
  if (!order) pthread_mutex_lock(&g);  // @MG
  pthread_mutex_unlock(&g);
  pthread_mutex_unlock(m);
}

__attribute__((noinline)) static void item(int order) {
  pthread_mutex_t* m = new_mutex();
  use_item(order, m);
  free_mutex(m);
}

__attribute__((noinline)) static void loop_item(void) {
  pthread_mutex_t* m = new_mutex();
  first_lock(m);
  pthread_mutex_lock(&g);
  pthread_mutex_lock(&h);
  pthread_mutex_unlock(&h);
  pthread_mutex_unlock(&g);
  pthread_mutex_unlock(m);
  free_mutex(m);
}

__attribute__((noinline)) static void lock_pair(pthread_mutex_t* x, pthread_mutex_t* y) {
  pthread_mutex_lock(x);
  pthread_mutex_lock(y);
  pthread_mutex_unlock(y);
  pthread_mutex_unlock(x);
}

// deep: 12 frames between an item's outer function and the first lock of its mutex.
__attribute__((noinline)) static void relay(int frames, pthread_mutex_t* m) {
  if (frames > 0) {
    relay(frames - 1, m);
  } else {
    first_lock(m);
    pthread_mutex_unlock(m);
  }
  __asm__ volatile("" ::: "memory");  // not a tail call: every frame stays on the stack
}
__attribute__((noinline)) static void deep_item_a(void) {
  pthread_mutex_t* m = new_mutex();
  relay(10, m);
  free_mutex(m);
  __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void deep_item_b(void) {
  pthread_mutex_t* m = new_mutex();
  relay(10, m);
  free_mutex(m);
  __asm__ volatile("" ::: "memory");
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "cross";
  if (!strcmp(mode, "cross")) {
    for (int i = 0; i < 2; i++) item(i);
  } else if (!strcmp(mode, "cross_many")) {
    // Each item's mutex at an address of its own (no parked node to take back), destroyed after use.
    static pthread_mutex_t items[12];
    for (int i = 0; i < 12; i++) {
      pthread_mutex_init(&items[i], NULL);
      use_item(i & 1, &items[i]);
      pthread_mutex_destroy(&items[i]);
    }
  } else if (!strcmp(mode, "deep")) {
    for (int i = 0; i < 16; i++) (i & 1 ? deep_item_b : deep_item_a)();
  } else if (!strcmp(mode, "loop")) {
    for (int i = 0; i < 1000; i++) loop_item();
  } else if (!strcmp(mode, "abba")) {
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);  // @AB
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
    pthread_mutex_lock(&b);
    pthread_mutex_lock(&a);  // @BA
    pthread_mutex_unlock(&a);
    pthread_mutex_unlock(&b);
  } else if (!strcmp(mode, "nested")) {
    pthread_mutex_t* x = new_mutex();
    pthread_mutex_t* y = new_mutex();
    // Both first locked on one path (first_lock, called from here in a loop): one class.
    pthread_mutex_t* both[2] = {x, y};
    for (int i = 0; i < 2; i++) {
      first_lock(both[i]);
      pthread_mutex_unlock(both[i]);
    }
    pthread_mutex_t* order[2][2] = {{x, y}, {y, x}};
    for (int i = 0; i < 2; i++) lock_pair(order[i][0], order[i][1]);
    free_mutex(x);
    free_mutex(y);
  }
  printf("done\n");
  return 0;
}
