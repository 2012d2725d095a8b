#include "core/runtime_mutex.h"

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

static_assert(sizeof(sigset_t) <= sizeof(unsigned long) * 16, "sigset_t fits");

ScopedBlockSignals::ScopedBlockSignals() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, reinterpret_cast<sigset_t*>(old_));
}

ScopedBlockSignals::~ScopedBlockSignals() {
  pthread_sigmask(SIG_SETMASK, reinterpret_cast<sigset_t*>(old_), nullptr);
}

}  // namespace locksan
