#include "preload/real.h"

#include <dlfcn.h>

#include <atomic>
#include <cstring>

#include "core/detector.h"
#include "core/output.h"

namespace locksan {

bool g_heap_tracking_ok = false;
bool g_glibc_chunk_sizes = false;
namespace real {
#define LOCKSAN_DEFINE_REAL(ret, name, args, version) ret(*name) args = nullptr;
LOCKSAN_REAL_LIST(LOCKSAN_DEFINE_REAL)
#undef LOCKSAN_DEFINE_REAL
void (*free)(void*) = nullptr;
size_t (*malloc_usable_size)(void*) = nullptr;
void* (*realloc)(void*, size_t) = nullptr;
void* (*malloc)(size_t) = nullptr;
bool resolved = false;
}  // namespace real

namespace {

std::atomic<int> g_free_state{0};  // 0 = not resolved, 1 = resolving, 2 = done
__thread bool t_resolving_free __attribute__((tls_model("initial-exec")));

bool SameModule(void* a, void* b) {
  Dl_info ai, bi;
  return a && b && dladdr(a, &ai) && dladdr(b, &bi) && ai.dli_fbase == bi.dli_fbase;
}

bool IsOurs(void* fn) {
  Dl_info self, other;
  if (!fn || !dladdr(reinterpret_cast<void*>(&InitReal), &self) || !dladdr(fn, &other)) return false;
  return self.dli_fbase == other.dli_fbase;
}

void* Lookup(const char* name, const char* version) {
  void* fn = version ? dlvsym(RTLD_NEXT, name, version) : nullptr;
  if (!fn) fn = dlsym(RTLD_NEXT, name);
  if (IsOurs(fn)) {
    // A wrapper that finds itself is refused: take libc's directly.
    fn = nullptr;
    if (void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD)) {
      fn = version ? dlvsym(libc, name, version) : nullptr;
      if (!fn) fn = dlsym(libc, name);
    }
  }
  return fn;
}

// ProbeChunkSizes — whether ChunkUsableSize equals malloc_usable_size for the allocator found (glibc's:
// free comes from libc.so.6), on heap blocks from 1 byte to 68 KiB and one mmapped block of 33 MiB.
// That one is above the largest size whose free() raises glibc's dynamic mmap threshold (32 MiB on
// 64-bit), so the probe leaves the program's allocator as it found it (a smaller mmapped block freed
// here would make the program's later blocks of that size come from the heap instead).
bool ProbeChunkSizes() {
  Dl_info info;
  if (!g_heap_tracking_ok || !real::malloc || !real::free || !real::malloc_usable_size ||
      !dladdr(reinterpret_cast<void*>(real::free), &info) || !info.dli_fname || !strstr(info.dli_fname, "libc.so"))
    return false;
  const size_t sizes[] = {1, 24, 25, 40, 100, 1000, 4000, 5000, 70000, size_t{33} << 20};
  bool ok = true;
  for (size_t n : sizes) {
    void* p = real::malloc(n);
    if (!p) return false;
    size_t u = real::malloc_usable_size(p);
    ok &= u >= n && ChunkUsableSize(p) == u;
    real::free(p);
  }
  return ok;
}

}  // namespace

bool ResolvingFreeHere() { return t_resolving_free; }

bool ResolveFree() {
  int expected = 0;
  if (g_free_state.compare_exchange_strong(expected, 1)) {
    t_resolving_free = true;
    void* f = Lookup("free", nullptr);
    void* u = Lookup("malloc_usable_size", nullptr);
    void* r = Lookup("realloc", nullptr);
    void* m = Lookup("malloc", nullptr);
    real::malloc_usable_size = reinterpret_cast<size_t (*)(void*)>(u);
    real::malloc = reinterpret_cast<void* (*)(size_t)>(m);
    __atomic_store_n(&real::realloc, reinterpret_cast<void* (*)(void*, size_t)>(r), __ATOMIC_RELEASE);
    // Only look into blocks given back when these come from one allocator.
    g_heap_tracking_ok = SameModule(f, u) && SameModule(f, r) && SameModule(f, m);
    __atomic_store_n(&real::free, reinterpret_cast<void (*)(void*)>(f), __ATOMIC_RELEASE);
    t_resolving_free = false;
    g_free_state.store(2);
  }
  return __atomic_load_n(&real::free, __ATOMIC_ACQUIRE) != nullptr;
}


void InitReal() {
  static std::atomic<bool> in_progress{false};
  if (real::resolved) return;
  bool expected = false;
  if (!in_progress.compare_exchange_strong(expected, true)) {
    // Another thread (or a nested call) is resolving: resolve what this call needs without waiting.
  }
  ResolveFree();
#define LOCKSAN_RESOLVE(ret, name, args, version)                                              \
  if (!real::name)                                                                             \
    __atomic_store_n(&real::name, reinterpret_cast<ret(*) args>(Lookup(#name, version)),      \
                     __ATOMIC_RELEASE);
  LOCKSAN_REAL_LIST(LOCKSAN_RESOLVE)
#undef LOCKSAN_RESOLVE
  if (!real::pthread_mutex_lock || !real::pthread_mutex_unlock || !real::pthread_create)
    Die("locksan: cannot find the real pthread functions in libc; refusing to run");
  if (!g_glibc_chunk_sizes && ProbeChunkSizes()) g_glibc_chunk_sizes = true;
  __atomic_store_n(&real::resolved, true, __ATOMIC_RELEASE);
}

}  // namespace locksan
