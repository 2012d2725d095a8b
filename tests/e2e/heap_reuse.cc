// std::mutex never calls pthread_mutex_destroy: locksan forgets a lock when the heap block holding it
// is freed. A->B with heap mutexes; delete B; a new std::mutex allocated at the same address is a new
// lock, so B'->A is no inversion.
//
// ARGS: new_delete
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^same address: yes$
//
// VARIANT: placement
// The same with placement new into a malloc'ed block that is freed and malloc'ed again.
// ARGS: placement
//
// VARIANT: in_struct
// The mutex is a member in the middle of a larger heap object.
// ARGS: in_struct
//
// VARIANT: big_struct
// The mutex is a member 9 KiB into a 16 KiB heap object (free() tests the pages of a large block,
// then, in a page with a live lock, the block's 64-byte lines); a new mutex at its address in a
// later block is a new lock.
// ARGS: big_struct
//
// VARIANT: control
// Positive control: B is not freed, B->A is reported.
// ARGS: control
// CLEAR: EXPECT-NO-STDERR CHECK-STDOUT
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: heap or stack memory
//
// VARIANT: tracking_off
// detect_heap_reuse=0: the new mutex at B's address keeps B's identity, so B'->A is (by design)
// reported as an inversion.
// ARGS: new_delete
// RUN-OPTIONS: detect_heap_reuse=0
// CLEAR: EXPECT-NO-STDERR
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

struct Holder {
  char before[40];
  std::mutex mu;
  char after[24];
};

struct BigHolder {
  char before[9000];
  std::mutex mu;
  char after[7000];
};

static void ab(std::mutex* a, std::mutex* b) {
  std::thread([&] {
    std::lock_guard<std::mutex> la(*a);
    std::lock_guard<std::mutex> lb(*b);
  }).join();
}

static void ba(std::mutex* a, std::mutex* b) {
  std::thread([&] {
    std::lock_guard<std::mutex> lb(*b);
    std::lock_guard<std::mutex> la(*a);
  }).join();
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "new_delete";
  std::mutex* a = new std::mutex;
  bool same = false;
  if (!strcmp(mode, "new_delete") || !strcmp(mode, "control")) {
    std::mutex* b = new std::mutex;
    ab(a, b);
    if (!strcmp(mode, "control")) {
      ba(a, b);
      std::puts("done");
      return 0;
    }
    void* old = b;
    delete b;
    std::vector<std::mutex*> misses;
    std::mutex* b2 = nullptr;
    for (int i = 0; i < 1000; i++) {
      b2 = new std::mutex;
      if (b2 == old) break;
      misses.push_back(b2);
      b2 = nullptr;
    }
    same = b2 != nullptr;
    std::printf("same address: %s\n", same ? "yes" : "no");
    if (b2) ba(a, b2);
    for (std::mutex* m : misses) delete m;
    delete b2;
  } else if (!strcmp(mode, "placement")) {
    void* p = std::malloc(sizeof(std::mutex));
    std::mutex* b = new (p) std::mutex;
    ab(a, b);
    b->~mutex();
    std::free(p);
    void* q = std::malloc(sizeof(std::mutex));
    same = q == p;
    std::printf("same address: %s\n", same ? "yes" : "no");
    std::mutex* b2 = new (q) std::mutex;
    if (same) ba(a, b2);
    b2->~mutex();
    std::free(q);
  } else if (!strcmp(mode, "big_struct")) {
    // The next 16 KiB block may start a little before or after the freed one: a new mutex is made
    // at the freed one's address inside whichever block covers it (tried again with a new object if
    // none does).
    std::vector<char*> blocks;
    std::mutex* b2 = nullptr;
    for (int attempt = 0; attempt < 20 && !b2; attempt++) {
      BigHolder* h = new BigHolder;
      ab(a, &h->mu);
      char* old_mu = reinterpret_cast<char*>(&h->mu);
      delete h;
      for (int i = 0; i < 20 && !b2; i++) {
        char* q = static_cast<char*>(std::malloc(sizeof(BigHolder)));
        blocks.push_back(q);
        if (q <= old_mu && old_mu + sizeof(std::mutex) <= q + sizeof(BigHolder))
          b2 = new (old_mu) std::mutex;
      }
    }
    same = b2 != nullptr;
    std::printf("same address: %s\n", same ? "yes" : "no");
    if (b2) {
      ba(a, b2);
      b2->~mutex();
    }
    for (char* q : blocks) std::free(q);
  } else if (!strcmp(mode, "in_struct")) {
    Holder* h = new Holder;
    ab(a, &h->mu);
    void* old = h;
    delete h;
    Holder* h2 = new Holder;
    same = (void*)h2 == old;
    std::printf("same address: %s\n", same ? "yes" : "no");
    if (same) ba(a, &h2->mu);
    delete h2;
  }
  delete a;
  std::puts("done");
  return 0;
}
