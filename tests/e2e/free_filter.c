// free() looks a block up in the lock registry only when one of the 16-byte granules it overlaps is
// where a live lock starts (docs/design.md "Lock identity"). A small block in the same 64-byte line
// as a heap mutex, freed and allocated again 1,000 times, is not looked up (it was, once per free,
// while the filter worked by lines: a DataLoader worker made 9 such look-ups per item). The mutex's
// own block is, and is forgotten: a new mutex there is a new lock (the heap_reuse tests check that
// part in more layouts).
//
// RUN-OPTIONS: verbosity=1
// NATIVE-SAME-OUTPUT
// CHECK-STDOUT: ^neighbour in the lock's line: yes$
// CHECK: stats: 1 locks live .* [0-9] range searches for freed locks \(1 found one\)
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct obj {
  pthread_mutex_t mu;  // 40 bytes: a 48-byte chunk, so the next block starts in the same line
};

int main(void) {
  struct obj* blocks[16];
  for (int i = 0; i < 16; i++) {
    blocks[i] = malloc(sizeof(struct obj));
    memset(blocks[i], 0, sizeof(struct obj));
  }
  // A block whose next neighbour starts in the same 64-byte line.
  int k = -1;
  for (int i = 0; i + 1 < 16 && k < 0; i++)
    if ((uintptr_t)blocks[i] >> 6 == (uintptr_t)blocks[i + 1] >> 6) k = i;
  printf("neighbour in the lock's line: %s\n", k >= 0 ? "yes" : "no");
  if (k < 0) return 0;
  struct obj* x = blocks[k];
  struct obj* y = blocks[k + 1];
  pthread_mutex_lock(&x->mu);
  pthread_mutex_unlock(&x->mu);
  for (int i = 0; i < 1000; i++) {
    free(y);
    y = malloc(sizeof(struct obj));
    memset(y, 0, sizeof(struct obj));
  }
  blocks[k + 1] = y;
  // The lock's own block is looked up and forgotten; a mutex at its address is a new lock.
  free(x);
  x = malloc(sizeof(struct obj));
  memset(x, 0, sizeof(struct obj));
  blocks[k] = x;
  pthread_mutex_lock(&x->mu);
  pthread_mutex_unlock(&x->mu);
  for (int i = 0; i < 16; i++)
    if (i != k) free(blocks[i]);
  return 0;
}
