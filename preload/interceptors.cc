// preload/interceptors.cc — the libc functions locksan interposes.
//
// Every interceptor has the same shape: find the calling thread's state (nullptr when the runtime is
// not ready, or when the call comes from inside the runtime) and, if there is none, go straight to
// the real function; otherwise: event before (order check) -> real call -> event after (record).
// Interceptors turn calls into core events and do nothing else.
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/detector.h"
#include "core/gil.h"
#include "core/output.h"
#include "core/runtime_mutex.h"
#include "core/stack.h"
#include "cupti/cupti_tracker.h"
#include "core/internal_alloc.h"
#include "preload/real.h"

using namespace locksan;

#define CALLER_PC reinterpret_cast<uptr>(__builtin_return_address(0))
// The interceptor's frame address (what __builtin_frame_address(0) gives: the canonical frame
// address less the return address and the saved frame pointer), without forcing a frame pointer.
#define CALLER_CFA reinterpret_cast<uptr>(__builtin_dwarf_cfa())
#define CALLER_SP (CALLER_CFA - 2 * sizeof(uptr))
#define ADDR(p) reinterpret_cast<uptr>(p)

namespace {

// MutexKind — the type of a glibc mutex, read from the object itself (also for static initialisers).
LOCKSAN_ALWAYS_INLINE LockKind MutexKind(const pthread_mutex_t* m) {
  switch (m->__data.__kind & 3) {
    case PTHREAD_MUTEX_RECURSIVE_NP: return LockKind::kRecursiveMutex;
    case PTHREAD_MUTEX_ERRORCHECK_NP: return LockKind::kErrorCheckMutex;
    default: return LockKind::kMutex;
  }
}

// A robust mutex whose owner died is acquired with EOWNERDEAD: the caller holds it.
LOCKSAN_ALWAYS_INLINE bool MutexAcquired(int rc) { return rc == 0 || rc == EOWNERDEAD; }

// AcquireSlowCall — AcquireCall for a thread whose state is not at hand (first call of the thread,
// runtime not initialised, inside the runtime, thread teardown). Out of line.
// `cfa`: the interceptor's canonical frame address (its return address is just below it).
template <typename KindFn, typename Call>
LOCKSAN_NOINLINE int AcquireSlowCall(uptr addr, KindFn kind, u8 mode, bool is_try, uptr cfa,
                                     Call call, bool (*acquired)(int)) {
  uptr pc = *reinterpret_cast<const uptr*>(cfa - sizeof(uptr));
  uptr sp = cfa - 2 * sizeof(uptr);
  LOCKSAN_REAL_INIT(any);
  ThreadState* ts = CurrentThread();
  if (!ts) return call();
  ScopedInRuntime busy;  // a signal handler interrupting us must not re-enter the detector
  HeldLock* h = BeginAcquireInPlace(ts, addr, kind, mode, is_try, pc, sp);
  int rc = call();
  if (LOCKSAN_UNLIKELY(!h)) EndAcquireUntracked(ts, is_try);
  else EndAcquireInPlace(ts, h, rc, acquired, is_try);
  return rc;
}

// UntrackedCall — the lock call for a lock that is not tracked; ends the busy marking that the
// caller started. Out of line.
template <typename Call>
LOCKSAN_NOINLINE int UntrackedCall(ThreadState* ts, bool is_try, Call call) {
  int rc = call();
  EndAcquireUntracked(ts, is_try);
  t_local.in_runtime--;
  return rc;
}

// FillCall — AcquireCall when the slot cannot be reused in place: fills it (FillPending: lock cache,
// order check), makes the call, ends the busy marking that the caller started. Out of line, and
// called as the caller's last act, so that the inline path keeps few registers across its call.
template <typename KindFn, typename Call>
LOCKSAN_NOINLINE int FillCall(ThreadState* ts, uptr addr, KindFn kind, u8 mode, bool is_try, uptr pc,
                              uptr sp, Call call, bool (*acquired)(int)) {
  HeldLock* h = FillPendingInline(ts, addr, kind, mode, is_try ? kHeldTry : 0, pc, sp);
  if (LOCKSAN_UNLIKELY(!h)) return UntrackedCall(ts, is_try, call);
  if (!is_try) PublishWait(ts, addr, mode, h->lock);
  int rc = EndAcquireInPlace(ts, h, call(), acquired, is_try);
  t_local.in_runtime--;
  return rc;
}

// AcquireCall — a lock call. KindFn returns the LockKind; it is called only when the lock misses the
// thread's lock cache. Only the common case is inline: a thread with state, a slot reused in place.
template <typename KindFn, typename Call>
LOCKSAN_ALWAYS_INLINE int AcquireCall(uptr addr, KindFn kind, u8 mode, bool is_try, uptr pc, uptr sp,
                                      Call call, bool (*acquired)(int)) {
  ThreadLocal& tl = t_local;
  ThreadState* ts = tl.ts;
  if (LOCKSAN_UNLIKELY(!TrackingOn(tl)))
    return AcquireSlowCall(addr, kind, mode, is_try, sp + 2 * sizeof(uptr), call, acquired);
  // Busy: a signal handler interrupting us must not re-enter the detector. in_runtime is 0 here
  // (tested above) and a handler leaves it as it found it, so it is set and cleared with plain
  // stores (an increment and a decrement would each load the word the previous call stored).
  tl.in_runtime = 1;
  HeldLock* h = ReusableSlot(ts, addr, mode, is_try);
  if (LOCKSAN_UNLIKELY(!h)) return FillCall(ts, addr, kind, mode, is_try, pc, sp, call, acquired);
  h->pc = pc;
  if (!is_try) PublishWait(ts, addr, mode, h->lock);
  int rc = EndAcquireInPlace(ts, h, call(), acquired, is_try);
  tl.in_runtime = 0;
  return rc;
}

#define KIND(k) [] { return LockKind::k; }
#define MUTEX_KIND(m) [m] { return MutexKind(m); }

bool RcZero(int rc) { return rc == 0; }

// ReleaseSlowCall — an unlock that is not the pop of this thread's top held entry (or from a thread
// without state); out of line, so that the fast path below needs no stack frame.
// `owner` returns a pthread mutex's owner field before an unlock by a non-holder (-1 for other
// locks; see OnForeignUnlock).
int NoOwner() { return -1; }
template <typename Unlock, typename Owner = int (*)()>
LOCKSAN_NOINLINE int ReleaseSlowCall(uptr addr, Unlock unlock, Owner owner = NoOwner) {
  LOCKSAN_REAL_INIT(any);
  ThreadState* ts = CurrentThread();
  if (!ts) return unlock();
  ScopedInRuntime busy;  // a signal handler interrupting us must not re-enter the detector
  if (LOCKSAN_LIKELY(OnRelease(ts, addr))) return unlock();
  int prev_owner = owner();
  int rc = unlock();
  OnForeignUnlock(ts, addr, rc, prev_owner);
  return rc;
}

// ReleaseCall — an unlock. The common case, the lock on top of the thread's held stack, pops it
// (one store), then tail-calls the real unlock: the detector's state is final by then, so a signal
// handler that interrupts the real unlock finds it consistent. The pop needs no busy marking: a
// handler that runs before the store sees the entry still held (it is), one that runs after sees it
// popped, and a handler returns with the held stack as it found it.
// `slow` is called instead when the lock is not the top entry.
template <typename Unlock, typename Slow>
LOCKSAN_ALWAYS_INLINE int ReleaseCall(uptr addr, Unlock unlock, Slow slow) {
  ThreadLocal& tl = t_local;
  ThreadState* ts = tl.ts;
  if (LOCKSAN_LIKELY(TrackingOn(tl))) {
    HeldLock* top = ts->top;
    if (LOCKSAN_LIKELY(top[-1].addr == addr)) {  // held[-1] is the sentinel
      std::atomic_signal_fence(std::memory_order_seq_cst);
      ts->top = top - 1;
      std::atomic_signal_fence(std::memory_order_seq_cst);
      return unlock();
    }
  }
  return slow();
}
template <typename Unlock>
LOCKSAN_ALWAYS_INLINE int ReleaseCall(uptr addr, Unlock unlock) {
  return ReleaseCall(addr, unlock, [addr, unlock] { return ReleaseSlowCall(addr, unlock); });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Mutexes
// ---------------------------------------------------------------------------------------------
LOCKSAN_EXPORT int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr) {
  LOCKSAN_REAL_INIT(pthread_mutex_init);
  int rc = REAL(pthread_mutex_init)(m, attr);
  if (rc == 0 && RuntimeInitialized() && !t_local.in_runtime) OnLockInit(ADDR(m), MutexKind(m));
  return rc;
}

LOCKSAN_EXPORT int pthread_mutex_destroy(pthread_mutex_t* m) {
  LOCKSAN_REAL_INIT(pthread_mutex_destroy);
  int rc = REAL(pthread_mutex_destroy)(m);
  if (rc == 0 && RuntimeInitialized() && !t_local.in_runtime) OnLockDestroy(ADDR(m));
  return rc;
}

namespace {
// GilMutexLock / GilMutexUnlock (below) — the GIL's mutex. A thread with a state (tracking on) takes
// the fast path: the real functions are resolved (see pthread_mutex_lock below), and the thread is
// marked busy for the detector's work with one store each way.
//
// GilTakeSlowCall — lock(gil->mutex) when take_gil starts (the thread neither holds the GIL nor is
// taking it), the whole OnGilMutexLock; GilTakeCall (below) serves its common case. Out of line, so
// that drop_gil's lock (GilMutexLock's common case) saves no register.
LOCKSAN_NOINLINE int GilTakeSlowCall(ThreadLocal& tl, ThreadState* ts, pthread_mutex_t* m, uptr pc, uptr sp) {
  tl.in_runtime = 1;  // a signal handler interrupting us must not re-enter the detector
  OnGilMutexLock(ts, pc, sp);
  tl.in_runtime = 0;
  return REAL(pthread_mutex_lock)(m);
}
// GilTakeCall — OnGilMutexLock's common case with no call but the real one, tail-called (no register
// saved): nothing for the CUDA rules to look at (CudaOnGilTake's test) and BeginAcquire's common case
// (BeginAcquireQuick). Anything else: GilTakeSlowCall.
LOCKSAN_NOINLINE int GilTakeCall(ThreadLocal& tl, ThreadState* ts, pthread_mutex_t* m, uptr pc, uptr sp) {
  if (LOCKSAN_LIKELY(!CudaGilTakeWanted(ts))) {
    tl.in_runtime = 1;  // a signal handler interrupting us must not re-enter the detector
    if (LOCKSAN_LIKELY(BeginAcquireQuick(ts, g_gil_lock_addr, kWrite, pc, sp, &ts->gil_acquire))) {
      ts->gil_taking = true;
      SetOuterWait(ts, true);
      tl.in_runtime = 0;
      return REAL(pthread_mutex_lock)(m);
    }
    tl.in_runtime = 0;
  }
  return GilTakeSlowCall(tl, ts, m, pc, sp);
}

LOCKSAN_NOINLINE int GilMutexLockSlow(pthread_mutex_t* m, uptr pc, uptr sp) {
  LOCKSAN_REAL_INIT(pthread_mutex_lock);
  ThreadState* ts = CurrentThread();
  if (!ts || ts->holds_gil || ts->gil_taking) return REAL(pthread_mutex_lock)(m);
  ScopedInRuntime busy;
  OnGilMutexLock(ts, pc, sp);
  return REAL(pthread_mutex_lock)(m);
}

// Out of line, but saves no register either: inline in pthread_mutex_lock it moved that function's
// TLS load ahead of the GIL compare (one instruction more on every lock of every mutex).
LOCKSAN_NOINLINE int GilMutexLock(pthread_mutex_t* m, uptr pc, uptr sp) {
  ThreadLocal& tl = t_local;
  if (LOCKSAN_LIKELY(TrackingOn(tl))) {
    ThreadState* ts = tl.ts;
    // drop_gil (the thread holds the GIL) or a nested lock of the mutex while taking it: nothing to do.
    if (ts->holds_gil || ts->gil_taking) return REAL(pthread_mutex_lock)(m);
    return GilTakeCall(tl, ts, m, pc, sp);
  }
  return GilMutexLockSlow(m, pc, sp);
}

// GilUnlockCall — unlock(gil->mutex) off GilMutexUnlock's drop path: the end of take_gil (the order
// check's end, the entry pushed) and every other case, bookkept after the unlock (see GilLockedWord).
LOCKSAN_NOINLINE int GilUnlockCall(ThreadLocal& tl, ThreadState* ts, pthread_mutex_t* m) {
  tl.in_runtime = 1;  // a signal handler interrupting us must not re-enter the detector
  int locked = GilLockedWord();
  int rc = REAL(pthread_mutex_unlock)(m);
  OnGilMutexUnlock(ts, locked);
  tl.in_runtime = 0;
  return rc;
}

// GilMutexUnlockSlow — unlock(gil->mutex) by a thread with tracking off (busy, disabled, or no state
// yet). Out of line, so that GilMutexUnlock saves no register.
LOCKSAN_NOINLINE int GilMutexUnlockSlow(pthread_mutex_t* m) {
  LOCKSAN_REAL_INIT(pthread_mutex_unlock);
  if (ThreadState* ts = CurrentThread()) {
    ScopedInRuntime busy;
    int locked = GilLockedWord();
    int rc = REAL(pthread_mutex_unlock)(m);
    OnGilMutexUnlock(ts, locked);
    return rc;
  }
  return REAL(pthread_mutex_unlock)(m);
}

// GilMutexUnlock — drop_gil's unlock (the thread held the GIL, the GIL's `locked` word is 0 under the
// mutex, and its entry is on top of the held stack: OnGilMutexUnlock's drop case) pops the entry
// before the unlock, as an unlock of any lock does, and tail-calls the real function: no register is
// saved. The pop is two stores inside the GIL mutex's critical section. Anything else goes to
// GilUnlockCall.
LOCKSAN_NOINLINE int GilMutexUnlock(pthread_mutex_t* m) {
  ThreadLocal& tl = t_local;
  if (LOCKSAN_LIKELY(TrackingOn(tl))) {
    ThreadState* ts = tl.ts;
    HeldLock* top = ts->top;
    if (LOCKSAN_LIKELY(ts->holds_gil && !ts->gil_taking && !ts->holds_stream && !g_gil_trace &&
                       top[-1].addr == g_gil_lock_addr && GilLockedWord() == 0)) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
      ts->top = top - 1;  // as OnRelease pops it
      std::atomic_signal_fence(std::memory_order_seq_cst);
      ts->holds_gil = false;
      return REAL(pthread_mutex_unlock)(m);
    }
    return GilUnlockCall(tl, ts, m);
  }
  return GilMutexUnlockSlow(m);
}
}  // namespace

