// A program without any lock: locksan prints nothing at all, the exit status and stdout are the
// program's own.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
// EXPECT-EXIT: 3
// CHECK-STDOUT: ^sum 4950$
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  int sum = 0;
  for (int i = 0; i < 100; i++) sum += i;
  char* p = malloc(100);
  free(p);
  printf("sum %d\n", sum);
  return 3;
}
