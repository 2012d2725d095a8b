// tests/gpu/hooks_stub.cc — a test stand-in for the detector core's core/hooks.h, for the GPU smoke
// tests of cupti/cupti_tracker.cc before (or without) the real runtime. Never part of liblocksan.so.
//
// It counts driver API enters/exits per thread, keeps the nesting stack (CurrentDriverCall), counts
// calls per function name, and — when LOCKSAN_STUB_LOCKS=1 — records which pthread mutexes/rwlocks the
// calling thread holds (to see what libcuda holds while it runs a user callback). Query functions are
// exported with C names (locksan_stub_*) for the test programs, which find them with dlsym.
#include <dlfcn.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/hooks.h"

#define STUB_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

constexpr int kMaxDepth = 64;
thread_local int t_depth = 0;
thread_local const char* t_stack[kMaxDepth];
thread_local uint32_t t_cbid[kMaxDepth];

std::atomic<uint64_t> g_enter{0}, g_exit{0}, g_exit_without_enter{0}, g_cbid_mismatch{0};
std::atomic<int> g_max_depth{0};
std::atomic<int> g_threads_with_calls{0};
thread_local bool t_counted = false;

// function name (pointer identity: CUPTI's functionName strings are constants) -> count
constexpr int kNames = 1024;
std::atomic<const char*> g_name_ptr[kNames];
std::atomic<uint64_t> g_name_count[kNames];

std::atomic<const char*> g_last_symbol{nullptr};
char g_last_symbol_copy[256];

std::atomic<int> g_status_calls{0};
char g_status_text[1024];
std::atomic<bool> g_status_active{false};

