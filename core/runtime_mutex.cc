#include "core/runtime_mutex.h"

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
// handler is seen.)
bool InCpythonRuntime(uptr handler) {
  void* probe = dlsym(RTLD_DEFAULT, "Py_IsInitialized");
  if (!probe) return false;
  Dl_info a, b;
  if (!dladdr(reinterpret_cast<void*>(handler), &a) || !dladdr(probe, &b)) return false;
  return a.dli_fbase && a.dli_fbase == b.dli_fbase;
}

void NoteSignalHandler(uptr handler) {
  // SIG_DFL 0, SIG_IGN 1, SIG_HOLD 2, SIG_ERR -1: no program code runs.
  if (handler <= 2 || handler == ~uptr{0}) return;
  if (g_program_handlers.load(std::memory_order_relaxed)) return;
  if (InCpythonRuntime(handler)) return;
  g_program_handlers.store(true, std::memory_order_seq_cst);
}

bool ProgramHasSignalHandlers() { return g_program_handlers.load(std::memory_order_relaxed); }

static_assert(sizeof(sigset_t) <= sizeof(unsigned long) * 16, "sigset_t fits");

ScopedBlockSignals::ScopedBlockSignals(bool active) : active_(active) {
  if (!active_) return;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, reinterpret_cast<sigset_t*>(old_));
}

ScopedBlockSignals::~ScopedBlockSignals() {
  if (active_) pthread_sigmask(SIG_SETMASK, reinterpret_cast<sigset_t*>(old_), nullptr);
}

}  // namespace locksan
