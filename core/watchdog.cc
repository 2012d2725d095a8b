// core/watchdog.cc — finds real deadlocks while they happen.
//
// A watchdog thread wakes every `watchdog_interval_ms` and reads, racily and without taking
// any lock a watched thread may hold, what every thread waits for (ThreadState::wait_*) and holds
// (ThreadState::held). A wait is trusted only when the same wait (same wait_seq) is seen on two scans
// in a row: a blocked thread does not change its own state, so what it publishes is stable.
//
// Deadlock rule (the AND model: a waiter needs every holder that blocks it to release): start from
// the blocked threads whose blockers are all known, and repeatedly drop a thread with a blocker that
// is not blocked itself (it will release some day). Threads that remain wait for each other, or for
// a lock whose holder exited, forever: a `deadlock` report. A wait on a lock whose holder is unknown
// (taken outside locksan's view) is never called a deadlock.
//
// Stacks: the watchdog sends `stack_signal` to each thread of the report; the thread's handler
// captures its own stack (the stack where it waits) and the watchdog stores it. Only a thread blocked
// in futex() is sent the signal (InFutexWait): other system calls would fail with EINTR.
//
// Lifecycle: the watchdog thread exists only while the program has more than one thread (CPython
// 3.12 warns on fork() in a multi-threaded process; a C program may count its threads). It is
// started at a pthread_create, and stopped by the program thread whose exit leaves a single one:
// that thread asks it to end, joins it and waits until the kernel no longer lists it, before it
// exits itself, so that the program never sees a thread count that includes the watchdog once its
// own other threads are gone. It stays while the lone thread could still be blocked for good (a lock
// whose holder exited) and for the whole run with long_wait_ms or dump_signal, which are wanted in a
// single-threaded process too (started at start-up then).
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/flat_map.h"
#include "core/gil.h"
#include "core/internal_alloc.h"
#include "core/output.h"
#include "core/runtime_internal.h"
#include "core/stack.h"
#include "report/report.h"

namespace locksan {
namespace {

// Lifecycle (see the header comment). g_life_mu serialises start and stop; the watchdog thread
// never takes it. Lock order: g_life_mu, then the detector's locks.
RuntimeMutex g_life_mu;
std::atomic<int> g_running{0};    // a watchdog thread exists (written under g_life_mu)
std::atomic<int> g_pending{0};    // threads created (pthread_create) that have not started yet
// Each start is a new generation; g_stop (a futex word) is the newest generation asked to end. A
// watchdog thread that could not be joined in time (stuck, e.g. symbolising while a watched thread
// holds the loader's lock) ends on its own later and never runs beside a newer one.
int g_gen = 0;                    // under g_life_mu
std::atomic<int> g_stop{0};
std::atomic<int> g_thread_tid{0}; // the watchdog thread's tid
pthread_t g_thread;
std::atomic<int> g_dump_requested{0};
int g_stack_signal = 0;
uptr g_self_lo = 0, g_self_hi = 0;  // liblocksan.so's mapped range

int FindSelf(struct dl_phdr_info* info, size_t, void*) {
  uptr self = reinterpret_cast<uptr>(&FindSelf);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uptr lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
    if (self >= lo && self < hi) {
      g_self_lo = lo;
      g_self_hi = hi;
      return 1;
    }
  }
  return 0;
}

u64 NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * 1000 + static_cast<u64>(ts.tv_nsec) / 1000000;
}

