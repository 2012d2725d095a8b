// core/gil.h — the CPython GIL as a lock of the lock-order graph.
//
// core/python locates the GIL (its mutex M, condition C, switch mutex SM and `locked` word). The
// interceptors then drive this state machine (checked on CPython 3.7–3.13, static and shared):
//   lock(M) by a thread that does not hold the GIL   -> take_gil starts: order check "held -> GIL"
//   timedwait(C, M)                                  -> waiting for the GIL (the watchdog sees it)
//   unlock(M) with locked == 1, this thread holder   -> GIL acquired
//   unlock(M) with locked == 0 by the holder         -> GIL released
// M, C, SM and the switch condition are never locks of the graph themselves.
// Python stacks (file, line, function) are stored in their own depot, by id, like native stacks.
#pragma once
#include <pthread.h>

#include "core/cuda.h"
#include "core/detector.h"
#include "core/python/pystack.h"

namespace locksan {

// Addresses of the located GIL's mutex and condition; 0 until located.
// Hidden: compared on every mutex lock/unlock, PC-relative (no GOT load).
extern uptr g_gil_mutex __attribute__((visibility("hidden")));
extern uptr g_gil_cond __attribute__((visibility("hidden")));
// The GIL's switch mutex and condition (FORCE_SWITCHING: take_gil locks the mutex and signals the
// condition on every take; drop_gil waits on them for a forced switch). Neither is a lock of the
// graph: the interceptors call the real functions at once (compared only off the fast paths).
extern uptr g_gil_switch_mutex __attribute__((visibility("hidden")));
extern uptr g_gil_switch_cond __attribute__((visibility("hidden")));

// GilInit — at start-up: is there a CPython in the process at all?
void GilInit();
// GilIsInternal — the address is one of the GIL's own pthread objects (never a graph lock). Also
// locates the GIL the first time it is asked after CPython created it.
bool GilIsInternal(uptr addr);
bool GilLocated();
// InInterpreterCode — `pc` is in the CPython interpreter's own code (libpython, or a statically
// linked interpreter's executable); known once the GIL is located, false before and without Python.
bool InInterpreterCode(uptr pc);
const char* GilStatus();

// The GIL's identity in the graph (the address of its `locked` word), and that word itself; 0 and
// nullptr until located. Read by the inline GIL events below.
extern uptr g_gil_lock_addr __attribute__((visibility("hidden")));
extern const volatile int* g_gil_locked __attribute__((visibility("hidden")));
// The GIL's last holder (&gil->last_holder) and the offset of PyThreadState's thread id: the common
// case of "this thread took the GIL" inline (TookGil below). nullptr and 0 until located.
extern const char* const volatile* g_gil_holder __attribute__((visibility("hidden")));
extern int g_ts_thread_id_off __attribute__((visibility("hidden")));
// verbosity >= 3: every unlock of the GIL's mutex is traced (GilTrace).
extern bool g_gil_trace __attribute__((visibility("hidden")));
void GilTrace(ThreadState* ts, int locked);

// OnGilMutexLock — take_gil starts: lock(gil->mutex) by a thread that neither holds the GIL nor is
// already taking it (the interceptor returns before the call for drop_gil and nested locks). The
// order check "held locks -> GIL" runs before the thread can block waiting for the GIL, and the wait
// stays published (the outer wait) while the thread waits on the GIL's condition.
//
// The GIL events are inline (into the interceptors of the GIL's mutex): every GIL round trip — each
// blocking call a Python thread makes — runs them; inline, a round trip costs a quarter fewer
// instructions (435 -> 326: bench/gil_round_trip.py, docs/design.md "The fast path"); with the
// frameless common cases in preload/interceptors.cc (GilTakeCall, GilMutexUnlock) and
// GilEntryInPlace below, 269.
LOCKSAN_ALWAYS_INLINE void OnGilMutexLock(ThreadState* ts, uptr pc, uptr sp) {
  ts->gil_taking = true;
  CudaOnGilTake(ts, pc, sp);
  BeginAcquire(ts, g_gil_lock_addr, LockKind::kGil, kWrite, false, pc, sp, &ts->gil_acquire);
  SetOuterWait(ts, true);
}

// GilLockedWord — the GIL's `locked` word, read just before unlock(gil->mutex); OnGilMutexUnlock is
// called with it just after the unlock. The bookkeeping of a take (the order check's end, the held
// entry) or of a drop (the entry popped) runs outside the GIL mutex's critical section: every thread
// that takes or drops the GIL, or asks for it, waits on that mutex. The thread's state is consistent
// by then: a take is judged after the unlock by the GIL's holder (this thread still holds the GIL, or
// never got it), a drop by the word read under the mutex.
LOCKSAN_ALWAYS_INLINE int GilLockedWord() { return __atomic_load_n(g_gil_locked, __ATOMIC_ACQUIRE); }

// TookGil — after take_gil's unlock of the GIL mutex: the GIL is locked and this thread took it
// last (python::ThisThreadTookMainGil). Its common case inline: the last holder is this thread's
// state as last seen, and still carries this thread's id; otherwise the full check.
LOCKSAN_ALWAYS_INLINE bool TookGil() {
  if (__atomic_load_n(g_gil_locked, __ATOMIC_ACQUIRE) != 1) return false;
  const char* holder = *g_gil_holder;
  if (LOCKSAN_LIKELY(holder != nullptr && holder == python::t_own_tstate)) {
    unsigned long tid;
    __builtin_memcpy(&tid, holder + g_ts_thread_id_off, sizeof tid);
    if (LOCKSAN_LIKELY(tid == static_cast<unsigned long>(pthread_self()))) return true;
  }
  return python::ThisThreadTookMainGil();
}

// GilEntryInPlace — take_gil took the GIL, and the slot on top of the held stack still holds the
// entry EndAcquire would write (the GIL's last take at this depth, the same chain below, its record
// unchanged: a slot keeps its entry after the pop, and is emptied when a slot below is filled):
// EndAcquire's work with only the fields that change (call site, release epoch) written, as an
// in-place reuse of a mutex's slot is. The wait was the only one (SetOuterWait cleared the outer
// wait). Returns false, having done nothing, otherwise.
LOCKSAN_ALWAYS_INLINE bool GilEntryInPlace(ThreadState* ts) {
  const Acquire& a = ts->gil_acquire;
  HeldLock* h = ts->top;
  LockInfo* li = a.lock;
  if (LOCKSAN_UNLIKELY(li == nullptr || h->addr != a.addr || h->lock != li || h->chain != a.chain ||
                       h->gen != li->gen.load(std::memory_order_relaxed) || !li->acquired ||
                       g_acquire_stacks))
    return false;
  ts->wait_addr.store(0, std::memory_order_relaxed);
  h->pc = a.pc;
  h->epoch = li->release_epoch.load(std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_release);
  ts->top = h + 1;
  return true;
}

LOCKSAN_ALWAYS_INLINE void OnGilMutexUnlock(ThreadState* ts, int locked) {
  if (LOCKSAN_UNLIKELY(g_gil_trace)) GilTrace(ts, locked);
  if (ts->gil_taking) {
    ts->gil_taking = false;
    SetOuterWait(ts, false);
    // After the unlock: if this thread took the GIL it still holds it (locked, with this thread as
    // its last holder); if it gave up (a thread that must exit), another thread's holding is not
    // this thread's.
    bool acquired = locked == 1 && TookGil();
    if (LOCKSAN_LIKELY(acquired) && GilEntryInPlace(ts)) {
      ts->holds_gil = true;
      return;
    }
    EndAcquire(ts, &ts->gil_acquire, acquired);
    if (acquired) ts->holds_gil = true;
    return;
  }
  if (ts->holds_gil && locked == 0) {
    ts->holds_gil = false;
    OnRelease(ts, g_gil_lock_addr);
    if (LOCKSAN_UNLIKELY(ts->holds_stream)) CudaOnGilReleased(ts);
  }
}

// The calling thread's Python stack, stored; 0 if it has none (or no CPython).
u32 CapturePyStack();
// PyStackKey — a hash of the 8 innermost frames of the calling thread's Python stack, read as keys
// (code object, instruction offset, a digest of the code object's names: nothing decoded or stored);
// 0 if it has none (or no CPython, or an interpreter whose frames locksan does not read).
u64 PyStackKey();
struct PyStack {
  u32 size;
  const python::PyFrameRec* frames;
};
PyStack PyStackDepotGet(u32 id);
// Fork support: the Python-stack depot's and the GIL locator's locks (leaf locks).
void GilForkLock();
void GilForkUnlock(bool child);
// PyStackFromFrames — stores frames captured elsewhere (a signal handler).
u32 PyStackDepotPut(const python::PyFrameRec* frames, int n);

}  // namespace locksan
