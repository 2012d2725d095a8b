// Unit tests of ScopedBlockSignals (nesting: only the outermost scope changes the mask),
// RuntimeLockGuard (signals blocked while a runtime lock is held once the program has handlers) and
// LoaderLockScope (the runtime backs off while a program thread is inside dl_iterate_phdr).
#include "core/runtime_mutex.h"
#include "core/stack.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

namespace locksan {
namespace {

bool Blocked(int sig) {
  sigset_t cur;
  pthread_sigmask(SIG_SETMASK, nullptr, &cur);
  return sigismember(&cur, sig) == 1;
}

TEST(ScopedBlockSignals, NestedScopesRestoreOnlyAtTheOutermost) {
  ASSERT_FALSE(Blocked(SIGUSR1));
  {
    ScopedBlockSignals outer(true);
    EXPECT_TRUE(Blocked(SIGUSR1));
    {
      ScopedBlockSignals inner(true);
      EXPECT_TRUE(Blocked(SIGUSR1));
      ScopedBlockSignals inactive(false);
      EXPECT_TRUE(Blocked(SIGUSR1));
    }
    EXPECT_TRUE(Blocked(SIGUSR1)) << "an inner scope unblocked signals inside the outer one";
  }
  EXPECT_FALSE(Blocked(SIGUSR1)) << "the outermost scope did not restore the mask";
}

TEST(ScopedBlockSignals, KeepsSignalsTheThreadHadBlocked) {
  sigset_t one, old;
  sigemptyset(&one);
  sigaddset(&one, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &one, &old);
  { ScopedBlockSignals s(true); }
  EXPECT_TRUE(Blocked(SIGUSR2));
  EXPECT_FALSE(Blocked(SIGUSR1));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

TEST(RuntimeLockGuard, BlocksSignalsWhileHeldOnceTheProgramHasHandlers) {
  RuntimeMutex mu;
  // Handlers of fault signals do not count (the flag is sticky: these come first).
  if (!ProgramHasSignalHandlers()) {
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) NoteSignalHandler(sig, 0x1000);
    EXPECT_FALSE(ProgramHasSignalHandlers()) << "a fault signal's handler counted as the program's";
  }
  NoteSignalHandler(SIGALRM, 0x1000);  // any handler address but SIG_DFL/SIG_IGN/SIG_HOLD/SIG_ERR
  ASSERT_TRUE(ProgramHasSignalHandlers());
  {
    RuntimeLockGuard g(&mu);
    EXPECT_TRUE(Blocked(SIGALRM));
    EXPECT_FALSE(mu.TryLock());
  }
  EXPECT_FALSE(Blocked(SIGALRM));
  EXPECT_TRUE(mu.TryLock());
  mu.Unlock();
}

TEST(LoaderLockScope, BacksOffWhileAProgramThreadIterates) {
  {
    LoaderLockScope s;
    EXPECT_TRUE(s.ok());
    // The runtime's own dl_iterate_phdr inside a scope is not a program iteration.
    EXPECT_FALSE(ProgramIterateBegin());
  }
  ASSERT_TRUE(ProgramIterateBegin());  // no scope under way: no wait
  {
    LoaderLockScope s;
    EXPECT_FALSE(s.ok());
    LoaderLockScope unwanted(false);
    EXPECT_FALSE(unwanted.ok());
  }
  ProgramIterateEnd();
  LoaderLockScope s;
  EXPECT_TRUE(s.ok());
}

}  // namespace
}  // namespace locksan
