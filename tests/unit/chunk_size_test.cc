// ChunkUsableSize (preload/real.h): free() reads a block's usable size from glibc's chunk header
// instead of calling malloc_usable_size, once ProbeChunkSizes found them equal at start-up. Checked
// here on every way glibc hands out blocks (malloc, calloc, realloc, aligned allocations; small,
// tcache, large and mmapped sizes). Skipped where malloc is not glibc's (a sanitizer's allocator).
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <gtest/gtest.h>

#include "preload/real.h"

namespace locksan {
namespace {

bool MallocIsGlibc() {
  Dl_info info;
  return dladdr(reinterpret_cast<void*>(&malloc), &info) && info.dli_fname &&
         strstr(info.dli_fname, "libc.so") != nullptr;
}

TEST(ChunkUsableSize, EqualsMallocUsableSize) {
  if (!MallocIsGlibc()) GTEST_SKIP() << "malloc is not glibc's";
  int checked = 0;
  for (size_t n = 1; n < (size_t{1} << 22); n = n < 256 ? n + 1 : n * 5 / 4 + 3) {
    void* blocks[5] = {malloc(n), calloc(1, n), nullptr, aligned_alloc(64, (n + 63) & ~size_t{63}), nullptr};
    blocks[2] = realloc(malloc(n / 2 + 1), n);
    if (posix_memalign(&blocks[4], 4096, n) != 0) blocks[4] = nullptr;
    for (void* p : blocks) {
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(ChunkUsableSize(p), malloc_usable_size(p)) << "block of " << n << " bytes";
      EXPECT_GE(ChunkUsableSize(p), n);
      checked++;
      free(p);
    }
  }
  EXPECT_GT(checked, 1000);
}

}  // namespace
}  // namespace locksan
