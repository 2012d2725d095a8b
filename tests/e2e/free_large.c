// free() of a large block (more than 64 pages: glibc's mmapped chunks, big arrays in the heap) tests
// the block's 2 MiB regions, then the pages of a region that holds a live lock, instead of looking
// the whole block up in the lock registry (docs/design.md "Lock identity"). PyTorch's training
// process freed ~200 such blocks a step, none holding a lock, and each took the registry lock.
//
// Here one heap mutex stays live, and 1,000 mmapped blocks (3 MiB) and 1,000 heap-arena blocks
// (300 KiB, in the live mutex's region) are freed without a look-up (there were 2,000). A mutex inside
// a large block of each kind, taken under the live one, is still forgotten when its block is freed:
// one lock is live at the end, and taking a mutex at the same place in the reverse order reports
// nothing.
//
// RUN-OPTIONS: verbosity=1
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^done$
// CHECK: stats: 1 locks live .* [0-9] range searches for freed locks \(4 found one\)
// CHECK: ^==%pid==locksan: stack captures: (libunwind|libgcc) [0-9]+ captures \([0-9.]+ frames each; median < [0-9]+ ns, 90% < [0-9]+ ns, 99% < [0-9]+ ns(; [^)]*)?\)
// CHECK-NOT: WARNING: locksan
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t* new_mutex(size_t size, size_t offset, char** block) {
  *block = malloc(size);
  memset(*block, 0, size);
  pthread_mutex_t* m = (pthread_mutex_t*)(*block + offset);
  pthread_mutex_init(m, NULL);
  return m;
}

// A mutex inside a large block, taken under `outer`; the block freed; a mutex at the same offset of a
// block of the same size (often at the same address) taken in the reverse order.
static void lock_inside(pthread_mutex_t* outer, size_t size, size_t offset) {
  char* block;
  pthread_mutex_t* m = new_mutex(size, offset, &block);
  pthread_mutex_lock(outer);
  pthread_mutex_lock(m);
  pthread_mutex_unlock(m);
  pthread_mutex_unlock(outer);
  free(block);
  m = new_mutex(size, offset, &block);
  pthread_mutex_lock(m);
  pthread_mutex_lock(outer);
  pthread_mutex_unlock(outer);
  pthread_mutex_unlock(m);
  free(block);
}

int main(void) {
  char* small;
  pthread_mutex_t* live = new_mutex(64, 0, &small);
  pthread_mutex_lock(live);
  pthread_mutex_unlock(live);
  for (int i = 0; i < 1000; i++) {
    char* p = malloc(3 << 20);  // mmapped (above glibc's mmap threshold)
    p[0] = 1;
    free(p);
  }
  lock_inside(live, 3 << 20, (1 << 20) + 64);
  // Keep big blocks in the heap arena, near the live mutex.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  for (int i = 0; i < 1000; i++) {
    char* p = malloc(300 << 10);
    p[0] = 1;
    free(p);
  }
  lock_inside(live, 300 << 10, 200 << 10);
  printf("done\n");
  return 0;
}
