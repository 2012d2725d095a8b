// core/runtime_mutex.h — the runtime's own lock.
//
// A three-state futex mutex (unlocked / locked / locked with waiters). It never calls a pthread
// function, so it never passes through locksan's own interceptors, and it is safe to use before the
// runtime is initialised (zero-initialised state is "unlocked"). Not recursive. Not async-signal-safe.
#pragma once
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

// NoteSignalHandler — a signal disposition the program installs (sigaction, signal, ...): once it
// has a handler of its own (not SIG_DFL/SIG_IGN), ProgramHasSignalHandlers() is true for good, and
// the runtime blocks signals while it holds its graph lock (a handler that blocks on a program lock
// there could deadlock against a thread waiting for the graph). Until then no program code can run
// in a signal handler, and those sigprocmask calls are skipped. InitRuntime looks at the
// dispositions present at start-up. CPython's own C handlers do not count (they take no lock).
void NoteSignalHandler(uptr handler);
bool ProgramHasSignalHandlers();

// ScopedBlockSignals — blocks every blockable signal for the scope. Held around the runtime's
// longer critical sections: a program's signal handler that locks its own mutexes must never run on
// a thread that holds a runtime lock another thread's handler may be waiting for.
class ScopedBlockSignals {
 public:
  // `active` false: does nothing.
  explicit ScopedBlockSignals(bool active = true);
  ~ScopedBlockSignals();
  ScopedBlockSignals(const ScopedBlockSignals&) = delete;
  ScopedBlockSignals& operator=(const ScopedBlockSignals&) = delete;

 private:
  unsigned long old_[16];  // a sigset_t
  bool active_;
};

class RuntimeLockGuard {
 public:
  explicit RuntimeLockGuard(RuntimeMutex* m) : m_(m) { m_->Lock(); }
  ~RuntimeLockGuard() { m_->Unlock(); }
  RuntimeLockGuard(const RuntimeLockGuard&) = delete;
  RuntimeLockGuard& operator=(const RuntimeLockGuard&) = delete;

 private:
  RuntimeMutex* m_;
};

}  // namespace locksan