// pthread_mutex_lock and pthread_mutex_unlock resolve the real functions on their slow paths only: a
// thread has a state (the fast path) only after InitReal completed, in that thread or in the parent
// that created it (every way to a ThreadState starts in the constructor or in an interceptor that
// called InitReal first).
//
// The tail path: a mutex whose lock cannot fail (glibc's default or recursive kind: not
// error-checking, adaptive, robust, priority-inheriting, priority-protected or elided), locked with a
// slot reused in place and nothing to do once the lock is taken (no end_slow), is pushed on the held
// stack before the call, with its wait published tagged kWaitTail, and the real function is
// tail-called. Nothing then runs after the atomic that takes the lock: the work after it is what an
// in-place acquisition costs most (docs/design.md). The entry is on the held stack while the thread
// waits, and the wait stays published once the thread has the mutex; readers of another thread's
// state resolve both with the mutex's owner field (TailWaitPending).
constexpr int kMutexTailRefuse = 0x17e;  // __kind bits: type 2 and 3, robust, PI, PP, elision
namespace {
// MutexLockCall — pthread_mutex_lock off the tail path; out of line, so that the tail path saves no
// register.
LOCKSAN_NOINLINE int MutexLockCall(pthread_mutex_t* m, uptr pc, uptr sp) {
  if (LOCKSAN_UNLIKELY(ADDR(m) == g_gil_switch_mutex)) return REAL(pthread_mutex_lock)(m);
  return AcquireCall(ADDR(m), MUTEX_KIND(m), kWrite, false, pc, sp,
                     [m] { return REAL(pthread_mutex_lock)(m); }, MutexAcquired);
}

// TailCallLock — the tail path's last acts before the real pthread_mutex_lock is tail-called: the
// entry h (filled, or reused in place) takes the lock's release epoch, the wait is published tagged
// kWaitTail, the entry is pushed, and the thread is no longer busy (tl is t_local).
LOCKSAN_ALWAYS_INLINE int TailCallLock(ThreadLocal& tl, ThreadState* ts, HeldLock* h, pthread_mutex_t* m) {
  h->epoch = h->lock->release_epoch.load(std::memory_order_relaxed);
  PublishWait(ts, ADDR(m) | kWaitTail, kWrite, h->lock);
  std::atomic_signal_fence(std::memory_order_release);  // a handler sees the entry whole
  ts->top = h + 1;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  tl.in_runtime = 0;
  return REAL(pthread_mutex_lock)(m);
}

// MutexFillCall — the tail path's fill: pthread_mutex_lock of a mutex whose slot cannot be reused
// in place (another lock was last taken at this depth, or none). The slot is filled and
// order-checked (FillPendingInline); then, when nothing is left to do once the lock is taken (no
// end_slow: not a fresh lock, no outer wait), the entry is pushed and the wait published as the
// in-place tail path does, and the real function is tail-called from here. Otherwise the whole call
// is made here, as FillCall makes it. Out of line, and itself tail-called, so that the caller's
// inline path saves no register.
LOCKSAN_NOINLINE int MutexFillSlowCall(ThreadState* ts, pthread_mutex_t* m, uptr pc, uptr sp) {
  auto call = [m] { return REAL(pthread_mutex_lock)(m); };
  HeldLock* h = FillPendingInline(ts, ADDR(m), MUTEX_KIND(m), kWrite, 0, pc, sp);
  if (LOCKSAN_UNLIKELY(!h)) return UntrackedCall(ts, false, call);
  if (LOCKSAN_LIKELY(!ts->end_slow)) return TailCallLock(t_local, ts, h, m);
  PublishWait(ts, ADDR(m), kWrite, h->lock);
  int rc = EndAcquireInPlace(ts, h, call(), MutexAcquired, false);
  t_local.in_runtime = 0;
  return rc;
}

// MutexFillCall — MutexFillSlowCall's common case, with no frame (every call it makes is a tail
// call): the mutex is in the thread's lock cache, acquired before, its chain below the held locks
// validated (the cache entry's last chain, or the chain cache), and nothing to do once the lock is
// taken. The entry is filled as FillPendingEntry fills it (WriteEntry). In the torch step's proxy
// (bench/step_proxy.c) fills are half of locksan's instructions, and saving and restoring six
// registers was a sixth of a fill.
LOCKSAN_NOINLINE int MutexFillCall(ThreadState* ts, pthread_mutex_t* m, uptr pc, uptr sp) {
  uptr addr = ADDR(m);
  u32 n = ts->Nheld();
  ThreadState::CacheEntry& e = ts->lock_cache[LockCacheIndex(addr)];
  LockInfo* li = e.info;
  if (LOCKSAN_LIKELY(e.addr == addr && li != nullptr && li->gen.load(std::memory_order_relaxed) == e.gen &&
                     li != &g_untracked && li->acquired && n != ts->held_cap && !ts->end_slow)) {
    HeldLock* h = ts->held + n;
    u64 id = li->id;
    u64 chain = ChainStep(n ? h[-1].chain : kChainSeed, id, kWrite, 0);
    if (n == 0 || e.chain == chain || ts->chain_cache[(chain >> 7) & (kChainCacheSize - 1)] == chain) {
      if (n) e.chain = chain;
      WriteEntry(h, addr, li, id, e.gen, chain, kWrite, 0, pc, sp);
      // The slots above were filled after other locks than these (after a nested pair, the next
      // fill one level down empties the slot above).
      EmptySlotsFrom(ts, n + 1);
      return TailCallLock(t_local, ts, h, m);
    }
  }
  return MutexFillSlowCall(ts, m, pc, sp);
}
}  // namespace

