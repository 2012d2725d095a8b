#include "core/internal_alloc.h"

#include <sys/mman.h>

#include <atomic>
#include <cstring>

#include "core/runtime_mutex.h"

namespace locksan {
namespace {

// Size classes: every multiple of 16 bytes up to 256 (records such as LockInfo, Edge and Node waste
// at most 15 bytes), then powers of two up to 64 KiB; larger blocks are mmap'ed directly.
constexpr size_t kStep = 16;
constexpr int kSmallClasses = 16;  // 16, 32, ..., 256
constexpr int kMinShift = 9;       // 512 bytes: the first power-of-two class
constexpr int kMaxShift = 16;      // 64 KiB
constexpr int kNumClasses = kSmallClasses + kMaxShift - kMinShift + 1;
constexpr size_t kChunk = 1 << 20;

struct FreeNode {
  FreeNode* next;
};

struct Allocator {
  RuntimeMutex mu;
  FreeNode* free_list[kNumClasses] = {};
  char* chunk_pos = nullptr;
  char* chunk_end = nullptr;
  std::atomic<size_t> allocated{0};
  std::atomic<size_t> mapped{0};
};

Allocator g_alloc;

void* MapOrDie(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) Die("locksan: internal allocator: mmap failed (out of memory)");
  g_alloc.mapped.fetch_add(size, std::memory_order_relaxed);
  return p;
}

int ClassOf(size_t size) {
  if (size <= kStep * kSmallClasses) return static_cast<int>((size + kStep - 1) / kStep) - 1;
  int shift = 64 - __builtin_clzll(size - 1);
  return kSmallClasses + shift - kMinShift;
}

size_t ClassSize(int c) {
  return c < kSmallClasses ? (static_cast<size_t>(c) + 1) * kStep : size_t{1} << (c - kSmallClasses + kMinShift);
}

size_t RoundPage(size_t size) { return (size + 4095) & ~size_t{4095}; }

}  // namespace

void* InternalAlloc(size_t size) {
  if (size == 0) size = 1;
  if (size > (size_t{1} << kMaxShift)) {
    size_t n = RoundPage(size);
    g_alloc.allocated.fetch_add(n, std::memory_order_relaxed);
    return MapOrDie(n);  // fresh mmap memory is zero
  }
  int c = ClassOf(size);
  size_t csize = ClassSize(c);
  void* p;
  {
    RuntimeLockGuard lock(&g_alloc.mu);
    if (FreeNode* n = g_alloc.free_list[c]) {
      g_alloc.free_list[c] = n->next;
      p = n;
    } else {
      if (g_alloc.chunk_pos + csize > g_alloc.chunk_end) {
        g_alloc.chunk_pos = static_cast<char*>(MapOrDie(kChunk));
        g_alloc.chunk_end = g_alloc.chunk_pos + kChunk;
      }
      p = g_alloc.chunk_pos;
      g_alloc.chunk_pos += csize;
      g_alloc.allocated.fetch_add(csize, std::memory_order_relaxed);
      return p;  // never used before: already zero
    }
  }
  g_alloc.allocated.fetch_add(csize, std::memory_order_relaxed);
  memset(p, 0, csize);
  return p;
}

void* InternalAllocPages(size_t size) {
  size_t n = RoundPage(size == 0 ? 1 : size);
  g_alloc.allocated.fetch_add(n, std::memory_order_relaxed);
  return MapOrDie(n);  // zero
}

void InternalFree(void* p, size_t size) {
  if (!p) return;
  if (size == 0) size = 1;
  if (size > (size_t{1} << kMaxShift)) {
    size_t n = RoundPage(size);
    munmap(p, n);
    g_alloc.allocated.fetch_sub(n, std::memory_order_relaxed);
    g_alloc.mapped.fetch_sub(n, std::memory_order_relaxed);
    return;
  }
  int c = ClassOf(size);
  g_alloc.allocated.fetch_sub(ClassSize(c), std::memory_order_relaxed);
  RuntimeLockGuard lock(&g_alloc.mu);
  FreeNode* n = static_cast<FreeNode*>(p);
  n->next = g_alloc.free_list[c];
  g_alloc.free_list[c] = n;
}

void InternalAllocForkLock() { g_alloc.mu.Lock(); }
void InternalAllocForkUnlock(bool child) {
  if (child) g_alloc.mu.ResetAfterFork(); else g_alloc.mu.Unlock();
}

size_t InternalAllocatedBytes() { return g_alloc.allocated.load(std::memory_order_relaxed); }
size_t InternalMappedBytes() { return g_alloc.mapped.load(std::memory_order_relaxed); }

}  // namespace locksan
