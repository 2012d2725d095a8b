// core/internal_alloc.h — the runtime's own allocator.
//
// The runtime never allocates through malloc: a host program's allocator may itself take pthread locks
// (jemalloc, tcmalloc) and re-enter locksan. InternalAlloc serves size classes (16-byte steps up to
// 256 bytes, then powers of two up to 64 KiB) from mmap'ed chunks with per-class free lists under a
// RuntimeMutex; larger blocks are mmap'ed directly.
// Thread-safe. Memory is accounted, so that `max_memory_mb` can be enforced by the callers.
#pragma once
#include <cstddef>
#include <new>

#include "core/common.h"

namespace locksan {

void* InternalAlloc(size_t size);  // zero-filled; never returns null (dies on mmap failure)
void InternalFree(void* p, size_t size);
// InternalAllocPages — whole pages mapped for the block (zero-filled), for long-lived objects just
// over a class's size (a thread's state) that a power-of-two class would round up by up to half.
// Never freed (InternalFree would take a block of up to 64 KiB for a class's).
void* InternalAllocPages(size_t size);
size_t InternalAllocatedBytes();   // bytes currently handed out (including class rounding)
size_t InternalMappedBytes();      // bytes mapped from the kernel
// Fork support: the allocator lock is taken before fork() and released (or reset) after it.
void InternalAllocForkLock();
void InternalAllocForkUnlock(bool child);

// InternalNew / InternalDelete — construct objects in internal memory.
template <typename T, typename... Args>
T* InternalNew(Args&&... args) {
  return new (InternalAlloc(sizeof(T))) T(static_cast<Args&&>(args)...);
}
template <typename T>
void InternalDelete(T* p) {
  if (!p) return;
  p->~T();
  InternalFree(p, sizeof(T));
}

// InternalAllocator — an STL allocator over InternalAlloc, for containers used by the runtime.
template <typename T>
struct InternalAllocator {
  using value_type = T;
  InternalAllocator() = default;
  template <typename U>
  InternalAllocator(const InternalAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(InternalAlloc(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { InternalFree(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const InternalAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const InternalAllocator<U>&) const { return false; }
};

}  // namespace locksan
