#include "core/runtime_mutex.h"

#include "core/stack.h"

#include <dlfcn.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>

namespace locksan {

static long Futex(std::atomic<int>* addr, int op, int val) {
  return syscall(SYS_futex, reinterpret_cast<int*>(addr), op | FUTEX_PRIVATE_FLAG, val, nullptr,
                 nullptr, 0);
}

void RuntimeMutex::LockSlow(int c) {
  // Spin briefly: runtime critical sections are short.
  for (int i = 0; i < 100; i++) {
    c = 0;
    if (state_.compare_exchange_weak(c, 1, std::memory_order_acquire)) return;
    __builtin_ia32_pause();
  }
  if (c != 2) c = state_.exchange(2, std::memory_order_acquire);
  while (c != 0) {
    Futex(&state_, FUTEX_WAIT, 2);
    c = state_.exchange(2, std::memory_order_acquire);
  }
}

void RuntimeMutex::Wake() { Futex(&state_, FUTEX_WAKE, 1); }

namespace {
std::atomic<bool> g_program_handlers{false};
}  // namespace

// InCpythonRuntime — whether `handler` is code of the CPython runtime (libpython, or a statically
// linked interpreter's executable). CPython's C-level handlers take no lock: signalmodule's handler
// (behind every signal.signal(), Python's SIGINT) sets flags and writes to the wakeup fd;
// faulthandler's write() a traceback. Python-level handlers run later, in the eval loop, not in the
// signal's context. (dladdr and dlsym take the loader lock: this runs only until the first other
// handler is seen, and not while a program thread is inside dl_iterate_phdr.)
bool InCpythonRuntime(uptr handler) {
  LoaderLockScope loader;  // backs off while a program thread is inside dl_iterate_phdr
  if (!loader.ok()) return false;  // then the handler counts: signals are blocked (the safe side)
  void* probe = dlsym(RTLD_DEFAULT, "Py_IsInitialized");
  if (!probe) return false;
  Dl_info a, b;
  if (!dladdr(reinterpret_cast<void*>(handler), &a) || !dladdr(probe, &b)) return false;
  return a.dli_fbase && a.dli_fbase == b.dli_fbase;
}

// SynchronousFaultSignal — a signal the kernel raises on the thread whose instruction faulted. Its
// handler interrupts the runtime only if the runtime's own code faults (then the process is lost
// anyway: a blocked fault signal kills it) or if someone sends it with kill(); blocking signals
// around the lock graph does not protect against the first and is not worth a pair of system calls
// per slow path for the second. PyTorch's DataLoader workers install such handlers (SIGSEGV, SIGBUS,
// SIGFPE), as do crash reporters.
bool SynchronousFaultSignal(int sig) {
  switch (sig) {
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
      return true;
    default:
      return false;
  }
}

void NoteSignalHandler(int sig, uptr handler) {
  // SIG_DFL 0, SIG_IGN 1, SIG_HOLD 2, SIG_ERR -1: no program code runs.
  if (handler <= 2 || handler == ~uptr{0}) return;
  if (SynchronousFaultSignal(sig)) return;
  if (g_program_handlers.load(std::memory_order_relaxed)) return;
  if (InCpythonRuntime(handler)) return;
  g_program_handlers.store(true, std::memory_order_seq_cst);
}

namespace {
std::atomic<bool> g_wrapped_any{false};  // a program handler runs behind SignalTrampoline
std::atomic<u64> g_signal_blocks{0};
std::atomic<u64> g_deferred{0};
}  // namespace

bool ProgramHasSignalHandlers() {
  return g_program_handlers.load(std::memory_order_relaxed) || g_wrapped_any.load(std::memory_order_relaxed);
}
bool SignalsMasked() { return g_program_handlers.load(std::memory_order_relaxed); }
bool SignalsDeferred() { return g_wrapped_any.load(std::memory_order_relaxed); }
u64 SignalBlockCount() { return g_signal_blocks.load(std::memory_order_relaxed); }
u64 DeferredSignalCount() { return g_deferred.load(std::memory_order_relaxed); }

static_assert(sizeof(sigset_t) <= sizeof(unsigned long) * 16, "sigset_t fits");

namespace {
// Nesting depth of this thread's active ScopedBlockSignals scopes: while it is above 0 the thread is
// in a runtime critical section. Changed by this thread only; a signal handler that interrupts a
// change sees the old or the new value and leaves it as it found it.
__thread int t_block_depth __attribute__((tls_model("initial-exec")));

// ---------------------------------------------------------------------------------------------
// Deferred program handlers. A handler the program installs through sigaction() or signal() is
// installed behind SignalTrampoline: outside the runtime's critical sections the trampoline calls it
// at once; inside one it records the signal (number and siginfo) and returns, and the scope's end
// sends it again to the thread (rt_tgsigqueueinfo, siginfo kept), so the handler runs right after the
// critical section, as it would have had signals been blocked, without a pair of sigprocmask calls
// per critical section.
// ---------------------------------------------------------------------------------------------
struct ProgramAction {
  std::atomic<uptr> fn{0};
  std::atomic<int> flags{0};  // the program's sa_flags (SA_SIGINFO: how to call fn)
};
ProgramAction g_actions[NSIG];

constexpr int kMaxPending = 8;
struct PendingSignal {
  int sig;  // 0: slot not (yet) written
  siginfo_t info;
};
__thread PendingSignal t_pending[kMaxPending] __attribute__((tls_model("initial-exec")));
__thread int t_npending __attribute__((tls_model("initial-exec")));  // slots reserved
__thread u64 t_overflow __attribute__((tls_model("initial-exec")));  // deferred without a slot (bit sig-1)

void SignalTrampoline(int sig, siginfo_t* info, void* uc) {
  if (sig <= 0 || sig >= NSIG) return;
  if (t_block_depth > 0) {
    // A trampoline may interrupt another: reserve the slot first, fill it, then mark it written.
    int i = __atomic_fetch_add(&t_npending, 1, __ATOMIC_RELAXED);
    if (i < kMaxPending) {
      t_pending[i].info = *info;
      std::atomic_signal_fence(std::memory_order_seq_cst);
      t_pending[i].sig = sig;
    } else if (sig <= 64) {
      __atomic_fetch_or(&t_overflow, u64{1} << (sig - 1), __ATOMIC_RELAXED);
    }
    g_deferred.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  uptr fn = g_actions[sig].fn.load(std::memory_order_acquire);
  int flags = g_actions[sig].flags.load(std::memory_order_relaxed);
  if (fn <= 2 || fn == ~uptr{0}) return;  // not a handler (a stale entry)
  if (flags & SA_SIGINFO)
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(fn)(sig, info, uc);
  else
    reinterpret_cast<void (*)(int)>(fn)(sig);
}

// DeliverDeferred — at the end of the outermost critical section: the signals deferred meanwhile go
// to this thread again. Signals are blocked while the slots are emptied and the signals are queued;
// the kernel delivers them (to the trampoline, now outside any critical section) when they are
// unblocked. Rare: only when a signal landed in a critical section.
void DeliverDeferred() {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int n = t_npending < kMaxPending ? t_npending : kMaxPending;
  PendingSignal local[kMaxPending];
  int m = 0;
  for (int i = 0; i < n; i++)
    if (t_pending[i].sig) {
      local[m++] = t_pending[i];
      t_pending[i].sig = 0;
    }
  t_npending = 0;
  u64 overflow = t_overflow;
  t_overflow = 0;
  pid_t pid = getpid();
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  for (int i = 0; i < m; i++) syscall(SYS_rt_tgsigqueueinfo, pid, tid, local[i].sig, &local[i].info);
  for (int sig = 1; overflow; sig++, overflow >>= 1)
    if (overflow & 1) syscall(SYS_tgkill, pid, tid, sig);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}
}  // namespace

uptr SignalTrampolineAddress() { return reinterpret_cast<uptr>(&SignalTrampoline); }

bool WrapSignalAction(int sig, const struct sigaction* act, struct sigaction* out) {
  if (sig <= 0 || sig >= NSIG || SynchronousFaultSignal(sig)) return false;
  uptr fn = reinterpret_cast<uptr>(act->sa_handler);  // sa_handler and sa_sigaction share a union
  if (fn <= 2 || fn == ~uptr{0} || fn == SignalTrampolineAddress()) return false;
  // SA_RESETHAND: the disposition is reset before the trampoline runs, so a deferred signal would meet
  // the default action; such handlers keep the blocking instead.
  if (act->sa_flags & SA_RESETHAND) return false;
  if (InCpythonRuntime(fn)) return false;  // takes no lock: installed as it is (NoteSignalHandler)
  g_actions[sig].flags.store(act->sa_flags, std::memory_order_relaxed);
  g_actions[sig].fn.store(fn, std::memory_order_release);
  g_wrapped_any.store(true, std::memory_order_seq_cst);
  *out = *act;
  out->sa_sigaction = SignalTrampoline;
  out->sa_flags |= SA_SIGINFO;
  return true;
}

SavedSignalAction SaveSignalAction(int sig) {
  SavedSignalAction s{0, 0};
  if (sig > 0 && sig < NSIG) {
    s.fn = g_actions[sig].fn.load(std::memory_order_acquire);
    s.flags = g_actions[sig].flags.load(std::memory_order_relaxed);
  }
  return s;
}

void UnwrapSignalAction(const SavedSignalAction& before, struct sigaction* old) {
  if (reinterpret_cast<uptr>(old->sa_handler) != SignalTrampolineAddress()) return;
  old->sa_handler = reinterpret_cast<sighandler_t>(before.fn);
  // The kernel's flags (glibc's SA_RESTORER included, as the program would see them), with the
  // program's own SA_SIGINFO: the trampoline added it.
  old->sa_flags = (old->sa_flags & ~SA_SIGINFO) | (before.flags & SA_SIGINFO);
}

void ClearDeferredSignalsInChild() {
  for (PendingSignal& p : t_pending) p.sig = 0;
  t_npending = 0;
  t_overflow = 0;
}

void ScopedBlockSignals::BeginActive() {
  counted_ = true;
  if (t_block_depth > 0) {
    t_block_depth++;
    return;
  }
  if (!g_program_handlers.load(std::memory_order_relaxed)) {
    // Only deferred handlers: counting is enough (SignalTrampoline defers what lands in here).
    t_block_depth = 1;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    return;
  }
  // Mask first, then count: a handler that runs in between sees depth 0 and masks for itself.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, reinterpret_cast<sigset_t*>(old_));
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_block_depth = 1;
  g_signal_blocks.fetch_add(1, std::memory_order_relaxed);
  masked_ = true;
}

void ScopedBlockSignals::End() {
  // Uncount first, then unmask (signals are still blocked while the depth changes).
  t_block_depth--;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (masked_) pthread_sigmask(SIG_SETMASK, reinterpret_cast<sigset_t*>(old_), nullptr);
  else if (t_block_depth == 0 && LOCKSAN_UNLIKELY(t_npending != 0 || t_overflow != 0)) DeliverDeferred();
}

}  // namespace locksan
