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

bool ProgramHasSignalHandlers() { return g_program_handlers.load(std::memory_order_relaxed); }

namespace {
std::atomic<u64> g_signal_blocks{0};
}  // namespace
u64 SignalBlockCount() { return g_signal_blocks.load(std::memory_order_relaxed); }

static_assert(sizeof(sigset_t) <= sizeof(unsigned long) * 16, "sigset_t fits");

namespace {
// Nesting depth of this thread's active ScopedBlockSignals scopes. Written only with every signal
// blocked (or by a handler that restores it before it returns).
__thread int t_block_depth __attribute__((tls_model("initial-exec")));
}  // namespace

ScopedBlockSignals::ScopedBlockSignals(bool active) : counted_(false), masked_(false) { Begin(active); }

void ScopedBlockSignals::Begin(bool active) {
  if (!active || counted_) return;
  counted_ = true;
  if (t_block_depth > 0) {
    t_block_depth++;
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

ScopedBlockSignals::~ScopedBlockSignals() {
  if (!counted_) return;
  // Uncount first, then unmask (signals are still blocked while the depth changes).
  t_block_depth--;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (masked_) pthread_sigmask(SIG_SETMASK, reinterpret_cast<sigset_t*>(old_), nullptr);
}

}  // namespace locksan