void SleepMs(int ms) {
  timespec ts{ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

// WaitStop — sleeps `ms` unless generation `gen` is asked to end; returns whether it is.
bool WaitStop(int gen, int ms) {
  u64 end = NowMs() + static_cast<u64>(ms);
  for (;;) {
    int stop = g_stop.load(std::memory_order_acquire);
    if (stop >= gen) return true;
    u64 now = NowMs();
    if (now >= end) return false;
    u64 left = end - now;
    timespec ts{static_cast<time_t>(left / 1000), static_cast<long>(left % 1000) * 1000000L};
    syscall(SYS_futex, reinterpret_cast<int*>(&g_stop), FUTEX_WAIT_PRIVATE, stop, &ts, nullptr, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------------
void StackSignalHandler(int, siginfo_t*, void*) {
  int saved_errno = errno;
  ThreadState* ts = t_local.ts;
  if (ts) {
    u32 req = ts->dump_request.load(std::memory_order_acquire);
    if (req != ts->dump_done.load(std::memory_order_relaxed)) {
      t_local.in_runtime++;
      ts->dump_n = static_cast<u32>(CaptureStackInSignal(ts->dump_pcs, nullptr, GetFlags().stack_depth + 2, 1));
      ts->dump_py_n = GilLocated() ? static_cast<u32>(python::CaptureOwnStack(ts->dump_py, 12)) : 0;
      t_local.in_runtime--;
      ts->dump_done.store(req, std::memory_order_release);
    }
  }
  errno = saved_errno;
}

void DumpSignalHandler(int) { g_dump_requested.store(1, std::memory_order_relaxed); }

bool InstallIfDefault(int sig, void (*action)(int, siginfo_t*, void*), void (*handler)(int)) {
  struct sigaction old;
  if (sigaction(sig, nullptr, &old) != 0) return false;
  if (old.sa_handler != SIG_DFL) return false;  // the program uses this signal: leave it alone
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (action) {
    sa.sa_flags |= SA_SIGINFO;
    sa.sa_sigaction = action;
  } else {
    sa.sa_handler = handler;
  }
  return sigaction(sig, &sa, nullptr) == 0;
}

// InFutexWait — whether thread `tid` is blocked in futex() right now (a lock, condition variable,
// semaphore or join wait). Only such a thread is sent the stack signal: the kernel restarts its wait
// after the handler (SA_RESTART), whereas nanosleep, poll, select, epoll_wait and friends would fail
// with EINTR, which could change what the program does.
bool InFutexWait(int tid) {
  char path[64], buf[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  if (buf[0] < '0' || buf[0] > '9') return false;  // "running", or "-1 ..." (not in a system call)
  return strtol(buf, nullptr, 10) == SYS_futex;
}

// WaitOf — what thread `t` waits for now, as wait_addr tags it (the lock's address, bit 0 for a read
// acquisition), or 0. A wait published by the pthread_mutex_lock tail path (kWaitTail) counts only
// while the thread still waits: it stays published after the thread got the mutex.
uptr WaitOf(const ThreadState* t) {
  uptr addr = t->wait_addr.load(std::memory_order_acquire);
  if (!(addr & kWaitTail)) return addr;
  return TailWaitPending(t, addr) ? addr & ~kWaitTail : 0;
}

// CollectStack — asks thread `ts` (alive) for its current stack; 0 if it did not answer in time or
// may not be interrupted (InFutexWait).
u32 CollectStack(ThreadState* ts, u32* py_stack = nullptr) {
  if (!g_stack_signal || !ts->alive.load(std::memory_order_acquire)) return 0;
  // A thread that waits for a lock is in futex() most of the time, but a GIL waiter wakes every
  // few milliseconds (CPython's switch interval) to renew its drop request: look a few times.
  bool waits = WaitOf(ts) != 0;
  for (int i = 0; !InFutexWait(ts->tid); i++) {
    if (!waits || i >= 50) return 0;
    if (i < 10) sched_yield();
    else SleepMs(1);
  }
  u32 req = ts->dump_request.load(std::memory_order_relaxed) + 1;
  ts->dump_request.store(req, std::memory_order_release);
  if (syscall(SYS_tgkill, getpid(), ts->tid, g_stack_signal) != 0) return 0;
  for (int i = 0; i < 200; i++) {
    if (ts->dump_done.load(std::memory_order_acquire) == req) {
      // Drop the handler's own frames (the runtime's) and the signal trampoline after them.
      u32 n = ts->dump_n, first = 0;
      while (first < n && ts->dump_pcs[first] >= g_self_lo && ts->dump_pcs[first] < g_self_hi) first++;
      if (first > 0 && first < n) first++;
      if (py_stack) *py_stack = PyStackDepotPut(ts->dump_py, static_cast<int>(ts->dump_py_n));
      return StackDepotPut(ts->dump_pcs + first, static_cast<int>(n - first));
    }
    SleepMs(1);
  }
  return 0;
}

// IsPythonJoin — a Python stack whose innermost frame is threading.py's _wait_for_tstate_lock:
// Thread.join() on CPython 3.7–3.12 waits on the joined thread's "tstate lock", which that thread
// holds for its whole life (a join, not a lock held for long).
bool IsPythonJoin(u32 py_stack) {
  if (!py_stack) return false;
  PyStack p = PyStackDepotGet(py_stack);
  if (!p.size) return false;
  const char* file = p.frames[0].file;
  const char* fn = p.frames[0].function;
  size_t nf = strlen(file), nfn = strlen(fn);
  static const char kFile[] = "/threading.py", kFn[] = "_wait_for_tstate_lock";
  return nf >= sizeof kFile - 1 && strcmp(file + nf - (sizeof kFile - 1), kFile) == 0 &&
         nfn >= sizeof kFn - 1 && strcmp(fn + nfn - (sizeof kFn - 1), kFn) == 0;
}

// CallSite — the blocking call's return address in the program: the first frame of a waiting
// thread's stack outside libc (the lock function and its futex wait).
uptr CallSite(u32 stack) {
  StackTrace st = StackDepotGet(stack);
  for (u32 i = 0; i < st.size; i++) {
    if (InRuntime(st.pcs[i])) continue;  // the interceptor
    Dl_info info;
    if (!dladdr(reinterpret_cast<void*>(st.pcs[i] - 1), &info) || !info.dli_fname) return st.pcs[i];
    const char* base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    if (strncmp(base, "libc.so", 7) != 0 && strncmp(base, "libpthread", 10) != 0) return st.pcs[i];
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// One scan
// ---------------------------------------------------------------------------------------------
struct Observed {
  u32 seq;
  uptr addr;
  u64 first_seen_ms;
  bool reported_long;
};

struct Blocked {
  ThreadState* ts;
  u32 number;
  uptr addr;
  u64 id;
  u8 mode;
  LockKind kind;
  uptr pc;
  u32 seq;
  u64 since_ms;
  PtrVec<u32>* blockers;  // indices into the blocked array, or kExited
  u32 exited_holder;      // thread number of an exited holder, or ~0u
  bool in_knot;
};

constexpr u32 kExited = ~0u;

class Watchdog {
 public:
  void Scan();
  void Dump();

 private:
  FlatMap<Observed> observed_;  // thread number + 1 -> last wait seen
  FlatMap<u8> reported_;        // deadlock signatures
};

// Holders of (addr, id) that block a waiter wanting `mode`: threads whose held list has it.
// AppendHeld — the locks `t` holds (re-entries left out) as report entries of thread `number`. The
// caller holds the thread-list lock; the bound guards against a torn count.
void AppendHeld(const ThreadState* t, u32 number, PtrVec<ReportHeld>* out) {
  u32 n = t->Nheld();
  for (u32 i = 0; i < n && i < 4096; i++) {
    const HeldLock& h = t->held[i];
    if ((h.flags & kHeldReentry) || HeldEntryIsPending(t, i, n)) continue;
    out->push_back({number, h.id, h.addr, h.kind, h.mode, h.pc});
  }
}

void FindHolders(ThreadState* list, ThreadState* self, uptr addr, u64 id, u8 mode,
                 PtrVec<ThreadState*>* out) {
  for (ThreadState* t = list; t; t = t->next_all) {
    if (t == self || !t->alive.load(std::memory_order_acquire)) continue;
    u32 n = t->Nheld();
    const HeldLock* held = t->held;
    if (n > 4096) continue;  // a torn read
    for (u32 i = 0; i < n; i++) {
      if (held[i].addr != addr || (id && held[i].id != id) || HeldEntryIsPending(t, i, n)) continue;
      // Readers do not block a reader.
      if (mode == kRead && held[i].mode == kRead) continue;
      out->push_back(t);
      break;
    }
  }
}

void Watchdog::Scan() {
  u64 now = NowMs();
  PtrVec<Blocked> blocked;
  RuntimeMutex& mu = internal::ThreadsMutex();
  mu.Lock();
  ThreadState* list = internal::ThreadListHead();
  for (ThreadState* t = list; t; t = t->next_all) {
    if (!t->alive.load(std::memory_order_acquire)) continue;
    uptr addr = WaitOf(t);
    u32 seq = t->wait_seq.load(std::memory_order_relaxed);
    u64 key = static_cast<u64>(t->number) + 1;
    Observed* o = observed_.Find(key);
    if (!addr) {
      if (o) observed_.Erase(key);
      continue;
    }
    if (!o || o->seq != seq || o->addr != addr) {
      observed_.Insert(key, Observed{seq, addr, now, false});
      continue;  // a new wait: trust it from the next scan on
    }
    Blocked b{};
    b.ts = t;
    b.number = t->number;
    b.mode = static_cast<u8>(addr & 1);
    b.addr = addr & ~uptr{1};
    LockInfo* li = t->wait_lock.load(std::memory_order_relaxed);
    if (li && li->addr.load(std::memory_order_relaxed) == b.addr) {
      b.id = li->id;
      b.kind = li->kind;
    }
    b.pc = 0;
    b.seq = seq;
    b.since_ms = o->first_seen_ms;
    b.exited_holder = kExited;
    blocked.push_back(b);
  }
  // Blockers of every blocked thread.
  for (Blocked& b : blocked) {
    b.blockers = InternalNew<PtrVec<u32>>();
    PtrVec<ThreadState*> holders;
    FindHolders(list, b.ts, b.addr, b.id, b.mode, &holders);
    for (ThreadState* h : holders) {
      u32 idx = kExited;
      for (u32 i = 0; i < blocked.size(); i++)
        if (blocked[i].ts == h) idx = i;
      b.blockers->push_back(idx == kExited ? kExited - 1 : idx);  // kExited-1: a running holder
    }
  }
  mu.Unlock();
  for (Blocked& b : blocked) {
    if (!b.blockers->empty()) continue;
    internal::OrphanLock orphan;
    if (internal::FindOrphan(b.addr, b.id, &orphan)) {
      b.exited_holder = orphan.thread;
      b.blockers->push_back(kExited);
    }
  }
  // The knot: drop threads with an unknown or running blocker until nothing changes.
  for (Blocked& b : blocked) b.in_knot = !b.blockers->empty();
  for (bool changed = true; changed;) {
    changed = false;
    for (Blocked& b : blocked) {
      if (!b.in_knot) continue;
      for (u32 idx : *b.blockers) {
        if (idx == kExited) continue;
        if (idx == kExited - 1 || !blocked[idx].in_knot) {
          b.in_knot = false;
          changed = true;
          break;
        }
      }
    }
  }
  u64 sig = 0;
  u32 n_knot = 0;
  for (Blocked& b : blocked)
    if (b.in_knot) {
      sig += Mix64((static_cast<u64>(b.number) << 32) ^ b.seq);
      n_knot++;
    }
  const Flags& f = GetFlags();
  if (n_knot && !reported_.Find(sig | 1)) {
    reported_.Insert(sig | 1, 1);
    ReportDesc r;
    r.kind = ReportKind::kDeadlock;
    r.signature = sig | 1;
    PtrVec<u64> ids;
    for (Blocked& b : blocked) {
      if (!b.in_knot) continue;
      ReportWait w{};
      w.thread = b.number;
      w.lock_id = b.id;
      w.lock_addr = b.addr;
      w.lock_kind = b.kind;
      w.mode = b.mode;
      w.waited_ms = static_cast<u32>(now - b.since_ms + static_cast<u64>(f.watchdog_interval_ms));
      w.wait_pc = b.pc;
      if (b.exited_holder != kExited) {
        w.holder = b.exited_holder;
        w.holder_exited = true;
      } else {
        w.holder = blocked[(*b.blockers)[0]].number;
      }
      r.waits.push_back(w);
      if (b.id) {
        internal::FillLockById(&r, b.id);
        ids.push_back(b.id);
      }
    }
    // What the threads of the knot hold, and their stacks.
    mu.Lock();
    for (Blocked& b : blocked) {
      if (!b.in_knot) continue;
      AppendHeld(b.ts, b.number, &r.held);
    }
    mu.Unlock();
    for (const ReportHeld& h : r.held) internal::FillLockById(&r, h.lock_id);
    internal::FillThreadsOf(&r);
    for (Blocked& b : blocked) {
      if (!b.in_knot) continue;
      u32 py = 0;
      u32 stack = CollectStack(b.ts, &py);
      for (ReportThread& t : r.threads)
        if (t.number == b.number) {
          t.current_stack = stack;
          t.current_py_stack = py;
        }
      for (ReportWait& w : r.waits)
        if (w.thread == b.number) w.wait_pc = CallSite(stack);
    }
    r.predicted_by = internal::FindPredictingInversion(ids.begin(), ids.size());
    internal::EmitReportNumbered(&r);
    if (f.abort_on_deadlock) {
      OutputPrintf("==%d==locksan: abort_on_deadlock=1: aborting\n", getpid());
      abort();
    }
  }
  // Long waits (not part of a deadlock).
  if (f.long_wait_ms > 0) {
    for (Blocked& b : blocked) {
      if (b.in_knot || now - b.since_ms + static_cast<u64>(f.watchdog_interval_ms) <
                           static_cast<u64>(f.long_wait_ms))
        continue;
      Observed* o = observed_.Find(static_cast<u64>(b.number) + 1);
      if (!o || o->reported_long) continue;
      o->reported_long = true;
      ReportDesc r;
      r.kind = ReportKind::kLongWait;
      ReportWait w{};
      w.thread = b.number;
      w.lock_id = b.id;
      w.lock_addr = b.addr;
      w.lock_kind = b.kind;
      w.mode = b.mode;
      w.waited_ms = static_cast<u32>(now - b.since_ms + static_cast<u64>(f.watchdog_interval_ms));
      w.wait_pc = b.pc;
      // The holder (a live thread; the first one for a lock held by several readers): what it
      // holds and where it is now. A wait with no known holder (a semaphore used as a signal, a lock
      // taken outside locksan's view or by another process) is not a lock held for long.
      mu.Lock();
      PtrVec<ThreadState*> holders;
      FindHolders(internal::ThreadListHead(), b.ts, b.addr, b.id, b.mode, &holders);
      ThreadState* holder = holders.empty() ? nullptr : holders[0];
      if (holder) {
        w.holder = holder->number;
        AppendHeld(holder, holder->number, &r.held);
      }
      mu.Unlock();
      if (!holder) {
        o->reported_long = false;  // looked at again on the next scan
        continue;
      }
      r.waits.push_back(w);
      if (b.id) internal::FillLockById(&r, b.id);
      for (const ReportHeld& h : r.held) internal::FillLockById(&r, h.lock_id);
      internal::FillThreadsOf(&r);
      u32 py = 0, holder_py = 0;
      u32 stack = CollectStack(b.ts, &py);
      if (IsPythonJoin(py)) continue;
      u32 holder_stack = CollectStack(holder, &holder_py);
      for (ReportThread& t : r.threads) {
        if (t.number == b.number) {
          t.current_stack = stack;
          t.current_py_stack = py;
        } else if (t.number == w.holder) {
          t.current_stack = holder_stack;
          t.current_py_stack = holder_py;
        }
      }
      r.waits[0].wait_pc = CallSite(stack);
      internal::EmitReportNumbered(&r);
    }
  }
  for (Blocked& b : blocked) InternalDelete(b.blockers);
}

// Dump — every thread's held locks, wait (with its holder and, when a scan saw it, since when) and
// stack (dump_signal). The program keeps running; only threads blocked in futex() are interrupted
// for their stacks (CollectStack).
void Watchdog::Dump() {
  u64 now = NowMs();
  TextBuffer out;
  out.Append("==%d==locksan: thread dump (dump_signal)\n", getpid());
  OutputWrite(out.data(), out.size());
  PtrVec<ThreadState*> threads;
  RuntimeMutex& mu = internal::ThreadsMutex();
  mu.Lock();
  for (ThreadState* t = internal::ThreadListHead(); t; t = t->next_all)
    if (t->alive.load(std::memory_order_acquire)) threads.push_back(t);
  // In thread-number order (the list is newest first).
  for (u32 i = 1; i < threads.size(); i++)
    for (u32 j = i; j > 0 && threads[j - 1]->number > threads[j]->number; j--) {
      ThreadState* tmp = threads[j];
      threads[j] = threads[j - 1];
      threads[j - 1] = tmp;
    }
  mu.Unlock();
  u32 shown = 0;
  for (ThreadState* t : threads) {
    ReportDesc d;
    d.kind = ReportKind::kLongWait;
    d.number = 0;
    ReportThread rt{};
    mu.Lock();
    // A thread that exited since the snapshot (its state may be recycled) is left out.
    bool alive = t->alive.load(std::memory_order_acquire);
    if (alive) {
      rt.number = t->number;
      rt.tid = t->tid;
      memcpy(rt.name, t->name, sizeof rt.name);
      uptr addr = WaitOf(t);
      u32 seq = t->wait_seq.load(std::memory_order_relaxed);
      if (addr) {
        ReportWait w{};
        w.thread = t->number;
        w.lock_addr = addr & ~uptr{1};
        w.mode = static_cast<u8>(addr & 1);
        LockInfo* li = t->wait_lock.load(std::memory_order_relaxed);
        if (li && li->addr.load(std::memory_order_relaxed) == w.lock_addr) {
          w.lock_id = li->id;
          w.lock_kind = li->kind;
        }
        w.holder = ~0u;
        PtrVec<ThreadState*> holders;
        FindHolders(internal::ThreadListHead(), t, w.lock_addr, w.lock_id, w.mode, &holders);
        if (!holders.empty()) w.holder = holders[0]->number;
        Observed* o = observed_.Find(static_cast<u64>(t->number) + 1);
        w.waited_ms = o && o->seq == seq && o->addr == addr ? static_cast<u32>(now - o->first_seen_ms) : ~0u;
        d.waits.push_back(w);
      }
      AppendHeld(t, t->number, &d.held);
    }
    mu.Unlock();
    if (!alive) continue;
    for (ReportWait& w : d.waits) {
      if (w.holder != ~0u) continue;
      internal::OrphanLock orphan;
      if (internal::FindOrphan(w.lock_addr, w.lock_id, &orphan)) {
        w.holder = orphan.thread;
        w.holder_exited = true;
      }
    }
    for (const ReportWait& w : d.waits)
      if (w.lock_id) internal::FillLockById(&d, w.lock_id);
    for (const ReportHeld& h : d.held) internal::FillLockById(&d, h.lock_id);
    rt.alive = true;
    rt.current_stack = CollectStack(t, &rt.current_py_stack);
    d.threads.push_back(rt);
    PrintThreadDump(d);
    shown++;
  }
  OutputPrintf("==%d==locksan: end of thread dump (%u threads)\n", getpid(), shown);
}

Watchdog* g_watchdog;

// OsThreadCount — live threads of this process now: the tasks in /proc/self/task that are not
// zombies (a thread-group leader that called pthread_exit stays listed as one); 0 if unreadable.
int OsThreadCount() {
  DIR* d = opendir("/proc/self/task");
  if (!d) return 0;
  int live = 0;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    const char* p = strrchr(buf, ')');  // the state follows the command name
    if (p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X') live++;
  }
  closedir(d);
  return live;
}

// LiveProgramThreads — threads locksan knows that have not exited, counted up to `cap`.
int LiveProgramThreads(int cap) {
  RuntimeLockGuard lock(&internal::ThreadsMutex());
  int n = 0;
  for (ThreadState* t = internal::ThreadListHead(); t && n < cap; t = t->next_all)
    n += t->alive.load(std::memory_order_acquire);
  return n;
}

// RunsAlways — options that want the watchdog in a single-threaded process too.
bool g_dump_installed = false;
bool RunsAlways() { return g_dump_installed || GetFlags().long_wait_ms > 0; }

bool Wanted() {
  const Flags& f = GetFlags();
  return f.detect_deadlocks || f.long_wait_ms > 0 || f.dump_signal > 0;
}

void* WatchdogMain(void* arg) {
  int gen = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  t_local.disabled = kTornDown;  // this thread is never watched
  prctl(PR_SET_NAME, "locksan-watch", 0, 0, 0);  // (pthread_setname_np on another thread opens /proc)
  g_thread_tid.store(static_cast<int>(syscall(SYS_gettid)), std::memory_order_release);
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  const Flags& f = GetFlags();
  int interval = f.watchdog_interval_ms > 10 ? f.watchdog_interval_ms : 10;
  int slice = interval < 100 ? interval : 100;
  for (int elapsed = 0;; elapsed += slice) {
    if (WaitStop(gen, slice)) return nullptr;
    if (g_dump_requested.exchange(0, std::memory_order_relaxed)) g_watchdog->Dump();
    if (elapsed + slice >= interval) {
      elapsed = -slice;
      if (f.detect_deadlocks || f.long_wait_ms > 0) g_watchdog->Scan();
      // Never keep a process alive: when every thread locksan knows has exited (normally the
      // exiting thread stops the watchdog first) and no other thread is left, end the process as
      // glibc does when its last thread exits.
      if (LiveProgramThreads(1) == 0 && OsThreadCount() == 1) exit(0);
    }
  }
  return nullptr;
}

// Start — g_life_mu held.
void StartLocked() {
  if (g_running.load(std::memory_order_relaxed)) return;
  const Flags& f = GetFlags();
  {
    // Not while a program thread's dl_iterate_phdr callback may hold the loader lock and wait for
    // this one: then the first capture initialises the unwinder (and the dump shows our own frames).
    LoaderLockScope loader;
    if (loader.ok()) {
      InitUnwinder();  // never dlopen from a signal handler
      if (!g_self_lo) dl_iterate_phdr(FindSelf, nullptr);
    }
  }
  if (f.stack_signal != 0 && !g_stack_signal) {
    int sig = f.stack_signal < 0 ? SIGRTMAX - 2 : f.stack_signal;
    if (InstallIfDefault(sig, StackSignalHandler, nullptr)) g_stack_signal = sig;
  }
  // A fresh state: what an earlier watchdog observed is stale (waits it saw have ended, since it
  // was stopped with at most one thread and nothing that could block for good).
  if (g_watchdog) {
    g_watchdog->~Watchdog();
    new (g_watchdog) Watchdog();
  } else {
    g_watchdog = InternalNew<Watchdog>();
  }
  int gen = ++g_gen;
  g_thread_tid.store(0, std::memory_order_relaxed);
  t_local.in_runtime++;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  if (pthread_create(&g_thread, &attr, WatchdogMain, reinterpret_cast<void*>(static_cast<intptr_t>(gen))) != 0) {
    static bool said;
    if (!said)
      OutputPrintf("==%d==locksan: cannot start the deadlock watchdog thread; deadlocks will not be reported\n",
                   getpid());
    said = true;
  } else {
    g_running.store(1, std::memory_order_release);
  }
  pthread_attr_destroy(&attr);
  t_local.in_runtime--;
}

// StopLocked — g_life_mu held: ends the watchdog thread and returns once the kernel no longer
// lists it (pthread_join returns when the thread cleared its tid, a moment before it is reaped).
// A watchdog that does not end within 3 s (stuck in a scan) is left to end by itself: the exiting
// thread is never held up for good.
void StopLocked() {
  if (!g_running.load(std::memory_order_relaxed)) return;
  g_stop.store(g_gen, std::memory_order_release);
  syscall(SYS_futex, reinterpret_cast<int*>(&g_stop), FUTEX_WAKE_PRIVATE, 1 << 30, nullptr, nullptr, 0);
  int tid = g_thread_tid.load(std::memory_order_acquire);
  timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 3;
  if (pthread_timedjoin_np(g_thread, nullptr, &until) != 0) {
    pthread_detach(g_thread);
    if (GetFlags().verbosity >= 1)
      OutputPrintf("==%d==locksan: the watchdog thread did not end in time; it ends by itself later\n", getpid());
    tid = 0;
  } else if (tid == 0) {
    tid = g_thread_tid.load(std::memory_order_acquire);
  }
  if (tid > 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", tid);
    for (int i = 0; i < 20000 && access(path, F_OK) == 0; i++) {
      if (i < 100) sched_yield();
      else SleepMs(1);
    }
  }
  g_running.store(0, std::memory_order_release);
  if (GetFlags().verbosity >= 3) OutputPrintf("==%d==locksan: watchdog stopped\n", getpid());
}

}  // namespace

void WatchdogOnThreadCreate() {
  if (!Wanted()) return;
  RuntimeLockGuard lock(&g_life_mu);
  g_pending.fetch_add(1, std::memory_order_relaxed);
  StartLocked();
}

void WatchdogOnThreadStarted() {
  if (!Wanted()) return;
  g_pending.fetch_sub(1, std::memory_order_release);
}

void WatchdogOnThreadExit() {
  if (!g_running.load(std::memory_order_acquire)) return;
  RuntimeLockGuard lock(&g_life_mu);
  if (!g_running.load(std::memory_order_relaxed) || g_pending.load(std::memory_order_acquire) != 0) return;
  int live = LiveProgramThreads(2);
  if (live > 1) return;
  // One thread left: it can still block for good on a lock that an exited thread holds.
  if (live == 1 && (RunsAlways() || internal::HasOrphans())) {
    if (GetFlags().verbosity >= 3) OutputPrintf("==%d==locksan: watchdog stays\n", getpid());
    return;
  }
  StopLocked();
}

void WatchdogAfterForkChild() {
  // The watchdog thread does not exist in the child: start another one when the child makes threads
  // (or now, for the options that want it in a single-threaded process).
  g_life_mu.ResetAfterFork();
  g_running.store(0, std::memory_order_relaxed);
  g_pending.store(0, std::memory_order_relaxed);
  if (Wanted() && RunsAlways()) {
    RuntimeLockGuard lock(&g_life_mu);
    StartLocked();
  }
}

void WatchdogInstallSignals() {
  const Flags& f = GetFlags();
  if (f.dump_signal > 0) g_dump_installed = InstallIfDefault(f.dump_signal, nullptr, DumpSignalHandler);
  if (f.dump_signal > 0 && !g_dump_installed)
    OutputPrintf("==%d==locksan: dump_signal=%d is already used by the program; thread dumps are off\n",
                 getpid(), f.dump_signal);
  if (RunsAlways()) {
    RuntimeLockGuard lock(&g_life_mu);
    StartLocked();
  }
}

}  // namespace locksan
