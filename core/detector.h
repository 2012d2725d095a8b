// core/detector.h — the detector: locks, threads, and the events the interceptors send.
//
// Event protocol for one blocking acquisition (see preload/interceptors.cc):
//   ThreadState* ts = CurrentThread();            // nullptr while the runtime is not usable
//   Acquire a; BeginAcquire(ts, addr, kind, mode, /*is_try=*/false, pc, sp, &a);  // order check
//   int rc = real_lock(m);
//   EndAcquire(ts, &a, rc == 0);                  // record the held lock on success
//   ... OnRelease(ts, addr) before real_unlock(m).
// The fast path of both (a lock already known, a held-lock chain already validated by this thread)
// touches only thread-local memory and the lock's read-mostly LockInfo: no global lock, no shared
// cache line written. Everything else goes to the *Slow functions in detector.cc.
#pragma once
#include <pthread.h>

#include <atomic>
#include <cstddef>

#include "core/common.h"
#include "core/flags.h"
#include "core/python/pystack.h"
#include "core/report_desc.h"
#include "core/runtime_mutex.h"

namespace locksan {

struct PyStackMemo;

// ---------------------------------------------------------------------------------------------
// Locks
// ---------------------------------------------------------------------------------------------
// One record per live lock (80 bytes: the allocator's 80-byte class, 16-byte aligned; see
// docs/design.md for the memory per lock). The acquisition paths read id, gen, release_epoch, kind
// and acquired: they lead the record, so that they lie in one cache line wherever the record starts
// (bytes 0-17; a record at offset 48 of a line is the one case with kind and acquired in the next).
// They are written once or rarely; the record is recycled (gen bumped) when the lock is forgotten.
struct LockInfo {
  u64 id = 0;                         // never reused
  std::atomic<u32> gen{0};            // bumped whenever this record is forgotten (recycled)
  // Bumped when a thread that does not hold this lock unlocks it: the holder's entry is stale.
  std::atomic<u32> release_epoch{0};
  LockKind kind = LockKind::kMutex;
  bool acquired = false;              // has been acquired at least once
  bool in_libcuda = false;            // first taken by code in libcuda
  bool shared = false;                // taken by more than one thread (only such a lock can be a gate)
  bool edges_while_held = false;      // an order check that made an edge ran while it was held
  // lock_identity=site: `id` is its class's (shared with the other locks first locked on the same
  // call path; the class's own record is in the registry by id, this lock by address only).
  bool site_class = false;
  // lock_identity=auto: the index (from 1) of its call path's entry (Runtime::SiteClass) while it
  // is a lock of its own first locked on a call path that was not a class yet (0: none); forgetting
  // it counts towards that call path's becoming a class.
  u16 site_entry = 0;
  std::atomic<uptr> addr{0};
  uptr first_pc = 0;                  // return address of the first acquisition
  const char* driver_call = nullptr;  // driver API in progress at the first acquisition
  LockInfo* next_in_page = nullptr;   // registry: locks on the same 4 KiB page; free list
  u32 first_thread = 0;
  u32 first_stack = 0;                // a short stack of the first acquisition (depot id)
  u32 init_thread = 0;                // 1 + number of the thread that initialised it (0: static init)
  // Semaphores (Python locks), the confined-GIL-cycle rule (CheckAcquireSlow): bits 0-29: 1 + number
  // of the first thread that took it while holding the GIL (kGilTakerMask); kGilShared: a second such
  // thread did (also when a thread number does not fit); kGilCycleSkipped: a cycle through it was
  // left unreported for want of one.
  std::atomic<u32> gil_state{0};
  // Lock revival (revive_locks, see ParkOrRemoveLocked): kParkNone before the first order check that
  // made an edge into this lock; then the chain of that acquisition (its held entry's chain) while
  // every edge into it came from that chain, by its first thread at its first call site;
  // kParkNever once one of these fails.
  u64 park_chain = 0;
};
static_assert(offsetof(LockInfo, acquired) < 18, "the acquisition paths' fields lead the record");
constexpr u64 kParkNone = 0, kParkNever = 1;
static_assert(sizeof(LockInfo) <= 80, "LockInfo fits the allocator's 80-byte class");
constexpr u32 kGilTakerMask = (1u << 30) - 1, kGilShared = 1u << 30, kGilCycleSkipped = 1u << 31;

// The record returned for addresses that are known not to be tracked locks (see ResolveLock).
extern LockInfo g_untracked __attribute__((visibility("hidden")));

enum AcquireMode : u8 { kWrite = 0, kRead = 1 };

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------
struct Acquire {
  LockInfo* lock;  // nullptr: not tracked (over the memory budget)
  uptr addr;
  u64 chain;
  uptr pc;
  uptr sp;
  u8 mode;
  u8 flags;
};

struct HeldLock {
  uptr addr;
  u64 id;
  u64 chain;     // hash of the held-lock chain up to and including this entry
  uptr pc;       // return address of the acquiring call
  uptr sp;       // the interceptor's frame (CALLER_SP) — written by FillPending only, for its order check
  LockInfo* lock;  // to check, on slow paths, that the entry is not stale (gen, release_epoch)
  u32 gen;
  u32 epoch;
  u32 stack;     // full stack of the acquisition (acquire_stacks=1 only)
  u8 mode;       // AcquireMode
  u8 flags;      // kHeldTry | kHeldReentry | kHeldUnchecked | kHeldProbe
  LockKind kind;
  // The lock was first taken by code in libcuda or inside a driver call (LockInfo::in_libcuda, copied
  // when the entry is written): "does this thread hold a driver lock", asked at every GIL take while
  // the thread holds locks in a CUDA process, reads the held entries only (HeldLibcudaEntry).
  u8 libcuda;
};
// kHeldUnchecked: the entry's chain was not (or no longer is) validated by an order check, so the
// slot cannot stand for a validated chain (see ReusableSlot).
// kHeldProbe: a semaphore taken by a successful sem_trywait — CPython's probe of a threading.Lock
// before it blocks — order-checked as a blocking acquisition except against the GIL (CPython blocks
// only after releasing the GIL). Part of the chain: a probe's validated chain does not stand for a
// blocking acquisition's, nor its slot for one.
enum : u8 { kHeldTry = 1, kHeldReentry = 2, kHeldUnchecked = 4, kHeldProbe = 8 };
static_assert(sizeof(HeldLock) == 64, "a held entry is one cache line");
// The address of the sentinel entry below every held array (ThreadState::top).
constexpr uptr kSentinelAddr = 1;

constexpr int kInlineHeld = 16;
// 1024 entries (32 KiB of the thread's state): a PyTorch training step takes a few hundred distinct
// locks; with 256 entries ~350 of its acquisitions a step found their slot taken by another lock and
// searched the registry, with 1024 ~13 (docs/gpu.md, session of 2026-11-28 22:41).
constexpr int kLockCacheSize = 1024;
// The lock cache's slot for `addr`: the bits above the page offset are mixed in, so that locks at the
// same offset of different pages (in page-aligned objects, in glibc's mmapped chunks) do not all
// share one slot (64 such mutexes taken in turn: 33 ns a lock/unlock, 18 ns spread out).
LOCKSAN_ALWAYS_INLINE u32 LockCacheIndex(uptr addr) {
  return static_cast<u32>((addr >> 4) ^ (addr >> 12)) & (kLockCacheSize - 1);
}
constexpr int kChainCacheSize = 1024;
constexpr int kMaxDriverDepth = 8;

struct ThreadState {
  // Hot: touched by every lock operation of this thread only.
  // top = held + the number of held entries (Nheld): the pending slot of an acquisition (ReusableSlot)
  // and, at top[-1], the entry an unlock pops. One word, so that a pop or a push is one store (a signal
  // handler sees the stack before or after it). held[-1] is a sentinel whose address no lock has
  // (kSentinelAddr), so that the release fast path needs no count test.
  HeldLock* top = inline_held;
  u32 held_cap = kInlineHeld;
  HeldLock* held = inline_held;
  u32 Nheld() const { return static_cast<u32>(top - held); }
  void SetNheld(u32 n) { top = held + n; }
  // Slots from reuse_depth up are empty (addr 0; DropReusableFrom). A slot at or above top and below
  // reuse_depth was filled while the slots below it held what they hold now: if its entry is the
  // same lock and was validated (not kHeldUnchecked), it is reused in place (ReusableSlot).
  u32 reuse_depth = 0;
  // Non-zero while an acquisition's end needs more than the common work (EndAcquireInPlace): an outer
  // wait to restore, a fresh lock to forget, acquire_stacks=1. Kept by UpdateEndSlow.
  u8 end_slow = 0;
  // 1 while pthread_mutex_lock's tail path is off (g_mutex_tail clear): beside end_slow, so that the
  // tail path tests both with one compare.
  u8 no_tail = 1;
  // A lock cache entry also keeps the last chain this thread's fill path found validated for the
  // lock (0: none): a lock taken again below the same held locks skips the chain cache, whose line
  // is one more cache miss an acquisition of a cold lock would pay (FillPendingEntry). 32 bytes,
  // aligned: an entry never straddles two lines.
  struct alignas(32) CacheEntry {
    uptr addr;
    LockInfo* info;
    u64 chain;
    u32 gen;
  } lock_cache[kLockCacheSize];
  u64 chain_cache[kChainCacheSize];
  // One more than held_cap: held[held_cap] is never filled (addr 0), so that ReusableSlot may look at
  // *top without a bounds check. Heap arrays (PushHeldSlow) have the same spare slot.
  HeldLock below_inline_held = {kSentinelAddr, 0, 0, 0, 0, nullptr, 0, 0, 0, 0, 0, LockKind::kMutex};
  HeldLock inline_held[kInlineHeld + 1];

