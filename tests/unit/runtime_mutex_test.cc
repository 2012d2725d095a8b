// Unit tests of ScopedBlockSignals (nesting: only the outermost scope changes the mask),
// RuntimeLockGuard (signals blocked while a runtime lock is held once the program has handlers that
// cannot be deferred), deferred handlers (the trampoline delays a signal to the end of a critical
// section) and LoaderLockScope (the runtime backs off while a program thread is inside
// dl_iterate_phdr).
#include "core/runtime_mutex.h"
#include "core/stack.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <cstring>

namespace locksan {
namespace {

bool Blocked(int sig) {
  sigset_t cur;
  pthread_sigmask(SIG_SETMASK, nullptr, &cur);
  return sigismember(&cur, sig) == 1;
}

// A program handler that cannot be deferred (as sysv_signal installs): scopes block signals.
void UseMasking() {
  NoteSignalHandler(SIGALRM, 0x1000);
  ASSERT_TRUE(SignalsMasked());
}

TEST(ScopedBlockSignals, NestedScopesRestoreOnlyAtTheOutermost) {
  UseMasking();
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
  UseMasking();
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

// Deferred handlers (no handler that needs masking): a signal that lands in a critical section reaches
// the program's handler at the scope's end, with its siginfo; outside a scope, at once. What the
// program reads back is its own handler.
volatile int g_calls;
volatile int g_value;
volatile int g_code;
void OnSignal(int, siginfo_t* si, void*) {
  g_calls++;
  g_value = si->si_value.sival_int;
  g_code = si->si_code;
}

TEST(DeferredSignals, HandlerRunsAtTheEndOfTheCriticalSection) {
  // Masking is sticky for a process: ctest runs every test in its own process, where it is off.
  if (SignalsMasked()) GTEST_SKIP() << "an earlier test in this process turned signal masking on";
  struct sigaction act, wrapped, old, back;
  memset(&act, 0, sizeof act);
  act.sa_sigaction = OnSignal;
  act.sa_flags = SA_SIGINFO;
  sigemptyset(&act.sa_mask);
  SavedSignalAction before = SaveSignalAction(SIGUSR2);
  ASSERT_TRUE(WrapSignalAction(SIGUSR2, &act, &wrapped));
  EXPECT_EQ(reinterpret_cast<uptr>(wrapped.sa_sigaction), SignalTrampolineAddress());
  ASSERT_EQ(sigaction(SIGUSR2, &wrapped, &old), 0);
  UnwrapSignalAction(before, &old);
  EXPECT_EQ(old.sa_handler, SIG_DFL);
  ASSERT_TRUE(ProgramHasSignalHandlers());
  EXPECT_FALSE(SignalsMasked());

  union sigval v;
  v.sival_int = 41;
  ASSERT_EQ(pthread_sigqueue(pthread_self(), SIGUSR2, v), 0);
  EXPECT_EQ(g_calls, 1) << "outside a critical section the handler runs at once";
  EXPECT_EQ(g_value, 41);
  u64 deferred = DeferredSignalCount();
  {
    ScopedBlockSignals outer(ProgramHasSignalHandlers());
    EXPECT_FALSE(Blocked(SIGUSR2)) << "no sigprocmask for deferred handlers";
    {
      ScopedBlockSignals inner(true);
      v.sival_int = 42;
      ASSERT_EQ(pthread_sigqueue(pthread_self(), SIGUSR2, v), 0);
    }
    EXPECT_EQ(g_calls, 1) << "the handler ran inside the critical section";
  }
  EXPECT_EQ(g_calls, 2) << "the deferred signal was not delivered at the scope's end";
  EXPECT_EQ(g_value, 42);
  EXPECT_EQ(g_code, SI_QUEUE) << "the siginfo was not kept";
  EXPECT_EQ(DeferredSignalCount(), deferred + 1);

  SavedSignalAction now = SaveSignalAction(SIGUSR2);
  ASSERT_EQ(sigaction(SIGUSR2, nullptr, &back), 0);
  UnwrapSignalAction(now, &back);
  EXPECT_EQ(back.sa_sigaction, OnSignal);
  EXPECT_TRUE(back.sa_flags & SA_SIGINFO);
  signal(SIGUSR2, SIG_DFL);
}

TEST(DeferredSignals, NotForFaultSignalsResetHandlersOrTheTrampolineItself) {
  struct sigaction act, out;
  memset(&act, 0, sizeof act);
  act.sa_sigaction = OnSignal;
  act.sa_flags = SA_SIGINFO;
  EXPECT_FALSE(WrapSignalAction(SIGSEGV, &act, &out));
  act.sa_flags = SA_SIGINFO | SA_RESETHAND;
  EXPECT_FALSE(WrapSignalAction(SIGUSR1, &act, &out));
  act.sa_flags = SA_SIGINFO;
  act.sa_handler = SIG_IGN;
  EXPECT_FALSE(WrapSignalAction(SIGUSR1, &act, &out));
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