LOCKSAN_EXPORT LOCKSAN_HOT_ENTRY int pthread_mutex_lock(pthread_mutex_t* m) {
  if (LOCKSAN_UNLIKELY(ADDR(m) == g_gil_mutex)) return GilMutexLock(m, CALLER_PC, CALLER_SP);
  ThreadLocal& tl = t_local;
  ThreadState* ts = tl.ts;
  static_assert(offsetof(ThreadState, no_tail) == offsetof(ThreadState, end_slow) + 1, "one compare");
  u16 slow_or_off;  // end_slow and no_tail
  if (LOCKSAN_LIKELY(TrackingOn(tl) &&
                     (__builtin_memcpy(&slow_or_off, &ts->end_slow, sizeof slow_or_off), !slow_or_off) &&
                     !(m->__data.__kind & kMutexTailRefuse))) {
    tl.in_runtime = 1;  // a signal handler must not use the slot while it is checked and pushed
    HeldLock* h = ReusableSlot(ts, ADDR(m), kWrite, false);
    if (LOCKSAN_LIKELY(h != nullptr)) {
      h->pc = CALLER_PC;
      return TailCallLock(tl, ts, h, m);
    }
    if (LOCKSAN_UNLIKELY(ADDR(m) == g_gil_switch_mutex)) {
      tl.in_runtime = 0;
      return REAL(pthread_mutex_lock)(m);
    }
    return MutexFillCall(ts, m, CALLER_PC, CALLER_SP);
  }
  return MutexLockCall(m, CALLER_PC, CALLER_SP);
}