  // Identity.
  u32 number = 0;     // T0 is the first thread seen (normally main); never reused
  int tid = 0;
  char name[16] = {};
  u32 creation_stack = 0;
  u32 parent = 0;
  uptr stack_lo = 0, stack_hi = 0;

  // Readable by other threads (watchdog, reports): what this thread waits for right now. The
  // watchdog reads these racily and trusts a wait only when it sees the same wait_seq twice.
  std::atomic<uptr> wait_addr{0};
  std::atomic<u32> wait_seq{0};
  std::atomic<bool> alive{true};
  // wait_addr is the lock's address with bit 0 set for a read (shared) acquisition; wait_lock is
  // its record (the watchdog reads id and kind there, after checking its address).
  std::atomic<LockInfo*> wait_lock{nullptr};
  // A long wait that contains shorter lock calls (take_gil, a synchronising driver call): restored
  // when an inner acquisition ends, so that the watchdog still sees what the thread waits for.
  struct OuterWait {
    uptr addr;  // tagged like wait_addr
    LockInfo* lock;
  } outer_wait = {};

  // Stack dump on request of the watchdog: the thread captures its own stack in a signal handler.
  std::atomic<u32> dump_request{0};
  std::atomic<u32> dump_done{0};
  u32 dump_n = 0;
  uptr dump_pcs[64];
  u32 dump_py_n = 0;
  python::PyFrameRec dump_py[12];

  // CPython: this thread holds the GIL / is inside take_gil (core/gil.cc).
  bool holds_gil = false;
  bool gil_taking = false;
  bool sem_probe = false;  // inside a successful sem_trywait's order check
  // A semaphore whose held entry a failed sem_trywait of this thread's dropped (OnSemTryFailed), and
  // its record's gen then: this thread's own sem_post of it is a release, not a cross-thread one.
  uptr probe_dropped = 0;
  LockInfo* probe_dropped_lock = nullptr;
  u32 probe_dropped_gen = 0;
  LockInfo* fresh_lock = nullptr;  // initialised by this thread, with no acquisition since
  // CUDA (core/cuda.cc).
  bool driver_thread = false;  // created by libcuda: runs host functions and stream callbacks
  bool holds_stream = false;   // holds the CUDA-STREAM pseudo-lock (a host function is running)
  u32 sync_depth = 0;          // driver_depth of the synchronising call in progress, 0 if none
  Acquire sync_acquire;
  Acquire gil_acquire;

