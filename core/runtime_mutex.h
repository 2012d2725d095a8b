// core/runtime_mutex.h — the runtime's own lock.
//
// A three-state futex mutex (unlocked / locked / locked with waiters). It never calls a pthread
// function, so it never passes through locksan's own interceptors, and it is safe to use before the
// runtime is initialised (zero-initialised state is "unlocked"). Not recursive. Not async-signal-safe.
#pragma once
#include <signal.h>

#include <atomic>

#include "core/common.h"

namespace locksan {

class RuntimeMutex {
 public:
  constexpr RuntimeMutex() = default;
  RuntimeMutex(const RuntimeMutex&) = delete;
  RuntimeMutex& operator=(const RuntimeMutex&) = delete;

  void Lock() {
    int c = 0;
    if (LOCKSAN_LIKELY(state_.compare_exchange_strong(c, 1, std::memory_order_acquire))) return;
    LockSlow(c);
  }
  bool TryLock() {
    int c = 0;
    return state_.compare_exchange_strong(c, 1, std::memory_order_acquire);
  }
  void Unlock() {
    if (LOCKSAN_UNLIKELY(state_.exchange(0, std::memory_order_release) == 2)) Wake();
  }
  // Reset — after fork(), in the child, where the holder may have been another (now gone) thread.
  void ResetAfterFork() { state_.store(0, std::memory_order_relaxed); }

 private:
  void LockSlow(int c);
  void Wake();
  std::atomic<int> state_{0};
};

// NoteSignalHandler — a signal disposition the program installs that is not deferred (sysv_signal,
// sigset, SA_RESETHAND, defer_signals=0, or present at start-up: InitRuntime looks at those): once it
// is a handler of its own (not SIG_DFL/SIG_IGN), SignalsMasked() is true for good, and the runtime
// blocks signals while it waits for or holds any of its locks, and while it unwinds
// (ScopedBlockSignals). CPython's own C handlers do not count (they take no lock), nor do handlers of
// the synchronous fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS: they run where an
// instruction faulted, not inside the runtime's critical sections).
void NoteSignalHandler(int sig, uptr handler);
// ProgramHasSignalHandlers — program code may run in a signal handler on this process's threads:
// runtime critical sections must keep it out (ScopedBlockSignals), by blocking signals
// (SignalsMasked: a handler that could not be deferred) or by counting the depth for the trampoline
// (SignalsDeferred).
bool ProgramHasSignalHandlers();
bool SignalsMasked();
bool SignalsDeferred();

// Deferred handlers (defer_signals=1): WrapSignalAction — for a sigaction() the program makes with a
// handler of its own (not a fault signal, not SA_RESETHAND, not CPython's), records the handler and
// fills *out with the action to install instead: the same, with SignalTrampoline as the handler
// (SA_SIGINFO). Returns false (nothing recorded) when the handler is to be installed as it is.
bool WrapSignalAction(int sig, const struct sigaction* act, struct sigaction* out);
// The program's handler recorded for `sig` before a sigaction() call (SaveSignalAction), so that the
// old action reported to the program is its own handler and flags, not the trampoline
// (UnwrapSignalAction changes *old only if it is the trampoline).
struct SavedSignalAction {
  uptr fn;
  int flags;
};
SavedSignalAction SaveSignalAction(int sig);
void UnwrapSignalAction(const SavedSignalAction& before, struct sigaction* old);
uptr SignalTrampolineAddress();
// ClearDeferredSignalsInChild — a forked child starts with no pending signal (as the kernel's).
void ClearDeferredSignalsInChild();
// DeferredSignalCount — signals that landed in a critical section and were delivered after it.
u64 DeferredSignalCount();
// SignalBlockCount — how many ScopedBlockSignals scopes masked signals (a pair of sigprocmask calls
// each); for the verbosity=1 statistics.
u64 SignalBlockCount();

// ScopedBlockSignals — a runtime critical section that no program signal handler may run in: every
// blockable signal is blocked for the scope when SignalsMasked(); otherwise the scope is only counted,
// and SignalTrampoline defers a signal that lands in it to the outermost scope's end. A program's
// signal handler that locks its own mutexes must never run on a thread that holds or waits for a
// runtime lock (or the dynamic loader's lock, inside an unwind): another thread's handler, or plain
// code, may hold that program mutex and wait for the runtime lock (a deadlock that cannot happen
// natively). A thread woken to take a RuntimeMutex must not be stopped in a handler either: the
// wake-up was handed to it, and the other waiters sleep until it takes and releases the lock. Scopes nest (a thread-local
// depth): only the outermost changes the mask (or delivers deferred signals), so a slow path that
// holds several runtime locks pays for one pair of sigprocmask calls at most.
class ScopedBlockSignals {
 public:
  // `active` false: does nothing (until Begin); inline, so that an inactive scope costs a test.
  explicit ScopedBlockSignals(bool active = true) : counted_(false), masked_(false) {
    if (active) BeginActive();
  }
  ~ScopedBlockSignals() {
    if (counted_) End();
  }
  // Begin — starts an inactive scope later (a path that turns out to be slow), once; nothing if
  // `active` is false or the scope is already active.
  void Begin(bool active) {
    if (active && !counted_) BeginActive();
  }
  ScopedBlockSignals(const ScopedBlockSignals&) = delete;
  ScopedBlockSignals& operator=(const ScopedBlockSignals&) = delete;

 private:
  void BeginActive();
  void End();
  unsigned long old_[16];  // a sigset_t
  bool counted_;           // this scope counts in the thread's depth
  bool masked_;            // this scope (the outermost) changed the mask
};

// RuntimeLockGuard — holds a RuntimeMutex inside a ScopedBlockSignals scope, from before it starts
// waiting until after it is released, once the program has signal handlers of its own
// (ProgramHasSignalHandlers).
// Threads that never run program handlers (the watchdog blocks every signal) use Lock()/Unlock().
class RuntimeLockGuard {
 public:
  explicit RuntimeLockGuard(RuntimeMutex* m) : no_signals_(ProgramHasSignalHandlers()), m_(m) {
    m_->Lock();
  }
  ~RuntimeLockGuard() { m_->Unlock(); }
  RuntimeLockGuard(const RuntimeLockGuard&) = delete;
  RuntimeLockGuard& operator=(const RuntimeLockGuard&) = delete;

 private:
  ScopedBlockSignals no_signals_;  // constructed first, destroyed last
  RuntimeMutex* m_;
};

}  // namespace locksan