LOCKSAN_EXPORT int pthread_mutex_trylock(pthread_mutex_t* m) {
  LOCKSAN_REAL_INIT(pthread_mutex_trylock);
  return AcquireCall(ADDR(m), MUTEX_KIND(m), kWrite, true, CALLER_PC, CALLER_SP,
                     [&] { return REAL(pthread_mutex_trylock)(m); }, MutexAcquired);
}

LOCKSAN_EXPORT int pthread_mutex_timedlock(pthread_mutex_t* m, const struct timespec* t) {
  LOCKSAN_REAL_INIT(pthread_mutex_timedlock);
  return AcquireCall(ADDR(m), MUTEX_KIND(m), kWrite, false, CALLER_PC, CALLER_SP,
                     [&] { return REAL(pthread_mutex_timedlock)(m, t); }, MutexAcquired);
}

LOCKSAN_EXPORT int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t c, const struct timespec* t) {
  LOCKSAN_REAL_INIT(pthread_mutex_clocklock);
  if (!REAL(pthread_mutex_clocklock)) return ENOSYS;
  return AcquireCall(ADDR(m), MUTEX_KIND(m), kWrite, false, CALLER_PC, CALLER_SP,
                     [&] { return REAL(pthread_mutex_clocklock)(m, c, t); }, MutexAcquired);
}


// The GIL's mutex is compared only when the mutex is not the top held entry: OnGilMutexLock pushes
// no entry for it (a GIL mutex locked before CPython's GIL was located is popped like any mutex).
LOCKSAN_EXPORT LOCKSAN_HOT_ENTRY int pthread_mutex_unlock(pthread_mutex_t* m) {
  auto unlock = [m] { return REAL(pthread_mutex_unlock)(m); };
  return ReleaseCall(ADDR(m), unlock, [m, unlock] {
    if (LOCKSAN_UNLIKELY(ADDR(m) == g_gil_mutex)) return GilMutexUnlock(m);
    if (LOCKSAN_UNLIKELY(ADDR(m) == g_gil_switch_mutex)) return unlock();
    return ReleaseSlowCall(ADDR(m), unlock,
                           [m] { return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED); });
  });
}

// ---------------------------------------------------------------------------------------------
// Reader-writer locks
// ---------------------------------------------------------------------------------------------
LOCKSAN_EXPORT int pthread_rwlock_init(pthread_rwlock_t* l, const pthread_rwlockattr_t* attr) {
  LOCKSAN_REAL_INIT(pthread_rwlock_init);
  int rc = REAL(pthread_rwlock_init)(l, attr);
  if (rc == 0 && RuntimeInitialized() && !t_local.in_runtime) OnLockInit(ADDR(l), LockKind::kRwlock);
  return rc;
}

LOCKSAN_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t* l) {
  LOCKSAN_REAL_INIT(pthread_rwlock_destroy);
  int rc = REAL(pthread_rwlock_destroy)(l);
  if (rc == 0 && RuntimeInitialized() && !t_local.in_runtime) OnLockDestroy(ADDR(l));
  return rc;
}

#define RWLOCK_ACQUIRE(name, mode, is_try, ...)                                                    \
  LOCKSAN_REAL_INIT(name);                                                                          \
  if (!REAL(name)) return ENOSYS;                                                                   \
  return AcquireCall(ADDR(l), KIND(kRwlock), mode, is_try, CALLER_PC, CALLER_SP,                 \
                     [&] { return REAL(name)(__VA_ARGS__); }, RcZero)

LOCKSAN_EXPORT LOCKSAN_HOT_ENTRY int pthread_rwlock_rdlock(pthread_rwlock_t* l) {
  RWLOCK_ACQUIRE(pthread_rwlock_rdlock, kRead, false, l);
}
LOCKSAN_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t* l) {
  RWLOCK_ACQUIRE(pthread_rwlock_tryrdlock, kRead, true, l);
}
LOCKSAN_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t* l, const struct timespec* t) {
  RWLOCK_ACQUIRE(pthread_rwlock_timedrdlock, kRead, false, l, t);
}
LOCKSAN_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t* l, clockid_t c, const struct timespec* t) {
  RWLOCK_ACQUIRE(pthread_rwlock_clockrdlock, kRead, false, l, c, t);
}
LOCKSAN_EXPORT LOCKSAN_HOT_ENTRY int pthread_rwlock_wrlock(pthread_rwlock_t* l) {
  RWLOCK_ACQUIRE(pthread_rwlock_wrlock, kWrite, false, l);
}
LOCKSAN_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t* l) {
  RWLOCK_ACQUIRE(pthread_rwlock_trywrlock, kWrite, true, l);
}
LOCKSAN_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t* l, const struct timespec* t) {
  RWLOCK_ACQUIRE(pthread_rwlock_timedwrlock, kWrite, false, l, t);
}
LOCKSAN_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t* l, clockid_t c, const struct timespec* t) {
  RWLOCK_ACQUIRE(pthread_rwlock_clockwrlock, kWrite, false, l, c, t);
}

LOCKSAN_EXPORT LOCKSAN_HOT_ENTRY int pthread_rwlock_unlock(pthread_rwlock_t* l) {
  LOCKSAN_REAL_INIT(pthread_rwlock_unlock);
  return ReleaseCall(ADDR(l), [l] { return REAL(pthread_rwlock_unlock)(l); });
}

// ---------------------------------------------------------------------------------------------
// Spin locks
// ---------------------------------------------------------------------------------------------
LOCKSAN_EXPORT int pthread_spin_init(pthread_spinlock_t* l, int pshared) {
  LOCKSAN_REAL_INIT(pthread_spin_init);
  int rc = REAL(pthread_spin_init)(l, pshared);
  if (rc == 0 && RuntimeInitialized() && !t_local.in_runtime) OnLockInit(ADDR(l), LockKind::kSpin);
  return rc;
}

LOCKSAN_EXPORT int pthread_spin_destroy(pthread_spinlock_t* l) {
  LOCKSAN_REAL_INIT(pthread_spin_destroy);
  int rc = REAL(pthread_spin_destroy)(l);
  if (rc == 0 && RuntimeInitialized() && !t_local.in_runtime) OnLockDestroy(ADDR(l));
  return rc;
}

LOCKSAN_EXPORT int pthread_spin_lock(pthread_spinlock_t* l) {
  LOCKSAN_REAL_INIT(pthread_spin_lock);
  return AcquireCall(ADDR(l), KIND(kSpin), kWrite, false, CALLER_PC, CALLER_SP,
                     [&] { return REAL(pthread_spin_lock)(l); }, RcZero);
}

LOCKSAN_EXPORT int pthread_spin_trylock(pthread_spinlock_t* l) {
  LOCKSAN_REAL_INIT(pthread_spin_trylock);
  return AcquireCall(ADDR(l), KIND(kSpin), kWrite, true, CALLER_PC, CALLER_SP,
                     [&] { return REAL(pthread_spin_trylock)(l); }, RcZero);
}

LOCKSAN_EXPORT int pthread_spin_unlock(pthread_spinlock_t* l) {
  LOCKSAN_REAL_INIT(pthread_spin_unlock);
  return ReleaseCall(ADDR(l), [l] { return REAL(pthread_spin_unlock)(l); });
}

