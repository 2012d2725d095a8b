// Spin locks: ABBA between two threads (one after the other) is reported, naming them spin locks.
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// NATIVE-SAME-OUTPUT
// CHECK: ^  Cycle in lock order graph: (S\d+) \(0x[0-9a-f]+\) => (S\d+) \(0x[0-9a-f]+\) => \1$
// CHECK: ^  Spin lock S\d+ acquired here while holding spin lock S\d+, in thread T2 
// CHECK: ^    #0 ba .*spin_abba\.c:%line(BA_A)\b
// CHECK: ^  Spin lock S\d+ \(0x[0-9a-f]+, spin lock\): global 'spin_b' 
// CHECK: ^  Spin lock S\d+ \(0x[0-9a-f]+, spin lock\): global 'spin_a' 
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*spin_abba\.c:%line(BA_A) in ba$
//
// VARIANT: trylock
// pthread_spin_trylock for the inner lock of both orders: no edge, no report.
// ARGS: try
// CLEAR: CHECK
// EXPECT-EXIT: 0
// EXPECT-REPORTS: lock-order-inversion=0
// EXPECT-NO-STDERR
#include <pthread.h>
#include <stdio.h>

pthread_spinlock_t spin_a, spin_b;
int use_try;

static void inner(pthread_spinlock_t* l) {
  if (use_try) {
    while (pthread_spin_trylock(l) != 0) {
    }
  } else {
    pthread_spin_lock(l);
  }
}

static void* ab(void* p) {
  pthread_spin_lock(&spin_a);
  if (use_try) inner(&spin_b); else pthread_spin_lock(&spin_b);
  pthread_spin_unlock(&spin_b);
  pthread_spin_unlock(&spin_a);
  return p;
}

static void* ba(void* p) {
  pthread_spin_lock(&spin_b);
  if (use_try) inner(&spin_a); else pthread_spin_lock(&spin_a);  // @BA_A
  pthread_spin_unlock(&spin_a);
  pthread_spin_unlock(&spin_b);
  return p;
}

int main(int argc, char** argv) {
  use_try = argc > 1;
  pthread_spin_init(&spin_a, PTHREAD_PROCESS_PRIVATE);
  pthread_spin_init(&spin_b, PTHREAD_PROCESS_PRIVATE);
  pthread_t t;
  pthread_create(&t, 0, ab, 0);
  pthread_join(t, 0);
  pthread_create(&t, 0, ba, 0);
  pthread_join(t, 0);
  puts("done");
  return 0;
}