void CountName(const char* name) {
  if (!name) return;
  uintptr_t h = reinterpret_cast<uintptr_t>(name);
  h ^= h >> 17;
  h *= 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < kNames; ++i) {
    int slot = static_cast<int>((h + i) % kNames);
    const char* cur = g_name_ptr[slot].load(std::memory_order_acquire);
    if (cur == name) {
      g_name_count[slot].fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (cur == nullptr) {
      const char* expected = nullptr;
      if (g_name_ptr[slot].compare_exchange_strong(expected, name, std::memory_order_acq_rel) ||
          expected == name) {
        g_name_count[slot].fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
  }
}

}  // namespace

namespace locksan {

void OnDriverApiEnter(const char* function_name, uint32_t cbid, const char* symbol_name) {
  g_enter.fetch_add(1, std::memory_order_relaxed);
  if (!t_counted) {
    t_counted = true;
    g_threads_with_calls.fetch_add(1, std::memory_order_relaxed);
  }
  if (t_depth < kMaxDepth) {
    t_stack[t_depth] = function_name;
    t_cbid[t_depth] = cbid;
  }
  ++t_depth;
  int m = g_max_depth.load(std::memory_order_relaxed);
  while (t_depth > m && !g_max_depth.compare_exchange_weak(m, t_depth)) {
  }
  CountName(function_name);
  if (symbol_name) g_last_symbol.store(symbol_name, std::memory_order_relaxed);
}

void OnDriverApiExit(uint32_t cbid) {
  g_exit.fetch_add(1, std::memory_order_relaxed);
  if (t_depth == 0) {
    g_exit_without_enter.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  --t_depth;
  if (t_depth < kMaxDepth && t_cbid[t_depth] != cbid) g_cbid_mismatch.fetch_add(1);
}

const char* CurrentDriverCall() {
  if (t_depth == 0) return nullptr;
  return t_stack[t_depth <= kMaxDepth ? t_depth - 1 : kMaxDepth - 1];
}

void SetDriverTrackingStatus(bool active, const char* why) {
  g_status_calls.fetch_add(1);
  g_status_active.store(active);
  snprintf(g_status_text, sizeof(g_status_text), "%s", why ? why : "");
  fprintf(stderr, "locksan-stub: SetDriverTrackingStatus(%s): %s\n", active ? "active" : "off",
          why ? why : "");
}

// The stub tracks every call (the smoke tests count them all): no pruning.
void SetDriverCallPruner(bool (*)(uint32_t), uint32_t) {}

}  // namespace locksan

// ---- lock recorder (LOCKSAN_STUB_LOCKS=1) ----------------------------------------------------------
namespace {
struct Held {
  const void* addr;
  char kind;  // 'M' mutex, 'R' rwlock read, 'W' rwlock write
  const void* caller;
};
constexpr int kMaxHeld = 32;
thread_local Held t_held[kMaxHeld];
thread_local int t_nheld = 0;
thread_local bool t_in_hook = false;
bool g_locks_on = false;

// per-thread acquisition log (between locksan_stub_lockrec_begin/end)
thread_local bool t_rec = false;
thread_local Held t_log[64];
thread_local int t_nlog = 0;

using MutexFn = int (*)(pthread_mutex_t*);
using RwFn = int (*)(pthread_rwlock_t*);
MutexFn r_mutex_lock, r_mutex_trylock, r_mutex_unlock;
RwFn r_rd, r_wr, r_tryrd, r_trywr, r_rwunlock;

void ResolveReal() {
  r_mutex_lock = reinterpret_cast<MutexFn>(dlsym(RTLD_NEXT, "pthread_mutex_lock"));
  r_mutex_trylock = reinterpret_cast<MutexFn>(dlsym(RTLD_NEXT, "pthread_mutex_trylock"));
  r_mutex_unlock = reinterpret_cast<MutexFn>(dlsym(RTLD_NEXT, "pthread_mutex_unlock"));
  r_rd = reinterpret_cast<RwFn>(dlsym(RTLD_NEXT, "pthread_rwlock_rdlock"));
  r_wr = reinterpret_cast<RwFn>(dlsym(RTLD_NEXT, "pthread_rwlock_wrlock"));
  r_tryrd = reinterpret_cast<RwFn>(dlsym(RTLD_NEXT, "pthread_rwlock_tryrdlock"));
  r_trywr = reinterpret_cast<RwFn>(dlsym(RTLD_NEXT, "pthread_rwlock_trywrlock"));
  r_rwunlock = reinterpret_cast<RwFn>(dlsym(RTLD_NEXT, "pthread_rwlock_unlock"));
}

void NoteAcquire(const void* addr, char kind, const void* caller) {
  if (!g_locks_on || t_in_hook) return;
  if (t_nheld < kMaxHeld) t_held[t_nheld++] = {addr, kind, caller};
  if (t_rec && t_nlog < 64) t_log[t_nlog++] = {addr, kind, caller};
}

void NoteRelease(const void* addr) {
  if (!g_locks_on || t_in_hook) return;
  for (int i = t_nheld - 1; i >= 0; --i) {
    if (t_held[i].addr == addr) {
      t_held[i] = t_held[--t_nheld];
      return;
    }
  }
}

const char* ObjName(const void* pc) {
  Dl_info info;
  if (pc && dladdr(pc, &info) && info.dli_fname) {
    const char* s = strrchr(info.dli_fname, '/');
    return s ? s + 1 : info.dli_fname;
  }
  return "?";
}

void Describe(const Held* h, int n, char* out, size_t size) {
  size_t used = 0;
  out[0] = 0;
  t_in_hook = true;
  for (int i = 0; i < n && used + 1 < size; ++i) {
    int w = snprintf(out + used, size - used, "%s%c:%p(from %s)", i ? " " : "", h[i].kind, h[i].addr,
                     ObjName(h[i].caller));
    if (w < 0) break;
    used += static_cast<size_t>(w);
  }
  t_in_hook = false;
}

}  // namespace

#define LOCK_WRAPPER(name, type, real, kind)                                 \
  STUB_EXPORT int name(type* l) {                                            \
    if (!real) ResolveReal();                                                \
    int rc = real(l);                                                        \
    if (rc == 0) NoteAcquire(l, kind, __builtin_return_address(0));          \
    return rc;                                                               \
  }
LOCK_WRAPPER(pthread_mutex_lock, pthread_mutex_t, r_mutex_lock, 'M')
LOCK_WRAPPER(pthread_mutex_trylock, pthread_mutex_t, r_mutex_trylock, 'M')
LOCK_WRAPPER(pthread_rwlock_rdlock, pthread_rwlock_t, r_rd, 'R')
LOCK_WRAPPER(pthread_rwlock_wrlock, pthread_rwlock_t, r_wr, 'W')
LOCK_WRAPPER(pthread_rwlock_tryrdlock, pthread_rwlock_t, r_tryrd, 'R')
LOCK_WRAPPER(pthread_rwlock_trywrlock, pthread_rwlock_t, r_trywr, 'W')

STUB_EXPORT int pthread_mutex_unlock(pthread_mutex_t* m) {
  if (!r_mutex_unlock) ResolveReal();
  NoteRelease(m);
  return r_mutex_unlock(m);
}
STUB_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t* l) {
  if (!r_rwunlock) ResolveReal();
  NoteRelease(l);
  return r_rwunlock(l);
}

// ---- query API for the test programs ---------------------------------------------------------------

STUB_EXPORT void locksan_stub_counts(uint64_t* enter, uint64_t* exit, uint64_t* exit_without_enter,
                                     uint64_t* cbid_mismatch) {
  *enter = g_enter.load();
  *exit = g_exit.load();
  *exit_without_enter = g_exit_without_enter.load();
  *cbid_mismatch = g_cbid_mismatch.load();
}

STUB_EXPORT uint64_t locksan_stub_seen(const char* name) {
  uint64_t n = 0;
  for (int i = 0; i < kNames; ++i) {
    const char* p = g_name_ptr[i].load();
    if (p && strcmp(p, name) == 0) n += g_name_count[i].load();
  }
  return n;
}

STUB_EXPORT int locksan_stub_depth() { return t_depth; }
STUB_EXPORT const char* locksan_stub_current() { return locksan::CurrentDriverCall(); }
STUB_EXPORT const char* locksan_stub_last_symbol() {
  const char* s = g_last_symbol.load();
  if (!s) return nullptr;
  snprintf(g_last_symbol_copy, sizeof(g_last_symbol_copy), "%s", s);
  return g_last_symbol_copy;
}
STUB_EXPORT const char* locksan_stub_status_text() { return g_status_text; }
STUB_EXPORT int locksan_stub_status_calls() { return g_status_calls.load(); }

// Locks the calling thread holds now, as text ("W:0x...(from libcuda.so.1) M:...").
STUB_EXPORT const char* locksan_stub_held_locks() {
  static thread_local char buf[2048];
  Describe(t_held, t_nheld, buf, sizeof(buf));
  return buf;
}
STUB_EXPORT int locksan_stub_held_count() { return t_nheld; }
STUB_EXPORT void locksan_stub_lockrec_begin() {
  t_nlog = 0;
  t_rec = true;
}
STUB_EXPORT const char* locksan_stub_lockrec_end() {
  static thread_local char buf[4096];
  t_rec = false;
  Describe(t_log, t_nlog, buf, sizeof(buf));
  return buf;
}

// Names seen, "name=count,..." sorted by count (simple selection; test use only).
STUB_EXPORT const char* locksan_stub_names(int max) {
  static char buf[16384];
  bool used[kNames] = {false};
  size_t off = 0;
  buf[0] = 0;
  for (int k = 0; k < max; ++k) {
    int best = -1;
    uint64_t bc = 0;
    for (int i = 0; i < kNames; ++i) {
      if (used[i] || !g_name_ptr[i].load()) continue;
      uint64_t c = g_name_count[i].load();
      if (best < 0 || c > bc) {
        best = i;
        bc = c;
      }
    }
    if (best < 0) break;
    used[best] = true;
    int w = snprintf(buf + off, sizeof(buf) - off, "%s%s=%llu", k ? "," : "", g_name_ptr[best].load(),
                     static_cast<unsigned long long>(bc));
    if (w < 0 || off + w >= sizeof(buf)) break;
    off += static_cast<size_t>(w);
  }
  return buf;
}

STUB_EXPORT void locksan_stub_summary(const char* tag) {
  uint64_t e, x, xw, mm;
  locksan_stub_counts(&e, &x, &xw, &mm);
  fprintf(stderr,
          "locksan-stub[%s]: enter=%llu exit=%llu exit_without_enter=%llu cbid_mismatch=%llu "
          "max_depth=%d threads_with_calls=%d main_depth=%d\n",
          tag, (unsigned long long)e, (unsigned long long)x, (unsigned long long)xw,
          (unsigned long long)mm, g_max_depth.load(), g_threads_with_calls.load(), t_depth);
}

__attribute__((constructor)) static void StubInit() {
  ResolveReal();
  const char* e = getenv("LOCKSAN_STUB_LOCKS");
  g_locks_on = e && e[0] == '1';
}