// ---------------------------------------------------------------------------------------------
// Condition variables: the mutex is released, then re-acquired while the other locks are still held.
// ---------------------------------------------------------------------------------------------
namespace {

// The mutex is re-acquired on return, whether the wait was signalled, timed out or interrupted;
// only invalid arguments leave it untouched.
bool CondReacquired(int rc) { return rc != EINVAL && rc != EPERM; }

template <typename Call>
LOCKSAN_ALWAYS_INLINE int CondWait(pthread_mutex_t* m, uptr pc, uptr sp, Call call) {
  ThreadState* ts = CurrentThread();
  if (!ts) return call();
  ScopedInRuntime busy;  // a signal handler interrupting us must not re-enter the detector
  OnRelease(ts, ADDR(m));
  Acquire a;
  // The order check of the re-acquisition runs before the wait, so it is reported before any hang.
  BeginAcquire(ts, ADDR(m), MutexKind(m), kWrite, false, pc, sp, &a);
  ts->wait_addr.store(0, std::memory_order_relaxed);  // waiting on the condition, not on a lock
  int rc = call();
  EndAcquire(ts, &a, CondReacquired(rc));
  return rc;
}

}  // namespace

LOCKSAN_EXPORT int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  LOCKSAN_REAL_INIT(pthread_cond_wait);
  // drop_gil waiting for a forced switch to complete, on the GIL's switch mutex (no graph lock).
  if (LOCKSAN_UNLIKELY(ADDR(c) == g_gil_switch_cond)) return REAL(pthread_cond_wait)(c, m);
  return CondWait(m, CALLER_PC, CALLER_SP, [&] { return REAL(pthread_cond_wait)(c, m); });
}

LOCKSAN_EXPORT int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* t) {
  LOCKSAN_REAL_INIT(pthread_cond_timedwait);
  // take_gil waiting for the GIL: the wait was published at lock(gil->mutex).
  if (LOCKSAN_UNLIKELY(ADDR(c) == g_gil_cond)) return REAL(pthread_cond_timedwait)(c, m, t);
  return CondWait(m, CALLER_PC, CALLER_SP, [&] { return REAL(pthread_cond_timedwait)(c, m, t); });
}

LOCKSAN_EXPORT int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clk,
                                          const struct timespec* t) {
  LOCKSAN_REAL_INIT(pthread_cond_clockwait);
  if (!REAL(pthread_cond_clockwait)) return ENOSYS;
  return CondWait(m, CALLER_PC, CALLER_SP, [&] { return REAL(pthread_cond_clockwait)(c, m, clk, t); });
}

// ---------------------------------------------------------------------------------------------
// Semaphores. A semaphore initialised to 1 is a lock (CPython 3.9-3.12's threading.Lock); it may be
// released by another thread than the one that took it. CPython probes with sem_trywait before
// blocking, so a successful sem_trywait is an acquisition with its order checked (after the fact:
// it did not block); a failed one is nothing.
// ---------------------------------------------------------------------------------------------
LOCKSAN_EXPORT int sem_init(sem_t* s, int pshared, unsigned value) {
  LOCKSAN_REAL_INIT(sem_init);
  int rc = REAL(sem_init)(s, pshared, value);
  if (rc == 0 && RuntimeInitialized() && !t_local.in_runtime) OnSemInit(ADDR(s), value);
  return rc;
}

LOCKSAN_EXPORT int sem_destroy(sem_t* s) {
  LOCKSAN_REAL_INIT(sem_destroy);
  int rc = REAL(sem_destroy)(s);
  if (rc == 0 && RuntimeInitialized() && !t_local.in_runtime) OnLockDestroy(ADDR(s));
  return rc;
}

namespace {
// SemWaitOnDropped — a blocking wait for the semaphore whose entry this thread's failed probe dropped
// (ThreadState::probe_dropped): the thread waits for a signal that another thread will post
// (Condition.wait's second acquire of its waiter lock), so the semaphore is a signal, not a lock. Not
// if the dropped semaphore has been destroyed since (its record's gen moved): this is another one at
// the same address.
LOCKSAN_NOINLINE void SemWaitOnDropped(ThreadState* ts, uptr addr) {
  if (!TakeProbeDrop(ts, addr)) return;
  ScopedInRuntime busy;
  int saved_errno = errno;
  OnLockDestroy(addr);
  errno = saved_errno;
}
LOCKSAN_ALWAYS_INLINE void BeforeSemWait(sem_t* s) {
  ThreadLocal& tl = t_local;
  if (LOCKSAN_UNLIKELY(tl.ts && tl.ts->probe_dropped == ADDR(s)) && !tl.in_runtime)
    SemWaitOnDropped(tl.ts, ADDR(s));
}
}  // namespace

LOCKSAN_EXPORT int sem_wait(sem_t* s) {
  LOCKSAN_REAL_INIT(sem_wait);
  BeforeSemWait(s);
  return AcquireCall(ADDR(s), KIND(kSemaphore), kWrite, false, CALLER_PC, CALLER_SP,
                     [&] { return REAL(sem_wait)(s); }, RcZero);
}

LOCKSAN_EXPORT int sem_timedwait(sem_t* s, const struct timespec* t) {
  LOCKSAN_REAL_INIT(sem_timedwait);
  BeforeSemWait(s);
  return AcquireCall(ADDR(s), KIND(kSemaphore), kWrite, false, CALLER_PC, CALLER_SP,
                     [&] { return REAL(sem_timedwait)(s, t); }, RcZero);
}

LOCKSAN_EXPORT int sem_clockwait(sem_t* s, clockid_t c, const struct timespec* t) {
  LOCKSAN_REAL_INIT(sem_clockwait);
  BeforeSemWait(s);
  if (!REAL(sem_clockwait)) return ENOSYS;
  return AcquireCall(ADDR(s), KIND(kSemaphore), kWrite, false, CALLER_PC, CALLER_SP,
                     [&] { return REAL(sem_clockwait)(s, c, t); }, RcZero);
}

namespace {
// SemTryFailed — a failed sem_trywait: nothing, unless this thread holds the semaphore
// (OnSemTryFailed). errno is the call's.
LOCKSAN_NOINLINE void SemTryFailed(ThreadState* ts, uptr addr) {
  int saved_errno = errno;
  OnSemTryFailed(ts, addr);
  errno = saved_errno;
}

// SemProbeFill — a successful sem_trywait whose slot cannot be reused in place: fills it
// (FillPending: lock cache, order check without the GIL) and publishes it. Out of line.
LOCKSAN_NOINLINE void SemProbeFill(ThreadState* ts, uptr addr, uptr pc, uptr sp) {
  ts->sem_probe = true;
  HeldLock* h = FillPending(ts, addr, KIND(kSemaphore), kWrite, kHeldProbe, pc, sp);
  ts->sem_probe = false;
  if (h) EndAcquireInPlace(ts, h, 0, RcZero, /*is_try=*/true);  // no wait was published
}

// SemTrywaitSlow — sem_trywait for a thread whose state is not at hand (see AcquireSlowCall).
LOCKSAN_NOINLINE int SemTrywaitSlow(sem_t* s, uptr pc, uptr sp) {
  ThreadState* ts = CurrentThread();
  if (!ts) return REAL(sem_trywait)(s);
  ScopedInRuntime busy;
  int rc = REAL(sem_trywait)(s);
  if (rc != 0) SemTryFailed(ts, ADDR(s));
  else SemProbeFill(ts, ADDR(s), pc, sp);
  return rc;
}
}  // namespace

