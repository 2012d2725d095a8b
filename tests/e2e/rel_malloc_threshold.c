// locksan leaves the program's allocator as it found it. At start-up it checks that it may read a
// freed block's size from glibc's chunk header (ProbeChunkSizes, preload/real.cc), with blocks of its
// own; freeing an mmapped block smaller than 32 MiB raises glibc's dynamic mmap threshold, after
// which the program's blocks of up to that size come from the heap instead of their own mappings.
// A first version probed with a 1 MiB block: this program's 200 KiB and 900 KiB blocks then came
// from the heap under locksan (mmapped natively).
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// CHECK-STDOUT: ^200 KiB block: mmapped$
// CHECK-STDOUT: ^900 KiB block: mmapped$
#include <stdio.h>
#include <stdlib.h>

// glibc marks a chunk that has a mapping of its own with bit 1 of its size word.
static const char* placement(void* p) { return (((size_t*)p)[-1] & 2) ? "mmapped" : "heap"; }

int main(void) {
  void* a = malloc(200 << 10);
  void* b = malloc(900 << 10);
  printf("200 KiB block: %s\n", placement(a));
  printf("900 KiB block: %s\n", placement(b));
  free(a);
  free(b);
  return 0;
}