  // Driver-API calls in progress (CUPTI), innermost last: the function's name and callback id, and
  // new_locks when it was entered (core/cuda.cc: a call that registered no new lock is "quiet").
  // Read through InnermostDriverCall (core/cuda.h), which drops calls whose exit CUPTI stopped
  // reporting (cuda_calls=adaptive).
  u32 driver_depth = 0;
  const char* driver_calls[kMaxDriverDepth] = {};
  u32 driver_ids[kMaxDriverDepth] = {};
  u32 driver_marks[kMaxDriverDepth] = {};
  u32 new_locks = 0;  // locks this thread registered for the first time (not revived ones)

  ThreadState* next_all = nullptr;  // list of every thread state
  // Slow path (core/gil.cc): the Python stacks this thread captured last, by their frames' keys.
  // Allocated at the first capture; a recycled state keeps it (its entries hold for any thread).
  struct PyStackMemo* py_memo = nullptr;
  // Slow path (core/stack.h): the native stacks of this thread's recent lock calls, by call site and
  // depth. Allocated at first use; a recycled state keeps it, emptied.
  struct StackMemo* stack_memo = nullptr;
  // Slow path: the newest lock id of the chains this thread put in the shared validated-chain set.
  u64 validated_newest = 0;
  // Slow path: chains validated by an order check that made new edges, not yet in the shared set: each
  // goes there when its slot is reused, if the newest lock of the chain still exists (CheckAcquireSlow).
  struct PendingChain {
    u64 chain;
    u64 newest;     // the newest lock id of the chain
    LockInfo* lock;  // its record, and generation then
    u32 gen;
  } pending_chains[32] = {};
  u32 pending_next = 0;
  // Slow path: the stack captured when a lock was registered by an acquisition made while this
  // thread held locks, kept for that acquisition's order check (ResolveLockSlow, CheckAcquireSlow).
  struct SharedCapture {
    u32 n;  // 0: none
    u32 depot;  // the depot id of pcs[0..n), 0 if not stored yet
    u32 seq;
    u32 nheld;
    uptr addr;
    uptr pc;
    uptr pcs[64];  // kMaxStackDepth
  } shared_capture = {};
};
static_assert(offsetof(ThreadState, inline_held) == offsetof(ThreadState, below_inline_held) + sizeof(HeldLock),
              "the sentinel is inline_held[-1]");

// CurrentThread — the calling thread's state, created on first use. nullptr while the runtime is
// not initialised, while the thread is inside the runtime (re-entry), or during thread teardown.
ThreadState* CurrentThreadSlow();
LOCKSAN_ALWAYS_INLINE ThreadState* CurrentThread();

// Per-thread guard against re-entering the runtime (an interceptor called from inside locksan).
// Invariant: `disabled` is not 0 while `ts` is null (a thread starts with kNoState; its state is set
// before kNoState is cleared, and kTornDown is set before the state is dropped), so that the fast
// paths test one word — in_runtime and disabled, together — and not `ts` too.
enum : int { kTornDown = 1, kNoState = 2 };
struct alignas(16) ThreadLocal {
  ThreadState* ts;
  int in_runtime;
  int disabled;  // kNoState: no state yet; kTornDown: being torn down (or the runtime gave up on it)
};
extern __thread ThreadLocal t_local __attribute__((tls_model("initial-exec")));
// Tracking is on for this thread now: it has a state, and is neither inside the runtime nor torn down.
LOCKSAN_ALWAYS_INLINE bool TrackingOn(const ThreadLocal& tl) { return !tl.in_runtime && !tl.disabled; }

LOCKSAN_ALWAYS_INLINE ThreadState* CurrentThread() {
  ThreadLocal& tl = t_local;
  if (LOCKSAN_LIKELY(TrackingOn(tl))) return tl.ts;
  return CurrentThreadSlow();
}

class ScopedInRuntime {
 public:
  ScopedInRuntime() { t_local.in_runtime++; }
  ~ScopedInRuntime() { t_local.in_runtime--; }
};

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

// ParkKey — the acquisition that registers a lock, for reviving a parked node (revive_locks): the
// chain of the held entries below it, its mode and flags.
struct ParkKey {
  u64 below;
  u8 mode;
  u8 flags;
};
// `sp`: the interceptor's frame (CALLER_SP) for the stack memo, 0 if unknown.
LockInfo* ResolveLockSlow(ThreadState* ts, uptr addr, LockKind kind, uptr pc, uptr sp,
                          const ParkKey* revive = nullptr);
void CheckAcquireSlow(ThreadState* ts, Acquire* a);
void PushHeldSlow(ThreadState* ts);
void FreeHeldArray(ThreadState* ts);  // a heap held array (PushHeldSlow), with its sentinel
bool ReleaseSlow(ThreadState* ts, uptr addr);
// OnForeignUnlock — after an unlock call for a lock this thread did not hold (OnRelease returned
// false): if it succeeded (`rc` 0), the holder's entry is stale; report_bad_unlock reports it. For a
// pthread mutex, `prev_owner` is its owner field before the unlock (-1 otherwise; see kWaitTail).
void OnForeignUnlock(ThreadState* ts, uptr addr, int rc, int prev_owner = -1);
// The acquire_stacks flag, read on the fast path.
extern bool g_acquire_stacks __attribute__((visibility("hidden")));
u32 CaptureAcquireStack();

// PublishWait — the thread is about to block on `addr` (record `li`): what the watchdog reads. The
// sequence number changes with every wait (the watchdog trusts a wait seen twice with the same one);
// only this thread writes it, so it is bumped with one instruction where there is one.
LOCKSAN_ALWAYS_INLINE void PublishWait(ThreadState* ts, uptr addr, u8 mode, LockInfo* li) {
  ts->wait_lock.store(li, std::memory_order_relaxed);
#if defined(__x86_64__) || defined(__i386__)
  static_assert(sizeof(ts->wait_seq) == sizeof(u32), "wait_seq is a plain 32-bit word");
  __asm__("incl %0" : "+m"(*reinterpret_cast<u32*>(&ts->wait_seq)));
#else
  ts->wait_seq.store(ts->wait_seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
#endif
  ts->wait_addr.store(addr | mode, std::memory_order_release);
}

// kWaitTail — bit 1 of wait_addr (beside the mode in bit 0): a wait published by the
// pthread_mutex_lock tail path (MutexLockCall, preload/interceptors.cc). That path pushes the held
// entry before the real call and tail-calls it, so nothing runs after the lock is taken: the entry
// is on the held stack while the thread still waits, and the wait stays published after the thread
// got the mutex, until its next lock event. Whoever reads another thread's wait or held stack tells
// the two apart with TailWaitPending (core/detector.cc): the mutex's owner field says who holds it.
constexpr uptr kWaitTail = 2;
// g_mutex_tail — the tail path is on: the mutex_tail_call flag, and glibc's pthread_mutex_t was
// found to record its owner and kind where the fast path reads them (ProbeMutexLayout).
extern bool g_mutex_tail __attribute__((visibility("hidden")));
// ProbeMutexLayout — run once real pthread functions are resolved: whether pthread_mutex_t's
// __data.__owner and __data.__kind behave as the tail path and TailWaitPending assume.
bool ProbeMutexLayout(int (*init)(pthread_mutex_t*, const pthread_mutexattr_t*),
                      int (*lock)(pthread_mutex_t*), int (*unlock)(pthread_mutex_t*));
// EnableMutexTail — at start-up: turns the tail path on if the probe passed and the flag allows it.
void EnableMutexTail(bool layout_ok);
// TailWaitPending — thread `t` (not the caller) published `wait` (its wait_addr) with kWaitTail:
// whether it still waits for that mutex, i.e. its top held entry is the mutex and the mutex's owner
// is not `t`. False when it holds the mutex by now, or moved on (the publication is stale).
bool TailWaitPending(const ThreadState* t, uptr wait);
// HeldEntryIsPending — entry `i` of `t`'s held stack (of `n`) is a tail-path acquisition still
// waiting (see kWaitTail): `t` does not hold that lock yet.
bool HeldEntryIsPending(const ThreadState* t, u32 i, u32 n);

// UpdateEndSlow — recomputes ThreadState::end_slow after outer_wait or fresh_lock changed.
LOCKSAN_ALWAYS_INLINE void UpdateEndSlow(ThreadState* ts) {
  ts->end_slow = (ts->outer_wait.addr != 0) | (ts->fresh_lock != nullptr) | g_acquire_stacks;
  ts->no_tail = !g_mutex_tail;
}

LOCKSAN_ALWAYS_INLINE u64 ChainStep(u64 prev, u64 id, u8 mode, u8 flags) {
  u64 h = (prev ^ (id << 4 | (flags & kHeldProbe) | static_cast<u64>(mode) << 1 | (flags & kHeldTry))) *
          0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}
constexpr u64 kChainSeed = 0x243f6a8885a308d3ULL;

LOCKSAN_ALWAYS_INLINE LockInfo* ResolveLock(ThreadState* ts, uptr addr, LockKind kind, uptr pc, uptr sp) {
  ThreadState::CacheEntry& e = ts->lock_cache[LockCacheIndex(addr)];
  LockInfo* li = e.info;
  if (LOCKSAN_UNLIKELY(e.addr != addr || !li || li->gen.load(std::memory_order_relaxed) != e.gen))
    li = ResolveLockSlow(ts, addr, kind, pc, sp);
  return LOCKSAN_LIKELY(li != &g_untracked) ? li : nullptr;
}

// BeginAcquireQuick — BeginAcquire of a blocking call in its common case, which makes no call: the
// lock in the thread's lock cache and its chain below the held locks validated (nothing held, or in
// the chain cache). Returns false, having written nothing, otherwise.
LOCKSAN_ALWAYS_INLINE bool BeginAcquireQuick(ThreadState* ts, uptr addr, u8 mode, uptr pc, uptr sp, Acquire* a) {
  ThreadState::CacheEntry& e = ts->lock_cache[LockCacheIndex(addr)];
  LockInfo* li = e.info;
  if (LOCKSAN_UNLIKELY(e.addr != addr || !li || li->gen.load(std::memory_order_relaxed) != e.gen ||
                       li == &g_untracked))
    return false;
  u32 n = ts->Nheld();
  u64 chain = ChainStep(n ? ts->held[n - 1].chain : kChainSeed, li->id, mode, 0);
  if (n && ts->chain_cache[(chain >> 7) & (kChainCacheSize - 1)] != chain) return false;
  a->addr = addr;
  a->pc = pc;
  a->sp = sp;
  a->mode = mode;
  a->flags = 0;
  a->lock = li;
  a->chain = chain;
  PublishWait(ts, addr, mode, li);
  return true;
}

// BeginAcquire — before a lock call. For a blocking call, checks the order (and reports) before
// the thread blocks.
LOCKSAN_ALWAYS_INLINE void BeginAcquire(ThreadState* ts, uptr addr, LockKind kind, u8 mode,
                                        bool is_try, uptr pc, uptr sp, Acquire* a) {
  if (!is_try && BeginAcquireQuick(ts, addr, mode, pc, sp, a)) return;
  a->addr = addr;
  a->pc = pc;
  a->sp = sp;
  a->mode = mode;
  a->flags = is_try ? kHeldTry : 0;
  a->lock = ResolveLock(ts, addr, kind, pc, sp);
  if (LOCKSAN_UNLIKELY(!a->lock)) return;
  u64 prev = ts->Nheld() ? ts->held[ts->Nheld() - 1].chain : kChainSeed;
  a->chain = ChainStep(prev, a->lock->id, mode, a->flags);
  if (!is_try && ts->Nheld() &&
      ts->chain_cache[(a->chain >> 7) & (kChainCacheSize - 1)] != a->chain)
    CheckAcquireSlow(ts, a);
  if (!is_try) PublishWait(ts, addr, mode, a->lock);
}

// ---------------------------------------------------------------------------------------------
// In-place acquisition: the fast protocol of the interceptors that make no other lock call between
// the two events (pthread_mutex_*lock, rwlock, spin, sem_*wait). The entry is filled directly in its
// slot *top, unpublished (top is unchanged), so nothing is copied after the lock call:
//   HeldLock* h = BeginAcquireInPlace(ts, addr, kind_fn, mode, is_try, pc, sp);  // nullptr: untracked
//   int rc = real_lock(m);
//   EndAcquireInPlace(ts, h, rc, acquired_if_nonzero, is_try);  // publishes it (top++) on success
// kind_fn() is called only when the lock is not in this thread's lock cache. The thread is marked
// busy (ScopedInRuntime) in between, so no signal handler can use the slot meanwhile.
// ---------------------------------------------------------------------------------------------
// EndAcquireUntracked — after the lock call when BeginAcquireInPlace returned nullptr.
void RestoreOuterWait(ThreadState* ts);
LOCKSAN_ALWAYS_INLINE void EndAcquireUntracked(ThreadState* ts, bool is_try) {
  if (!is_try) {
    if (LOCKSAN_LIKELY(!ts->outer_wait.addr)) ts->wait_addr.store(0, std::memory_order_relaxed);
    else RestoreOuterWait(ts);
  }
}

// CheckPendingSlow — the order check of the pending entry `h` (its chain is not in the cache);
// returns the pending entry (moved if stale entries were dropped), or nullptr if it is not tracked.
HeldLock* CheckPendingSlow(ThreadState* ts, HeldLock* h);

// DropReusableFrom — empties slots [from, reuse_depth) (their entries were filled after other locks
// than the ones now below them) and sets reuse_depth to `from`.
void DropReusableFrom(ThreadState* ts, u32 from);
// SetReuseDepth — slot n was just filled: the slots above it are stale.
LOCKSAN_ALWAYS_INLINE void SetReuseDepth(ThreadState* ts, u32 n) {
  if (LOCKSAN_UNLIKELY(ts->reuse_depth > n + 1)) DropReusableFrom(ts, n + 1);
  ts->reuse_depth = n + 1;
}
// EmptySlotsFrom — DropReusableFrom inline: empties slots [from, reuse_depth) and sets reuse_depth to
// `from`. EmptySlotsFrom(ts, n + 1) is SetReuseDepth(ts, n) for a path that must make no call (the
// mutex fill's common case, preload/interceptors.cc).
LOCKSAN_ALWAYS_INLINE void EmptySlotsFrom(ThreadState* ts, u32 from) {
  for (u32 k = from; k < ts->reuse_depth; k++) ts->held[k].addr = 0;
  ts->reuse_depth = from;
}

// WriteEntry — the fields of held slot h for an acquisition of lock li (its record's gen, its chain):
// everything but the release epoch, written before the slot is published.
LOCKSAN_ALWAYS_INLINE void WriteEntry(HeldLock* h, uptr addr, LockInfo* li, u64 id, u32 gen, u64 chain, u8 mode,
                                      u8 flags, uptr pc, uptr sp) {
  h->addr = addr;
  h->id = id;
  h->chain = chain;
  h->pc = pc;
  h->sp = sp;
  h->lock = li;
  h->gen = gen;
  h->stack = 0;
  h->mode = mode;
  h->flags = flags;
  h->kind = li->kind;
  h->libcuda = li->in_libcuda;
}

// FillPendingEntry — the pending slot h (depth n) filled for lock li (its record's gen, the chain
// below), then order-checked: the part of FillPending after the lock is known.
// `entry_chain`: the lock cache entry's last validated chain (see ThreadState::CacheEntry).
LOCKSAN_ALWAYS_INLINE HeldLock* FillPendingEntry(ThreadState* ts, HeldLock* h, u32 n, uptr addr, LockInfo* li,
                                                 u32 gen, u64 prev, u8 mode, u8 flags, uptr pc, uptr sp,
                                                 u64* entry_chain) {
  u64 id = li->id;
  u64 chain = ChainStep(prev, id, mode, flags);
  WriteEntry(h, addr, li, id, gen, chain, mode, flags, pc, sp);
  if (!(flags & kHeldTry) && n && *entry_chain != chain) {
    if (LOCKSAN_UNLIKELY(ts->chain_cache[(chain >> 7) & (kChainCacheSize - 1)] != chain)) {
      h = CheckPendingSlow(ts, h);
      if (!h) return nullptr;
      n = static_cast<u32>(h - ts->held);
    } else {
      *entry_chain = chain;
    }
  }
  SetReuseDepth(ts, n);  // the slots above were filled after other locks than these
  // Marked here, after the fresh-lock check, rather than once the call succeeded: an acquisition
  // reaches the real call only through here, and one that fails (busy, timed out) means that another
  // thread has the lock. A slot reused in place was filled here before.
  if (LOCKSAN_UNLIKELY(!li->acquired)) li->acquired = true;
  return h;
}

// FillPendingNew — FillPending for a lock missing from the thread's lock cache (new, most often): it
// is registered (or found) and then order-checked in one scope of blocked signals (a pair of
// sigprocmask calls instead of two, once the program has signal handlers of its own). Out of line,
// so that FillPending's common case keeps a small frame.
HeldLock* FillPendingNew(ThreadState* ts, uptr addr, LockKind kind, u8 mode, u8 flags, uptr pc, uptr sp);

// FillPendingInline — the pending entry for a lock found through the lock cache (or registered now).
// Inline in the interceptors' out-of-line fill paths (FillCall, MutexFillCall: one frame for the
// whole fill); FillPending is its out-of-line copy.
template <typename KindFn>
LOCKSAN_ALWAYS_INLINE HeldLock* FillPendingInline(ThreadState* ts, uptr addr, KindFn kind_fn, u8 mode,
                                                  u8 flags, uptr pc, uptr sp) {
  u32 n = ts->Nheld();
  if (LOCKSAN_UNLIKELY(n == ts->held_cap)) PushHeldSlow(ts);
  ThreadState::CacheEntry& e = ts->lock_cache[LockCacheIndex(addr)];
  LockInfo* li = e.info;
  u32 gen = e.gen;
  if (LOCKSAN_UNLIKELY(e.addr != addr || !li || li->gen.load(std::memory_order_relaxed) != gen))
    return FillPendingNew(ts, addr, kind_fn(), mode, flags, pc, sp);
  if (LOCKSAN_UNLIKELY(li == &g_untracked)) return nullptr;
  HeldLock* h = ts->held + n;
  return FillPendingEntry(ts, h, n, addr, li, gen, n ? h[-1].chain : kChainSeed, mode, flags, pc, sp,
                          &e.chain);
}

// FillPending — FillPendingInline out of line: keeps the registers of the in-place path few (fewer
// saved in every interceptor).
template <typename KindFn>
LOCKSAN_NOINLINE HeldLock* FillPending(ThreadState* ts, uptr addr, KindFn kind_fn, u8 mode, u8 flags,
                                       uptr pc, uptr sp) {
  return FillPendingInline(ts, addr, kind_fn, mode, flags, pc, sp);
}

// ReusableSlot — the slot *top (held[Nheld()]) if it can be reused in place for this acquisition, else
// nullptr (then FillPending fills it). The slot still holds the entry of the last acquisition at this
// depth. If that was the same lock (same record, not recycled since), with the same locks held below
// it (a slot whose lower slots changed since it was filled is empty: DropReusableFrom), and its order
// check was done or not needed (no kHeldUnchecked), the entry is already right: only the call site
// changes. This is the validated-chain cache keyed by the slot, without hashing. (*top exists:
// the spare slot held[held_cap] is always empty; a slot with an address was filled, so its lock is
// set.) The caller marks the thread busy first (a signal handler must not use the slot in between).
LOCKSAN_ALWAYS_INLINE HeldLock* ReusableSlotFlags(ThreadState* ts, uptr addr, u8 mode, u8 flags) {
  HeldLock* h = ts->top;
  static_assert(offsetof(HeldLock, flags) == offsetof(HeldLock, mode) + 1, "mode, flags adjacent");
  u16 mode_flags;  // mode and flags in one compare, the reentry flag masked
  if (LOCKSAN_LIKELY(h->addr == addr &&
                     (__builtin_memcpy(&mode_flags, &h->mode, sizeof mode_flags),
                      (mode_flags & static_cast<u16>(~(u16{kHeldReentry} << 8))) ==
                          (mode | u16{flags} << 8)) &&
                     h->lock->gen.load(std::memory_order_relaxed) == h->gen))
    return h;
  return nullptr;
}
LOCKSAN_ALWAYS_INLINE HeldLock* ReusableSlot(ThreadState* ts, uptr addr, u8 mode, bool is_try) {
  return ReusableSlotFlags(ts, addr, mode, is_try ? kHeldTry : 0);
}

template <typename KindFn>
LOCKSAN_ALWAYS_INLINE HeldLock* BeginAcquireInPlace(ThreadState* ts, uptr addr, KindFn kind_fn,
                                                    u8 mode, bool is_try, uptr pc, uptr sp) {
  HeldLock* h = ReusableSlot(ts, addr, mode, is_try);
  if (LOCKSAN_LIKELY(h != nullptr)) {
    h->pc = pc;
  } else {
    h = FillPending(ts, addr, kind_fn, mode, is_try ? kHeldTry : 0, pc, sp);
    if (!h) return nullptr;
  }
  if (!is_try) PublishWait(ts, addr, mode, h->lock);
  return h;
}

// `rc` is the lock call's result; acquired_if_nonzero(rc) says whether a non-zero one took the lock.
// EndAcquireInPlaceSlow — EndAcquireInPlace while ThreadState::end_slow is set (out of line).
// Returns `rc` (so that the caller keeps nothing of its own across the call).
int EndAcquireInPlaceSlow(ThreadState* ts, HeldLock* h, int rc, bool acquired, bool is_try);

// Returns `rc`.
template <typename AcquiredIfNonzero>
LOCKSAN_ALWAYS_INLINE int EndAcquireInPlace(ThreadState* ts, HeldLock* h, int rc,
                                            AcquiredIfNonzero acquired_if_nonzero, bool is_try) {
  // One test for the rare cases (an outer wait to restore, a fresh lock, acquire_stacks=1): the
  // acquisition's end is in the critical section the program waits on.
  if (LOCKSAN_UNLIKELY(ts->end_slow))
    return EndAcquireInPlaceSlow(ts, h, rc, rc == 0 || acquired_if_nonzero(rc), is_try);
  if (!is_try) ts->wait_addr.store(0, std::memory_order_relaxed);
  if (LOCKSAN_UNLIKELY(rc != 0) && !acquired_if_nonzero(rc)) return rc;
  // Read once the lock is ours: an unlock by a non-holder while this thread waited is not about us.
  h->epoch = h->lock->release_epoch.load(std::memory_order_relaxed);
  // Publish the filled entry: a signal handler that runs later must never see a half-written one.
  std::atomic_signal_fence(std::memory_order_release);
  ts->top = h + 1;
  return rc;
}

// SetOuterWait — the wait just published by BeginAcquire becomes the outer wait (or none: clear).
// Inline: every GIL take sets it and clears it.
LOCKSAN_ALWAYS_INLINE void SetOuterWait(ThreadState* ts, bool set) {
  if (!set) {
    ts->outer_wait = {};
  } else {
    ts->outer_wait.addr = ts->wait_addr.load(std::memory_order_relaxed);
    ts->outer_wait.lock = ts->wait_lock.load(std::memory_order_relaxed);
  }
  UpdateEndSlow(ts);
}

// EndAcquire — after the lock call; `acquired` is whether the call took the lock.
LOCKSAN_ALWAYS_INLINE void EndAcquire(ThreadState* ts, Acquire* a, bool acquired) {
  if (!(a->flags & kHeldTry)) {
    if (LOCKSAN_LIKELY(!ts->outer_wait.addr)) ts->wait_addr.store(0, std::memory_order_relaxed);
    else RestoreOuterWait(ts);
  }
  if (!acquired || LOCKSAN_UNLIKELY(!a->lock)) return;
  if (LOCKSAN_UNLIKELY(!a->lock->acquired)) a->lock->acquired = true;
  if (LOCKSAN_UNLIKELY(ts->fresh_lock != nullptr) && a->lock->kind != LockKind::kGil) {
    ts->fresh_lock = nullptr;
    UpdateEndSlow(ts);
  }
  if (LOCKSAN_UNLIKELY(ts->Nheld() == ts->held_cap)) PushHeldSlow(ts);
  // Fill the entry, then publish it: a signal handler that runs on this thread in between (and
  // locks something) must never see a half-written entry.
  HeldLock& h = *ts->top;
  h.addr = a->addr;
  h.id = a->lock->id;
  h.kind = a->lock->kind;
  h.lock = a->lock;
  h.gen = a->lock->gen.load(std::memory_order_relaxed);
  h.epoch = a->lock->release_epoch.load(std::memory_order_relaxed);
  h.chain = a->chain;
  h.pc = a->pc;
  h.mode = a->mode;
  h.flags = a->flags | kHeldUnchecked;  // this protocol's entries are never reused in place
  h.libcuda = a->lock->in_libcuda;
  SetReuseDepth(ts, ts->Nheld());
  h.stack = LOCKSAN_UNLIKELY(g_acquire_stacks) ? CaptureAcquireStack() : 0;
  std::atomic_signal_fence(std::memory_order_release);
  ts->top = &h + 1;
}

// OnRelease — before an unlock call. Returns false when this thread does not hold the lock.
LOCKSAN_ALWAYS_INLINE bool OnRelease(ThreadState* ts, uptr addr) {
  HeldLock* top = ts->top;
  if (LOCKSAN_LIKELY(top[-1].addr == addr)) {
    std::atomic_signal_fence(std::memory_order_acquire);
    ts->top = top - 1;
    return true;
  }
  return ReleaseSlow(ts, addr);
}

// OnSemInit — sem_init: a semaphore initialised to 1 is a lock (a binary semaphore, e.g. Python's
// threading.Lock); any other is not tracked.
void OnSemInit(uptr addr, unsigned value);
// OnSemTryFailed — a failed sem_trywait. If this thread holds the semaphore, its entry is dropped:
// the try failed because the semaphore is taken, and a thread that probes a semaphore it holds
// either polls one that another thread will release (CPython's Condition.wait(0) on its waiter
// lock, which this thread never releases) or asks whether it holds it (Condition._is_owned on a
// Lock, before every notify and wait, which this thread releases later: OnSemPost knows it by
// probe_dropped). The lock keeps its identity either way.
void OnSemTryFailed(ThreadState* ts, uptr addr);
// TakeProbeDrop — `addr` is the semaphore whose entry this thread's failed probe dropped, and still
// that semaphore (its record's gen unchanged since); the record of the drop is cleared either way.
LOCKSAN_ALWAYS_INLINE bool TakeProbeDrop(ThreadState* ts, uptr addr) {
  if (ts->probe_dropped != addr) return false;
  ts->probe_dropped = 0;
  return ts->probe_dropped_lock->gen.load(std::memory_order_relaxed) == ts->probe_dropped_gen;
}
// OnSemPost — sem_post: a release by the holder, or a cross-thread release (see OnCrossRelease).
// Compares lock identity, not only the address: a stale entry of an earlier semaphore at the same
// (reused) address is not this one.
void OnSemPost(ThreadState* ts, uptr addr);
// OnCrossRelease — a post by a thread that did not take the semaphore: it is used as a signal, not
// as a lock, and is forgotten (see docs/design.md, "Semaphores").
void OnCrossRelease(ThreadState* ts, uptr addr);

// OnLockInit / OnLockDestroy — (re)initialisation and destruction: the address becomes a new lock.
void OnLockInit(uptr addr, LockKind kind);
void OnLockDestroy(uptr addr);
// ForgetRange — every lock inside [lo, hi) is forgotten (freed heap block, exited thread's stack).
void ForgetRange(uptr lo, uptr hi);
// MayHoldLocks — cheap filter for free(): could [lo, hi) contain a known lock?
bool MayHoldLocks(uptr lo, uptr hi);

// Live locks per page (core/detector.cc, "Live locks per page"): 2^15 hashed slots, each tagged with
// its page (page + 1), kSlotCollided (pages that share the slot), or 0 (no live lock), with a bitmap
// of the 64-byte lines where live locks start. Here so that free() tests a block's pages inline.
constexpr uptr kPageShift = 12;
constexpr u64 kSlotCollided = ~u64{0};
// A tagged slot (the page and line tables) counts for one key (tag key + 1), for several that hash
// to it (kSlotCollided), or for none (0).
LOCKSAN_ALWAYS_INLINE bool SlotCountsFor(u64 tag, u64 key) { return tag == key + 1 || tag == kSlotCollided; }
constexpr u32 kLivePageSlots = 1u << 15;
struct alignas(16) LivePage {
  std::atomic<u64> tag;    // page + 1, kSlotCollided, or 0 (no live lock)
  std::atomic<u64> lines;  // bit i: a live lock starts in line i of the page (of either page if collided)
};
extern LivePage g_live_pages[kLivePageSlots] __attribute__((visibility("hidden")));
// A multiplicative (Fibonacci) hash: consecutive pages land far apart, in 3 instructions (free()
// computes it inline for every block).
LOCKSAN_ALWAYS_INLINE u32 LivePageIndex(uptr page) {
  static_assert(kLivePageSlots == 1u << 15, "the shift below takes the top 15 bits");
  return static_cast<u32>((page * 0x9e3779b97f4a7c15ULL) >> (64 - 15));
}
// g_live_page_bits — bit i set while slot i of g_live_pages counts for a page (its tag is not 0):
// free()'s first test reads this 4 KiB summary, and a slot of the 512 KiB table only where its bit is
// set. A program's own work between its frees (a PyTorch training step frees ~1,800 blocks) evicts
// a large table from the caches; 64 lines read that often stay in them.
extern std::atomic<u64> g_live_page_bits[kLivePageSlots / 64] __attribute__((visibility("hidden")));
// A diagnostic build (-DLOCKSAN_FREE_COUNTERS) counts free()'s filter at work — blocks tested, page
// tests (MayHoldLocks's) whose summary bit was set, of those whose slot counted for the page, blocks
// the inline line test passed on to MayHoldLocks — and prints the counts at exit with verbosity=1.
// Off in every other build.
#ifdef LOCKSAN_FREE_COUNTERS
extern std::atomic<u64> g_free_counts[4];
#define LOCKSAN_FREE_COUNT(i) g_free_counts[i].fetch_add(1, std::memory_order_relaxed)
#else
#define LOCKSAN_FREE_COUNT(i) ((void)0)
#endif
// PageBitSet — the page's summary bit is set: the page may have a live lock.
LOCKSAN_ALWAYS_INLINE bool PageBitSet(uptr page) {
  u32 i = LivePageIndex(page);
  return g_live_page_bits[i / 64].load(std::memory_order_relaxed) & (u64{1} << (i % 64));
}
// PageMayHoldLocks — the summary bit, then the page's slot: the page has a live lock (or shares the
// slot with one that has).
LOCKSAN_ALWAYS_INLINE bool PageMayHoldLocks(uptr page) {
  if (!PageBitSet(page)) return false;
  LOCKSAN_FREE_COUNT(1);
  bool counts = SlotCountsFor(g_live_pages[LivePageIndex(page)].tag.load(std::memory_order_relaxed), page);
  if (counts) LOCKSAN_FREE_COUNT(2);
  return counts;
}
// Set once the runtime is initialised, if detect_heap_reuse is on: free() looks for locks.
extern bool g_free_filter __attribute__((visibility("hidden")));

// g_line_hints — free()'s second test, after the page's summary bit: 4,096 words (32 KiB), word
// LineHintIndex(page) the OR of the
// line bitmaps (bit i: a live lock starts in the page's 64-byte line i) of the pages that hash to it.
// A block none of whose lines has its bit holds no live lock, whatever page shares the word. In a
// PyTorch training step three frees in four are of blocks in a page with a live lock (docs/gpu.md):
// a test by page sent them all to the 512 KiB page table; by line, most are answered here.
constexpr u32 kLineHintLog = 12;
extern std::atomic<u64> g_line_hints[1u << kLineHintLog] __attribute__((visibility("hidden")));
LOCKSAN_ALWAYS_INLINE u32 LineHintIndex(uptr page) {
  return static_cast<u32>(((page ^ 0x5bd1e995u) * 0x9e3779b97f4a7c15ULL) >> (64 - kLineHintLog));
}
// LinesMayHoldLocks — [lo, hi), within the one page `page`, may hold the start of a live lock.
LOCKSAN_ALWAYS_INLINE bool LinesMayHoldLocks(uptr page, uptr lo, uptr hi) {
  u32 l0 = static_cast<u32>((lo >> 6) & 63), l1 = static_cast<u32>(((hi - 1) >> 6) & 63);
  u64 mask = (~u64{0} >> (63 - l1)) & (~u64{0} << l0);
  return g_line_hints[LineHintIndex(page)].load(std::memory_order_relaxed) & mask;
}

// PagePartMayHoldLocks — [lo, hi), within `page`: the summary bit (4 KiB, which rejects most blocks
// of most heaps), then the line hints (32 KiB, which reject most of the rest).
LOCKSAN_ALWAYS_INLINE bool PagePartMayHoldLocks(uptr page, uptr lo, uptr hi) {
  return PageBitSet(page) && LinesMayHoldLocks(page, lo, hi);
}

// FreedBlockMayHoldLocks — MayHoldLocks with its most common answers inline: a block within two
// pages, none of whose lines has a live lock's start, holds none.
// FreedBlockTest is the same test, not counted (for a caller that counted the block already).
LOCKSAN_ALWAYS_INLINE bool FreedBlockTest(uptr lo, uptr hi);
LOCKSAN_ALWAYS_INLINE bool FreedBlockMayHoldLocks(uptr lo, uptr hi) {
  LOCKSAN_FREE_COUNT(0);
  return FreedBlockTest(lo, hi);
}
LOCKSAN_ALWAYS_INLINE bool FreedBlockTest(uptr lo, uptr hi) {
  uptr p0 = lo >> kPageShift, p1 = (hi - 1) >> kPageShift;
  if (LOCKSAN_LIKELY(p1 == p0)) {
    if (!PagePartMayHoldLocks(p0, lo, hi)) return false;
  } else if (p1 == p0 + 1 && hi > lo) {
    if (!PagePartMayHoldLocks(p0, lo, p1 << kPageShift) && !PagePartMayHoldLocks(p1, p1 << kPageShift, hi))
      return false;
  }
  LOCKSAN_FREE_COUNT(3);
  return MayHoldLocks(lo, hi);
}

// Threads.
struct ThreadStart;  // opaque: created by OnThreadCreate in the parent, consumed by the child
ThreadStart* OnThreadCreate(uptr pc);
void OnThreadStart(ThreadStart* st);  // in the child, first thing
void OnThreadExit();                  // in the child, at pthread exit (key destructor)
void OnThreadCreateFailed(ThreadStart* st);
void SetCurrentThreadName(const char* name);

// Process.
void InitRuntime();         // idempotent; called from the constructor and lazily
bool RuntimeInitialized();
void ForkBefore();
void ForkAfterParent();
void ForkAfterChild();
void Finalize();            // atexit: summary, exit code
const Flags& GetFlags();

// Statistics (bench/tests, verbosity=1 at exit).
struct Stats {
  size_t locks_live, locks_total, edges, back_edges, threads, stacks;
  size_t memory_bytes, graph_bytes, depot_bytes;
  u64 slow_checks, searches, visited, reports;
  u64 revived;        // new locks that took a parked node back (revive_locks)
  size_t parked;      // nodes parked now
  u64 frees_forget;   // ForgetRange calls (freed memory, unloaded libraries, exited threads' stacks)
  u64 frees_found;    // ... of which found a lock to forget
  u64 registry_lookups;  // acquisitions that missed the thread's lock cache and searched the registry
  u64 lookups_gen, lookups_evicted, lookups_other, lookups_untaken;  // ... that found it registered
  u64 signal_blocks;  // ScopedBlockSignals scopes that called sigprocmask
  size_t dead_threads;  // records of exited threads kept for reports
  u64 dead_dropped;     // ... and dropped (nothing left named them)
};
Stats GetStats();

}  // namespace locksan