// A successful sem_trywait is an acquisition order-checked after the fact (it did not block), as a
// blocking one except against the GIL (kHeldProbe); CPython probes every threading.Lock acquire
// this way, so the common case is inline: the slot of the same probe at the same depth, over the
// same held locks, reused in place (as pthread_mutex_lock's, AcquireCall).
LOCKSAN_EXPORT int sem_trywait(sem_t* s) {
  LOCKSAN_REAL_INIT(sem_trywait);
  ThreadLocal& tl = t_local;
  ThreadState* ts = tl.ts;
  if (LOCKSAN_UNLIKELY(!TrackingOn(tl))) return SemTrywaitSlow(s, CALLER_PC, CALLER_SP);
  tl.in_runtime = 1;  // set and cleared with plain stores (see AcquireCall)
  int rc = REAL(sem_trywait)(s);
  if (LOCKSAN_UNLIKELY(rc != 0)) {
    SemTryFailed(ts, ADDR(s));
  } else if (HeldLock* h = ReusableSlotFlags(ts, ADDR(s), kWrite, kHeldProbe)) {
    h->pc = CALLER_PC;
    EndAcquireInPlace(ts, h, 0, RcZero, /*is_try=*/true);
  } else {
    SemProbeFill(ts, ADDR(s), CALLER_PC, CALLER_SP);
  }
  tl.in_runtime = 0;
  return rc;
}

LOCKSAN_EXPORT int sem_post(sem_t* s) {
  LOCKSAN_REAL_INIT(sem_post);
  // The common case: the semaphore is this thread's top entry, still the lock registered at its
  // address (its record not recycled since): popped as ReleaseCall pops a mutex.
  ThreadLocal& tl = t_local;
  if (ThreadState* ts = tl.ts; LOCKSAN_LIKELY(TrackingOn(tl))) {
    HeldLock* top = ts->top;
    if (top[-1].addr == ADDR(s) && top[-1].kind == LockKind::kSemaphore &&
        top[-1].lock->gen.load(std::memory_order_relaxed) == top[-1].gen) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
      ts->top = top - 1;
      std::atomic_signal_fence(std::memory_order_seq_cst);
      return REAL(sem_post)(s);
    }
  }
  if (ThreadState* ts = CurrentThread()) {
    ScopedInRuntime busy;
    OnSemPost(ts, ADDR(s));
  }
  return REAL(sem_post)(s);
}

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------
namespace {

struct Trampoline {
  void* (*fn)(void*);
  void* arg;
  ThreadStart* start;
};

void* ThreadTrampoline(void* p) {
  Trampoline t = *static_cast<Trampoline*>(p);
  InternalDelete(static_cast<Trampoline*>(p));
  OnThreadStart(t.start);
  return t.fn(t.arg);
}

}  // namespace

namespace {

// LoadedObjectsChanged — whether objects were loaded since the last call (cheap: dl_iterate_phdr's
// load counter), so that libcuda is looked for only after something was loaded.
int ReadAdds(struct dl_phdr_info* info, size_t, void* arg) {
  *static_cast<unsigned long long*>(arg) = info->dlpi_adds;
  return 1;
}
bool LoadedObjectsChanged() {
  static std::atomic<unsigned long long> last{~0ull};
  unsigned long long adds = 0;
  LoaderLockScope loader;  // not while a program callback may hold the loader lock and wait for us
  if (!loader.ok()) return false;
  dl_iterate_phdr(ReadAdds, &adds);
  return last.exchange(adds) != adds;
}

cupti::Mode CudaMode() {
  const char* m = GetFlags().cuda_tracking;
  if (!strcmp(m, "off")) return cupti::Mode::kOff;
  if (!strcmp(m, "on")) return cupti::Mode::kOn;
  return cupti::Mode::kAuto;
}

// cuda_calls: 'all', 'adaptive' (every call until a function has been quiet for cuda_quiet_calls
// calls) or 'needed' (the driver functions the rules need only); anything else is reported once (at
// start-up) and read as the default.
cupti::Calls CudaCalls(bool at_startup) {
  const char* c = GetFlags().cuda_calls;
  if (!strcmp(c, "needed")) return cupti::Calls::kNeeded;
  if (!strcmp(c, "all")) return cupti::Calls::kAll;
  if (at_startup && strcmp(c, "adaptive"))
    OutputPrintf("==%d==locksan: cuda_calls=%s is not 'all', 'adaptive' or 'needed'; using 'adaptive'\n",
                 getpid(), c);
  return cupti::Calls::kAdaptive;
}

uint32_t CudaQuietCalls(bool at_startup) {
  int q = GetFlags().cuda_quiet_calls;
  if (q < 0) {
    if (at_startup)
      OutputPrintf("==%d==locksan: cuda_quiet_calls=%d is negative; using 0 (every call tracked)\n",
                   getpid(), q);
    return 0;
  }
  return static_cast<uint32_t>(q);
}

// CUDA tracking starts inside cuInit through CUDA_INJECTION64_PATH (set to liblocksan.so itself when
// no other tool owns it), and otherwise at the first thread creation after libcuda was loaded (the
// driver starts its own threads when it initialises).
void StartCudaTracking(bool at_startup) {
  if (!RuntimeInitialized()) return;
  cupti::Mode mode = CudaMode();
  if (mode == cupti::Mode::kOff) return;
  cupti::SetCalls(CudaCalls(at_startup), CudaQuietCalls(at_startup));
  if (at_startup && !getenv("CUDA_INJECTION64_PATH")) {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&StartCudaTracking), &info) && info.dli_fname)
      setenv("CUDA_INJECTION64_PATH", info.dli_fname, 0);
  }
  t_local.in_runtime++;
  cupti::MaybeStart(mode);
  t_local.in_runtime--;
}

// Whether thread creation should look for a newly loaded libcuda. Not while CUDA_INJECTION64_PATH is
// set: it names liblocksan.so (set at start-up), and cuInit starts the tracking, or another tool that
// owns CUPTI. Only a program that removed the variable needs the fallback. (dl_iterate_phdr takes the
// loader lock: a thread inside a dl_iterate_phdr callback that waits for this one would hang it.)
bool CudaFallbackWanted() {
  if (cupti::Active() || getenv("CUDA_INJECTION64_PATH")) return false;
  return CudaMode() != cupti::Mode::kOff;
}

}  // namespace

LOCKSAN_EXPORT int pthread_create(pthread_t* th, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  LOCKSAN_REAL_INIT(pthread_create);
  if (!CurrentThread()) return REAL(pthread_create)(th, attr, fn, arg);
  if (CudaFallbackWanted() && LoadedObjectsChanged()) StartCudaTracking(false);
  ThreadStart* st = OnThreadCreate(CALLER_PC);
  if (!st) return REAL(pthread_create)(th, attr, fn, arg);
  Trampoline* t = InternalNew<Trampoline>();
  t->fn = fn;
  t->arg = arg;
  t->start = st;
  int rc = REAL(pthread_create)(th, attr, ThreadTrampoline, t);
  if (rc != 0) {
    OnThreadCreateFailed(st);
    InternalDelete(t);
  }
  return rc;
}

LOCKSAN_EXPORT int pthread_setname_np(pthread_t th, const char* name) {
  LOCKSAN_REAL_INIT(pthread_setname_np);
  int rc = REAL(pthread_setname_np)(th, name);
  if (rc == 0 && pthread_equal(th, pthread_self())) SetCurrentThreadName(name);
  return rc;
}

// ---------------------------------------------------------------------------------------------
// dlclose: a library's static locks are forgotten when it is unmapped (a library loaded again at the
// same address has new locks).
// ---------------------------------------------------------------------------------------------
namespace {

struct LibRange {
  uptr base;
  uptr lo, hi;
  bool found;
};

int FindLibRange(struct dl_phdr_info* info, size_t, void* arg) {
  LibRange* r = static_cast<LibRange*>(arg);
  if (info->dlpi_addr != r->base) return 0;
  r->found = true;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uptr a = info->dlpi_addr + ph.p_vaddr;
    if (a < r->lo) r->lo = a;
    if (a + ph.p_memsz > r->hi) r->hi = a + ph.p_memsz;
  }
  return 1;
}

using DlcloseFn = int (*)(void*);
DlcloseFn g_real_dlclose;

using DlIterateCallback = int (*)(struct dl_phdr_info*, size_t, void*);
using DlIterateFn = int (*)(DlIterateCallback, void*);
DlIterateFn g_real_dl_iterate_phdr;

struct ProgramIteration {
  bool counted = ProgramIterateBegin();
  ~ProgramIteration() {
    if (counted) ProgramIterateEnd();
  }
};

LOCKSAN_NOINLINE int IterateCounted(DlIterateFn real, DlIterateCallback callback, void* data) {
  ProgramIteration iteration;
  return real(callback, data);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// dl_iterate_phdr holds the loader's lock while its callback runs, and a callback may wait for
// another thread. Meanwhile the runtime must not wait for that lock (libunwind, the libcuda
// look-up): the interceptor makes the program's iterations known (core/stack.h, LoaderLockScope).
// ---------------------------------------------------------------------------------------------
// Before any locksan code has run (the real functions are not resolved yet) there is nothing to
// tell the runtime, and the caller may be a sanitizer's own start-up (AddressSanitizer calls
// dl_iterate_phdr before its shadow memory exists: a locksan built with LOCKSAN_SANITIZE must not run
// instrumented code then). So this function is not instrumented and, until then, only forwards.
LOCKSAN_EXPORT LOCKSAN_NO_SANITIZE int dl_iterate_phdr(DlIterateCallback callback, void* data) {
  DlIterateFn real = __atomic_load_n(&g_real_dl_iterate_phdr, __ATOMIC_ACQUIRE);
  if (LOCKSAN_UNLIKELY(!real)) {
    real = reinterpret_cast<DlIterateFn>(dlsym(RTLD_NEXT, "dl_iterate_phdr"));
    if (!real) return 0;
    __atomic_store_n(&g_real_dl_iterate_phdr, real, __ATOMIC_RELEASE);
  }
  if (LOCKSAN_UNLIKELY(!__atomic_load_n(&real::resolved, __ATOMIC_ACQUIRE))) return real(callback, data);
  return IterateCounted(real, callback, data);
}

LOCKSAN_EXPORT int dlclose(void* handle) {
  if (!g_real_dlclose) g_real_dlclose = reinterpret_cast<DlcloseFn>(dlsym(RTLD_NEXT, "dlclose"));
  if (!g_real_dlclose) return -1;
  struct link_map* lm = nullptr;
  LibRange r{0, ~uptr{0}, 0, false};
  uptr hv = reinterpret_cast<uptr>(handle);
  asm("" : "+r"(hv));  // dlclose's handle is declared nonnull, but programs do pass NULL
  bool tracked = RuntimeInitialized() && !t_local.in_runtime && hv != 0 &&
                 dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm;
  if (tracked) {
    r.base = lm->l_addr;
    dl_iterate_phdr(FindLibRange, &r);
  }
  int rc = g_real_dlclose(handle);
  if (rc == 0 && tracked && r.found && r.hi > r.lo) {
    // Still mapped (other references)? Then nothing was unloaded.
    LibRange again{r.base, ~uptr{0}, 0, false};
    dl_iterate_phdr(FindLibRange, &again);
    if (!again.found) ForgetRange(r.lo, r.hi);
  }
  return rc;
}

// ---------------------------------------------------------------------------------------------
// Heap: a lock inside a freed block is forgotten (std::mutex never calls destroy).
// ---------------------------------------------------------------------------------------------
namespace {
// ExtentIfMayHoldLocks — the size of a heap block being given back (free, realloc) if the filter
// says it may hold a live lock; 0 if it holds none, or blocks are not looked into now.
LOCKSAN_ALWAYS_INLINE size_t ExtentIfMayHoldLocks(void* p) {
  if (!p || !g_free_filter || !g_heap_tracking_ok || t_local.in_runtime) return 0;
  size_t n = LOCKSAN_LIKELY(g_glibc_chunk_sizes) ? ChunkUsableSize(p) : REAL(malloc_usable_size)(p);
  return FreedBlockMayHoldLocks(ADDR(p), ADDR(p) + n) ? n : 0;
}
}  // namespace

// free() has two paths. The inline path runs once the real free is known, blocks are looked into
// (detect_heap_reuse) and their sizes are read from glibc's chunk headers (g_free_inline): a block
// within one page none of whose lines has a live lock's start (most blocks of most heaps) goes to
// the real free with no register saved; any other block is tested whole out of line
// (FreeTestedCall). Before that, FreeSlow serves, and turns the inline path on once those conditions
// hold (each is set once, at start-up, and never cleared).
namespace {
bool g_free_inline = false;

LOCKSAN_NOINLINE void FreeTestedCall(void* p, size_t n) {
  if (FreedBlockTest(ADDR(p), ADDR(p) + n)) ForgetRange(ADDR(p), ADDR(p) + n);
  REAL(free)(p);
}

LOCKSAN_NOINLINE void FreeSlow(void* p) {
  if (LOCKSAN_UNLIKELY(!REAL(free))) {
    // Called while dlsym itself runs (before the real free is known): leak the block.
    if (!ResolveFree()) return;
  }
  if (g_free_filter && g_heap_tracking_ok && g_glibc_chunk_sizes && !g_free_inline)
    __atomic_store_n(&g_free_inline, true, __ATOMIC_RELAXED);
  if (size_t n = ExtentIfMayHoldLocks(p)) ForgetRange(ADDR(p), ADDR(p) + n);
  REAL(free)(p);
}
}  // namespace

LOCKSAN_EXPORT LOCKSAN_HOT_ENTRY void free(void* p) {
  if (LOCKSAN_LIKELY(__atomic_load_n(&g_free_inline, __ATOMIC_RELAXED))) {
    if (LOCKSAN_LIKELY(p != nullptr) && LOCKSAN_LIKELY(!t_local.in_runtime)) {
      LOCKSAN_FREE_COUNT(0);
      uptr lo = ADDR(p), hi = lo + ChunkUsableSize(p);
      if (LOCKSAN_UNLIKELY((lo >> kPageShift) != ((hi - 1) >> kPageShift) ||
                           PagePartMayHoldLocks(lo >> kPageShift, lo, hi)))
        return FreeTestedCall(p, hi - lo);
    }
    return REAL(free)(p);
  }
  FreeSlow(p);
}

// realloc: a block that moves is freed inside the allocator, where free() above does not see it, and
// a lock that was in it would keep its identity (and edges) for whatever is allocated there next (a
// false inversion: e2e realloc_moved). A block that may hold a live lock is therefore moved here —
// malloc, copy, then its locks forgotten and the old block freed, in that order, so that no other
// thread can be given the old address while its locks are still known — which realloc may always
// do. Every other block goes to the allocator's realloc untouched.
namespace {
LOCKSAN_NOINLINE void* ReallocSlow(void* p, size_t n) {
  if (ResolveFree() && REAL(realloc)) return REAL(realloc)(p, n);
  // Being resolved: by another thread (wait for it), or by this one, in dlsym (fail the call).
  if (!ResolvingFreeHere()) {
    while (!__atomic_load_n(&REAL(realloc), __ATOMIC_ACQUIRE) && !ResolveFree()) sched_yield();
    if (REAL(realloc)) return REAL(realloc)(p, n);
  }
  errno = ENOMEM;
  return nullptr;
}

LOCKSAN_NOINLINE void* ReallocHoldingLocks(void* p, size_t n, size_t old) {
  uptr lo = ADDR(p), hi = lo + old;
  if (n == 0) {  // the allocator frees the block (glibc), or swaps it for a minimal one
    ForgetRange(lo, hi);
    return REAL(realloc)(p, 0);
  }
  void* q = REAL(malloc)(n);
  if (!q) return nullptr;  // errno is the allocator's; the block stays as it was
  memcpy(q, p, n < old ? n : old);
  ForgetRange(lo, hi);
  REAL(free)(p);
  return q;
}
}  // namespace

LOCKSAN_EXPORT void* realloc(void* p, size_t n) {
  if (LOCKSAN_UNLIKELY(!__atomic_load_n(&REAL(realloc), __ATOMIC_ACQUIRE))) return ReallocSlow(p, n);
  if (size_t old = ExtentIfMayHoldLocks(p)) return ReallocHoldingLocks(p, n, old);
  return REAL(realloc)(p, n);
}

// glibc's reallocarray calls its realloc internally (not through the interposable symbol): the same
// overflow check, then the realloc above.
LOCKSAN_EXPORT void* reallocarray(void* p, size_t nmemb, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(nmemb, size, &n)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, n);
}

// ---------------------------------------------------------------------------------------------
// Signal dispositions. A handler the program installs with sigaction() or signal() is installed
// behind the runtime's trampoline, which delays it to the end of a runtime critical section when it
// lands in one (WrapSignalAction in core/runtime_mutex.h); the program reads back its own handler and
// flags. Handlers that cannot be deferred (SA_RESETHAND, sysv_signal, sigset, those present at
// start-up, defer_signals=0) are installed as they are, and then the runtime blocks signals around its
// critical sections (NoteSignalHandler).
// ---------------------------------------------------------------------------------------------
namespace {
template <typename Fn>
Fn RealSignalFn(Fn* cache, const char* name) {
  Fn fn = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
  if (!fn) {
    fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
    __atomic_store_n(cache, fn, __ATOMIC_RELEASE);
  }
  return fn;
}
using SigactionFn = int (*)(int, const struct sigaction*, struct sigaction*);
using SignalFn = sighandler_t (*)(int, sighandler_t);
SigactionFn g_real_sigaction;
SignalFn g_real_signal, g_real_bsd_signal, g_real_sysv_signal, g_real___sysv_signal, g_real_sigset;

LOCKSAN_ALWAYS_INLINE void Note(int sig, sighandler_t h) {
  if (!t_local.in_runtime) NoteSignalHandler(sig, reinterpret_cast<uptr>(h));
}

// Whether a handler installed now may run behind the trampoline (core/runtime_mutex.h): the runtime
// is up (its flags are read) and the program asked for it.
bool MayDefer() { return !t_local.in_runtime && RuntimeInitialized() && GetFlags().defer_signals; }
}  // namespace

LOCKSAN_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  SigactionFn fn = RealSignalFn(&g_real_sigaction, "sigaction");
  if (!fn) {
    errno = ENOSYS;
    return -1;
  }
  SavedSignalAction before = SaveSignalAction(sig);
  struct sigaction wrapped;
  bool wrap = act && MayDefer() && WrapSignalAction(sig, act, &wrapped);
  if (act && !wrap) Note(sig, act->sa_handler);  // sa_handler and sa_sigaction share a union
  int rc = fn(sig, wrap ? &wrapped : act, old);
  if (rc == 0 && old) UnwrapSignalAction(before, old);
  return rc;
}

namespace {
// InstallAsIs — signal() and its relatives, passed through (NoteSignalHandler decides whether signals
// are then blocked around the runtime's critical sections); returns the program's old handler, not
// the trampoline.
sighandler_t InstallAsIs(SignalFn fn, int sig, sighandler_t handler) {
  if (!fn) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  SavedSignalAction before = SaveSignalAction(sig);
  Note(sig, handler);
  sighandler_t old = fn(sig, handler);
  return reinterpret_cast<uptr>(old) == SignalTrampolineAddress() ? reinterpret_cast<sighandler_t>(before.fn) : old;
}

// InstallBsd — signal() and bsd_signal(): glibc's BSD semantics (SA_RESTART, the signal itself
// blocked while its handler runs), made through sigaction() above so that the handler can be deferred.
sighandler_t InstallBsd(SignalFn fn, int sig, sighandler_t handler) {
  uptr h = reinterpret_cast<uptr>(handler);
  if (!fn || !MayDefer() || h <= 2 || h == ~uptr{0} || sig <= 0 || sig >= NSIG)
    return InstallAsIs(fn, sig, handler);
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  sigaddset(&act.sa_mask, sig);
  act.sa_flags = SA_RESTART;
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}
}  // namespace

LOCKSAN_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  return InstallBsd(RealSignalFn(&g_real_signal, "signal"), sig, handler);
}
LOCKSAN_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) {
  return InstallBsd(RealSignalFn(&g_real_bsd_signal, "bsd_signal"), sig, handler);
}
// System V semantics (SA_RESETHAND) and sigset(): installed as they are.
LOCKSAN_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler) {
  return InstallAsIs(RealSignalFn(&g_real_sysv_signal, "sysv_signal"), sig, handler);
}
LOCKSAN_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler) {
  return InstallAsIs(RealSignalFn(&g_real___sysv_signal, "__sysv_signal"), sig, handler);
}
LOCKSAN_EXPORT sighandler_t sigset(int sig, sighandler_t handler) {
  return InstallAsIs(RealSignalFn(&g_real_sigset, "sigset"), sig, handler);
}

// ---------------------------------------------------------------------------------------------
// Process
// ---------------------------------------------------------------------------------------------
namespace {

void AtForkPrepare() { ForkBefore(); }
void AtForkParent() { ForkAfterParent(); }
void AtForkChild() {
  ClearDeferredSignalsInChild();
  ForkAfterChild();
  cupti::Shutdown(/*unsubscribe=*/false);  // CUDA does not survive fork; make no CUPTI call here
}

__attribute__((constructor(101))) void LocksanConstructor() {
  InitReal();
  InitRuntime();
  EnableMutexTail(ProbeMutexLayout(REAL(pthread_mutex_init), REAL(pthread_mutex_lock),
                                   REAL(pthread_mutex_unlock)));
  // Registered first, so our prepare handler runs after every other (they may lock), and our child
  // handler before every other.
  pthread_atfork(AtForkPrepare, AtForkParent, AtForkChild);
  // The main thread is T0.
  CurrentThread();
  StartCudaTracking(/*at_startup=*/true);
  if (GetFlags().verbosity >= 1) OutputPrintf("==%d==locksan: %s\n", getpid(), cupti::StatusLine());
}

}  // namespace
