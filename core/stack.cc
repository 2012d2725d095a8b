#include "core/stack.h"

#include <dlfcn.h>
#include <link.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unwind.h>

#include <atomic>
#include <cstring>

#include "core/flat_map.h"
#include "core/internal_alloc.h"
#include "core/runtime_mutex.h"

namespace locksan {

// DeepBindFlag — RTLD_DEEPBIND, except in a process with ASan/TSan/MSan, whose runtimes refuse it.
int DeepBindFlag() {
  static int flag = (dlsym(RTLD_DEFAULT, "__asan_init") || dlsym(RTLD_DEFAULT, "__tsan_init") ||
                     dlsym(RTLD_DEFAULT, "__msan_init"))
                        ? 0
                        : RTLD_DEEPBIND;
  return flag;
}

// ---------------------------------------------------------------------------------------------
// Unwinding
// ---------------------------------------------------------------------------------------------
namespace {

// Opaque storage for libunwind's unw_context_t / unw_cursor_t (x86-64: 1024 and 1024 bytes are
// more than enough; libunwind 1.6 uses 127*8 and 127*8).
struct alignas(16) UnwContext { char data[2048]; };
struct alignas(16) UnwCursor { char data[2048]; };
using GetContextFn = int (*)(UnwContext*);
using InitLocalFn = int (*)(UnwCursor*, UnwContext*);
using StepFn = int (*)(UnwCursor*);
using GetRegFn = int (*)(UnwCursor*, int, uptr*);
using BacktraceFn = int (*)(void**, int);
constexpr int kUnwRegIp = 16;  // UNW_X86_64_RIP
constexpr int kUnwRegSp = 7;   // UNW_X86_64_RSP

struct LibUnwind {
  GetContextFn getcontext = nullptr;
  InitLocalFn init_local = nullptr;
  StepFn step = nullptr;
  GetRegFn get_reg = nullptr;
  // unw_backtrace: libunwind's fast path (a per-thread cache of frame shapes, no system call per
  // frame). unw_step costs two sigprocmask calls per frame in Debian's build (its global cache lock).
  BacktraceFn backtrace = nullptr;
};
LibUnwind g_unw;
std::atomic<int> g_unw_state{0};  // 0 = not tried, 1 = libunwind, 2 = libgcc

void TryLoadLibUnwind() {
  // Prefer the copy shipped beside liblocksan.so ($ORIGIN), then the system one.
  const char* names[2] = {nullptr, "libunwind.so.8"};
  char path[4096];
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&TryLoadLibUnwind), &info) && info.dli_fname) {
    const char* slash = strrchr(info.dli_fname, '/');
    if (slash && static_cast<size_t>(slash - info.dli_fname) + 20 < sizeof path) {
      size_t n = static_cast<size_t>(slash - info.dli_fname) + 1;
      memcpy(path, info.dli_fname, n);
      strcpy(path + n, "libunwind.so.8");
      names[0] = path;
    }
  }
  // locksan needs a copy of libunwind of its own. A program may use libunwind itself (perf does):
  // sharing its copy would re-enter it from our interceptors while it holds its internal locks (a
  // self-deadlock), so a copy the program already has is never used; ours is loaded with
  // RTLD_DEEPBIND so that it binds its references to itself, never to the program's copy.
  void* program_copy = dlopen("libunwind.so.8", RTLD_NOW | RTLD_NOLOAD);
  for (const char* name : names) {
    if (!name) continue;
    void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL | DeepBindFlag());
    if (!h) continue;
    if (h == program_copy) {  // the same object as the program's (e.g. the system one by soname)
      dlclose(h);
      continue;
    }
    g_unw.getcontext = reinterpret_cast<GetContextFn>(dlsym(h, "_Ux86_64_getcontext"));
    g_unw.init_local = reinterpret_cast<InitLocalFn>(dlsym(h, "_ULx86_64_init_local"));
    g_unw.step = reinterpret_cast<StepFn>(dlsym(h, "_ULx86_64_step"));
    g_unw.get_reg = reinterpret_cast<GetRegFn>(dlsym(h, "_ULx86_64_get_reg"));
    g_unw.backtrace = reinterpret_cast<BacktraceFn>(dlsym(h, "unw_backtrace"));
    if (g_unw.getcontext && g_unw.init_local && g_unw.step && g_unw.get_reg) {
      // Per-thread caching: libunwind's global cache takes a lock that a fork() could leave held
      // in the child (another thread was unwinding), hanging the child's first unwind.
      using SetCachingFn = int (*)(void*, int);
      auto set_caching = reinterpret_cast<SetCachingFn>(dlsym(h, "_ULx86_64_set_caching_policy"));
      void** local_as = reinterpret_cast<void**>(dlsym(h, "_ULx86_64_local_addr_space"));
      constexpr int kUnwCachePerThread = 2;
      if (set_caching && local_as && set_caching(*local_as, kUnwCachePerThread) == 0) return;
    }
    g_unw = LibUnwind();
  }
  if (program_copy) dlclose(program_copy);
}

// libgcc's unwinder, looked up in libgcc_s itself: a program that links libunwind (perf) has
// libunwind's _Unwind_* functions ahead of libgcc's in the global scope, and sharing the program's
// libunwind is what locksan must never do (see TryLoadLibUnwind).
struct DwarfEhBases {
  void* tbase;
  void* dbase;
  void* func;
};
struct LibGcc {
  _Unwind_Reason_Code (*backtrace)(_Unwind_Trace_Fn, void*) = nullptr;
  uptr (*get_ip)(struct _Unwind_Context*) = nullptr;
  uptr (*get_cfa)(struct _Unwind_Context*) = nullptr;
  const void* (*find_fde)(void*, DwarfEhBases*) = nullptr;
  uptr (*get_gr)(struct _Unwind_Context*, int) = nullptr;  // CaptureFrameRegs only
};
LibGcc g_gcc;

void LoadLibGcc() {
  void* h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (!h) h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return;
  g_gcc.backtrace = reinterpret_cast<decltype(g_gcc.backtrace)>(dlsym(h, "_Unwind_Backtrace"));
  g_gcc.get_ip = reinterpret_cast<decltype(g_gcc.get_ip)>(dlsym(h, "_Unwind_GetIP"));
  g_gcc.get_cfa = reinterpret_cast<decltype(g_gcc.get_cfa)>(dlsym(h, "_Unwind_GetCFA"));
  g_gcc.find_fde = reinterpret_cast<decltype(g_gcc.find_fde)>(dlsym(h, "_Unwind_Find_FDE"));
  g_gcc.get_gr = reinterpret_cast<decltype(g_gcc.get_gr)>(dlsym(h, "_Unwind_GetGR"));
  if (!g_gcc.backtrace || !g_gcc.get_ip || !g_gcc.get_cfa) g_gcc.backtrace = nullptr;
}

struct GccState {
  uptr* pcs;
  uptr* sps;
  int max;
  int skip;
  int n;
};

_Unwind_Reason_Code GccTrace(struct _Unwind_Context* ctx, void* arg) {
  GccState* s = static_cast<GccState*>(arg);
  uptr pc = g_gcc.get_ip(ctx);
  if (!pc) return _URC_END_OF_STACK;
  if (s->skip > 0) {
    s->skip--;
    return _URC_NO_REASON;
  }
  if (s->n >= s->max) return _URC_END_OF_STACK;
  // A frame's stack pointer (as libunwind reports it) is its callee's CFA, which is what libgcc's
  // context holds as its CFA while the trace function runs (the frame's own CFA comes with the next
  // frame's context).
  if (s->sps) s->sps[s->n] = g_gcc.get_cfa(ctx);
  s->pcs[s->n++] = pc;
  return _URC_NO_REASON;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The loader lock (dl_iterate_phdr)
// ---------------------------------------------------------------------------------------------
// A Dekker pair: a runtime user announces itself, then looks for program iterations; a program
// thread announces its iteration, then waits for the runtime users already announced. Either the
// runtime user sees the iteration (and does without), or the program thread sees the user (and waits
// for it to end before it takes the loader lock).
namespace {
std::atomic<int> g_program_iterating{0};  // program threads inside (or entering) dl_iterate_phdr
std::atomic<int> g_runtime_loader_users{0};
__thread int t_loader_scopes __attribute__((tls_model("initial-exec")));
__thread int t_program_iterating __attribute__((tls_model("initial-exec")));
bool g_have_dl_find_object = false;  // libgcc's FDE lookup takes no loader lock (glibc >= 2.35)
constexpr int kIterateWaitMs = 100;
}  // namespace

LoaderLockScope::LoaderLockScope(bool wanted)
    : no_signals_(wanted && ProgramHasSignalHandlers()), ok_(false) {
  if (!wanted) return;
  g_runtime_loader_users.fetch_add(1, std::memory_order_seq_cst);
  if (g_program_iterating.load(std::memory_order_seq_cst) != 0) {
    g_runtime_loader_users.fetch_sub(1, std::memory_order_release);
    return;
  }
  t_loader_scopes++;
  ok_ = true;
}

LoaderLockScope::~LoaderLockScope() {
  if (!ok_) return;
  t_loader_scopes--;
  g_runtime_loader_users.fetch_sub(1, std::memory_order_release);
}

bool ProgramIterateBegin() {
  if (t_loader_scopes) return false;  // the runtime's own call (libunwind bound to the interceptor)
  t_program_iterating++;
  g_program_iterating.fetch_add(1, std::memory_order_seq_cst);
  for (int waited_us = 0; g_runtime_loader_users.load(std::memory_order_seq_cst) != 0;) {
    if (waited_us >= kIterateWaitMs * 1000) break;  // see LoaderLockScope in stack.h
    if (waited_us < 1000) {
      sched_yield();
      waited_us += 10;
    } else {
      timespec ts{0, 100 * 1000};
      nanosleep(&ts, nullptr);
      waited_us += 100;
    }
  }
  return true;
}

void ProgramIterateEnd() {
  g_program_iterating.fetch_sub(1, std::memory_order_release);
  t_program_iterating--;
}

namespace {
uptr g_self_lo = 0, g_self_hi = 0;
int FindSelfRange(struct dl_phdr_info* info, size_t, void*) {
  uptr self = reinterpret_cast<uptr>(&FindSelfRange);
  uptr lo = ~uptr{0}, hi = 0;
  bool mine = false;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uptr a = info->dlpi_addr + ph.p_vaddr, b = a + ph.p_memsz;
    if (a < lo) lo = a;
    if (b > hi) hi = b;
    if (self >= a && self < b) mine = true;
  }
  if (!mine) return 0;
  g_self_lo = lo;
  g_self_hi = hi;
  return 1;
}
}  // namespace

namespace {
bool g_libgcc_only = false;  // unwinder=libgcc (set before the first capture)
}  // namespace
void SetUnwinderLibgccOnly(bool on) { g_libgcc_only = on; }

void InitUnwinder() {
  int expected = 0;
  if (!g_unw_state.compare_exchange_strong(expected, -1)) return;
  if (!g_libgcc_only) TryLoadLibUnwind();
  LoadLibGcc();
  g_have_dl_find_object = dlsym(RTLD_DEFAULT, "_dl_find_object") != nullptr;
  dl_iterate_phdr(FindSelfRange, nullptr);
  g_unw_state.store(g_unw.step ? 1 : 2, std::memory_order_release);
}


bool InRuntime(uptr pc) { return pc >= g_self_lo && pc < g_self_hi; }

int CaptureUserStack(uptr* pcs, uptr* sps, int depth) {
  uptr p[kMaxStackDepth + 16], s[kMaxStackDepth + 16];
  if (depth > kMaxStackDepth) depth = kMaxStackDepth;
  // Room for the runtime's own frames above the user's: usually 3-5 (interceptor, detector, this
  // function). An unwind costs per frame, so a short capture (a lock's first stack, 8 frames, in a
  // program whose stack is deeper) asks for 8 extra frames first and only unwinds again with 16 when
  // the runtime's frames took more than that (the result is the same either way).
  int want = depth + 8;
  int n = CaptureStack(p, sps ? s : nullptr, want, 0);
  int first = 0;
  while (first < n && InRuntime(p[first])) first++;
  if (n == want && n - first < depth) {
    want = depth + 16;
    n = CaptureStack(p, sps ? s : nullptr, want, 0);
    first = 0;
    while (first < n && InRuntime(p[first])) first++;
  }
  int k = 0;
  for (int i = first; i < n && k < depth; i++, k++) {
    pcs[k] = p[i];
    if (sps) sps[k] = s[i];
  }
  return k;
}

const char* UnwinderName() {
  int s = g_unw_state.load();
  return s == 1 ? "libunwind" : s == 2 ? "libgcc" : "no unwinder used";
}

// Unwinders take locks of their own (libunwind's memory pool and caches, libgcc's object list): a
// fork() while another thread unwinds would leave them held in the child. Unwinds therefore count
// themselves in g_unwinders, and fork preparation (UnwindForkLock) waits until none is in progress
// and holds new ones back until the fork is done. Unwinds do not exclude each other (both unwinders
// are thread-safe), but they take the dynamic loader's lock (dl_iterate_phdr), which another thread's
// unwind waits for: once the program has signal handlers of its own, CaptureStack blocks signals
// (a handler that blocked on a program lock there could hang every other unwinder). A thread that is
// interrupted by a signal in the middle of its own unwind does not unwind again in the handler
// (t_unwinding). Fork preparation waits at most kForkWaitMs for unwinds to end (one could be stuck in
// a signal handler that waits for the forking thread); the child of such a fork captures no stacks.
namespace {
std::atomic<int> g_unwinders{0};
std::atomic<int> g_fork_pending{0};
bool g_fork_unsafe = false;       // this fork started while an unwind was still in progress
bool g_unwind_disabled = false;   // the child of such a fork: its unwinders' locks may be held
__thread int t_unwinding __attribute__((tls_model("initial-exec")));
__thread unsigned t_captures __attribute__((tls_model("initial-exec")));
// Ski rental between the unwinders (CaptureStackLocked): the time this thread's libgcc captures took
// so far, whether it has libunwind's table, and the process's estimate of what a thread's first
// libunwind capture costs (the table's creation and its first, uncached steps).
__thread u64 t_gcc_ns __attribute__((tls_model("initial-exec")));
__thread bool t_unw_table __attribute__((tls_model("initial-exec")));
std::atomic<u64> g_unw_table_ns{0};
std::atomic<u64> g_unw_tables{0};  // threads that created libunwind's table

// Capture timing (verbosity >= 1 only): per unwinder, captures by log2 of their duration in ns.
bool g_capture_timing = false;
std::atomic<u64> g_capture_hist[2][32];  // [0] libunwind, [1] libgcc
std::atomic<u64> g_capture_frames[2];
u64 NowNs() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<u64>(t.tv_sec) * 1000000000u + static_cast<u64>(t.tv_nsec);
}
void NoteCapture(int which, u64 t0, int frames) {
  u64 ns = NowNs() - t0;
  int b = ns ? 63 - __builtin_clzll(ns) : 0;
  g_capture_hist[which][b < 31 ? b : 31].fetch_add(1, std::memory_order_relaxed);
  if (frames > 0) g_capture_frames[which].fetch_add(static_cast<u64>(frames), std::memory_order_relaxed);
}
constexpr unsigned kColdCaptures = 16;
constexpr int kForkWaitMs = 200;

void SleepUs(long us) {
  timespec ts{0, us * 1000};
  nanosleep(&ts, nullptr);
}

class UnwindScope {
 public:
  explicit UnwindScope(bool in_signal) {
    if (t_unwinding || g_unwind_disabled) return;
    for (;;) {
      g_unwinders.fetch_add(1, std::memory_order_seq_cst);
      if (LOCKSAN_LIKELY(!g_fork_pending.load(std::memory_order_seq_cst))) break;
      g_unwinders.fetch_sub(1, std::memory_order_seq_cst);
      if (in_signal) return;
      while (g_fork_pending.load(std::memory_order_acquire)) sched_yield();
    }
    t_unwinding = 1;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    entered_ = true;
  }
  ~UnwindScope() {
    if (!entered_) return;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    t_unwinding = 0;
    g_unwinders.fetch_sub(1, std::memory_order_release);
  }
  bool entered() const { return entered_; }

 private:
  bool entered_ = false;
};
}  // namespace

int CaptureStackLocked(uptr* pcs, uptr* sps, int max, int skip, bool gcc_only = false);

LOCKSAN_NOINLINE int CaptureStack(uptr* pcs, uptr* sps, int max, int skip) {
  // The unwinders take the dynamic loader's lock (dl_iterate_phdr) and locks of their own: a program
  // handler that ran meanwhile and blocked on a program lock could deadlock against a thread that
  // holds that lock and unwinds (see ScopedBlockSignals).
  ScopedBlockSignals no_signals(ProgramHasSignalHandlers());
  UnwindScope scope(false);
  if (!scope.entered()) return 0;
  return CaptureStackLocked(pcs, sps, max, skip + 1);
}

LOCKSAN_NOINLINE int CaptureStackInSignal(uptr* pcs, uptr* sps, int max, int skip) {
  if (g_unw_state.load(std::memory_order_acquire) <= 0) return 0;  // never dlopen in a handler
  UnwindScope scope(true);
  if (!scope.entered()) return 0;
  return CaptureStackLocked(pcs, sps, max, skip + 1);
}

// CaptureStackGcc — CaptureStack with libgcc's unwinder whatever the thread's state (the stack memo's
// fills: libgcc gives each frame's stack pointer at its usual cost, libunwind only through unw_step).
LOCKSAN_NOINLINE int CaptureStackGcc(uptr* pcs, uptr* sps, int max, int skip) {
  ScopedBlockSignals no_signals(ProgramHasSignalHandlers());
  UnwindScope scope(false);
  if (!scope.entered()) return 0;
  return CaptureStackLocked(pcs, sps, max, skip + 1, /*gcc_only=*/true);
}

LOCKSAN_NOINLINE int CaptureStackLocked(uptr* pcs, uptr* sps, int max, int skip, bool gcc_only) {
  if (max <= 0) return 0;
  if (g_unw_state.load(std::memory_order_acquire) == 0) {
    LoaderLockScope loader;  // dlopen and dl_iterate_phdr
    if (!loader.ok()) return 0;
    InitUnwinder();
  }
  skip++;  // this function
  // unw_backtrace keeps a per-thread cache of frame shapes: 256 KiB mapped at a thread's first call
  // and written whole (16,384 entries: 64 page faults), and slow (unw_step) for every frame it has
  // not seen; then ~15 ns a frame. libgcc needs nothing per thread but costs ~0.2 us a frame. A
  // thread therefore starts with libgcc and buys libunwind's table only once its libgcc captures
  // have cost what a table is estimated to cost (ski rental: never more than twice the cheaper
  // choice made in hindsight). The estimate is the first libunwind capture of earlier threads; until
  // there is one, a thread switches after kColdCaptures. A short-lived thread never pays for the
  // table. libunwind looks up unwind tables with dl_iterate_phdr: not while a program thread is
  // inside it (LoaderLockScope); libgcc then.
  bool warm = ++t_captures > kColdCaptures &&
              (t_unw_table || t_gcc_ns >= g_unw_table_ns.load(std::memory_order_relaxed));
  bool want_libunwind = !gcc_only && g_unw_state.load(std::memory_order_acquire) == 1 && (warm || sps);
  LoaderLockScope loader(want_libunwind || !g_have_dl_find_object);
  if (want_libunwind && loader.ok()) {
    if (!sps && g_unw.backtrace) {
      // The first entry is this function's own frame (the return address of the call below).
      void* buf[kMaxStackDepth + 32];
      int to_skip = skip - 1;
      int want = max + to_skip;
      if (want > static_cast<int>(sizeof buf / sizeof buf[0])) want = sizeof buf / sizeof buf[0];
      bool first = !t_unw_table;
      u64 t0 = g_capture_timing || first ? NowNs() : 0;
      int n = g_unw.backtrace(buf, want);
      if (g_capture_timing) NoteCapture(0, t0, n);
      if (first) {
        // This thread's table exists now: what it cost updates the estimate (a moving average).
        t_unw_table = true;
        g_unw_tables.fetch_add(1, std::memory_order_relaxed);
        u64 d = NowNs() - t0;
        u64 old = g_unw_table_ns.load(std::memory_order_relaxed);
        g_unw_table_ns.store(old ? (old * 3 + d) / 4 : d, std::memory_order_relaxed);
      }
      if (n > to_skip) {
        int k = 0;
        for (int i = to_skip; i < n && k < max; i++) pcs[k++] = reinterpret_cast<uptr>(buf[i]);
        return k;
      }
    } else {
      UnwContext uc;
      UnwCursor cur;
      if (g_unw.getcontext(&uc) == 0 && g_unw.init_local(&cur, &uc) == 0) {
        int n = 0;
        // The cursor starts at this function; skip it and `skip - 1` more.
        int to_skip = skip - 1;
        do {
          uptr ip = 0, sp = 0;
          g_unw.get_reg(&cur, kUnwRegIp, &ip);
          if (!ip) break;
          if (to_skip > 0) {
            to_skip--;
            continue;
          }
          g_unw.get_reg(&cur, kUnwRegSp, &sp);
          if (sps) sps[n] = sp;
          pcs[n++] = ip;
        } while (n < max && g_unw.step(&cur) > 0);
        if (n > 0 && to_skip == 0) return n;
      }
    }
  }
  // libgcc: its object list lock is taken through pthread_mutex_lock when a program registers
  // frames (a JIT); a program's handler that throws while it is held would deadlock, so signals are
  // blocked if the program has handlers.
  ScopedBlockSignals no_signals(ProgramHasSignalHandlers());
  if (!g_gcc.backtrace) return 0;
  // Without _dl_find_object (glibc < 2.35) libgcc finds FDEs with dl_iterate_phdr too.
  if (!g_have_dl_find_object && !loader.ok()) return 0;
  GccState s{pcs, sps, max, skip - 1, 0};  // its first frame is this function, as above
  bool renting = !t_unw_table;  // timed while the thread weighs buying libunwind's table
  u64 t0 = g_capture_timing || renting ? NowNs() : 0;
  g_gcc.backtrace(GccTrace, &s);
  if (g_capture_timing) NoteCapture(1, t0, s.n);
  if (renting && !gcc_only) t_gcc_ns += NowNs() - t0;
  return s.n;
}

// ---------------------------------------------------------------------------------------------
// The stack memo (see stack.h)
// ---------------------------------------------------------------------------------------------
namespace {
// Per thread, sets of kMemoWays: 32 entries, 512 once the thread has asked for kMemoGrowAfter stacks (a
// thread that makes new edges all the time: PyTorch's training thread asks ~250 a step, from more call
// sites than 32 entries hold).
constexpr u32 kMemoSmall = 32, kMemoLarge = 512;
constexpr u64 kMemoGrowAfter = 2048;
constexpr u8 kMemoSeen = 1, kMemoFilled = 2, kMemoRefused = 3;
constexpr u32 kMemoWays = 4;  // a set holds up to 4 stacks: of one key called from several places too
constexpr u64 kMemoFreeFills = 16, kMemoHitsPerFill = 32;
// A key seen again this many times while the budget refused its fill earns one anyway: a key that
// keeps coming back repays its fill (the budget's own rate is one fill per kMemoHitsPerFill hits), and
// the worst case, a key seen exactly this often and never again, spends one fill on 16 captures. A
// thread whose early call sites never repeat (a process's start-up) spends the budget on them, and a
// call site that then recurs — a new lock per item at one call site, each a lock class's member whose
// 8-frame key is asked for — would otherwise be unwound in full every time.
constexpr u8 kMemoRecurring = 16;
struct MemoEntry {
  uptr pc, cfa;  // the key: the lock call's return address and the caller's stack pointer
  u8 state;      // 0: empty, kMemoSeen: the key met once, kMemoFilled, kMemoRefused (not memoisable)
  union {
    u8 prefix_n;         // kMemoFilled: prefix_depot's frames (0: none), fewer than n
    u8 budget_refusals;  // kMemoSeen: sightings whose fill the budget refused (kMemoRecurring)
  };
  u8 partial;    // the first n frames of a longer stack (filled for a short answer: a class key)
  u8 n;          // frames (at most kMaxStackDepth)
  u32 used;      // the set's clock when last used (the least recently used way is replaced)
  u32 depot;     // StackDepotPut(frames, n)
  u32 prefix_depot;  // StackDepotPut(frames, prefix_n): the last shorter answer's (a lock's 8-frame
                     // "first locked at" stack, its class key)
  StackMemoAux aux;  // the caller's value derived from these frames (see stack.h)
  // uptr frames[depth], slots[depth] follow: each return address and where it is on the stack.
};
static_assert(sizeof(MemoEntry) == 48, "a memo entry's header (docs/design.md: the memo's memory)");
std::atomic<u64> g_memo_hits{0}, g_memo_fills{0}, g_memo_stale{0}, g_memo_quick{0};
// Captures the memo could not serve, by why: a key seen for the first time (or from new callers), a
// key refused (its frames could not be memoised), a fill over the budget (kMemoFreeFills).
std::atomic<u64> g_memo_first{0}, g_memo_refused{0}, g_memo_over_budget{0};

}  // namespace

// Frame sizes by return address, learnt from libgcc's fills: the distance from a frame's stack
// pointer at a call (its callee's CFA) to its own CFA, which is fixed at a call site unless the frame
// allocates a variable amount (then kSizeVaries, once two sizes were seen). With every size of a stack
// known, a fill needs only an ordinary capture: its slots follow from the caller's CFA. Lock-free,
// 4-way set-associative (one cache line a set), one word per entry written and read whole:
// pc << 16 | size. Sizes are learnt only by fills, which a thread pays for sparingly, so a size that
// is evicted stays unknown for a long time: with one way a set, two hot return addresses hashed to
// one entry (~1 run in 1,500 of e2e stack_memo's, by where ASLR put them) cost every quick fill of a
// run. A full set gives up the way its new address hashes to. Two threads may write one way at once:
// the last write stands, as if the other address had been evicted (a size is checked against the
// stack before it is used: SlotsHold).
namespace {
constexpr u32 kSizeSlots = 1u << 14;
constexpr u32 kSizeWays = 4;
constexpr u64 kSizeVaries = kFrameSizeVaries;
static_assert(kSizeVaries == 0xffff, "a size is the entry's low 16 bits");
alignas(64) std::atomic<u64> g_frame_size[kSizeSlots];
std::atomic<u64>* SizeSet(uptr pc) {
  return &g_frame_size[(Mix64(pc) & (kSizeSlots / kSizeWays - 1)) * kSizeWays];
}
}  // namespace

u64 FrameSizeOf(uptr pc) {
  std::atomic<u64>* set = SizeSet(pc);
  for (u32 w = 0; w < kSizeWays; w++) {
    u64 v = set[w].load(std::memory_order_relaxed);
    if ((v >> 16) == pc) return v & 0xffff;
  }
  return 0;
}
void NoteFrameSize(uptr pc, uptr size) {
  if (!pc || pc >> 47 || !size || (size & 7)) return;
  u64 sz = size < kSizeVaries ? size : kSizeVaries;
  std::atomic<u64>* set = SizeSet(pc);
  std::atomic<u64>* to = nullptr;
  for (u32 w = 0; w < kSizeWays; w++) {
    u64 v = set[w].load(std::memory_order_relaxed);
    if ((v >> 16) == pc) {
      u64 old = v & 0xffff;
      if (old != sz && old != kSizeVaries)
        set[w].store(static_cast<u64>(pc) << 16 | kSizeVaries, std::memory_order_relaxed);
      return;
    }
    if (!v && !to) to = &set[w];
  }
  if (!to) to = &set[(Mix64(pc) >> 32) % kSizeWays];
  to->store(static_cast<u64>(pc) << 16 | sz, std::memory_order_relaxed);
}

namespace {
u32 MemoIndex(uptr pc, uptr cfa, u32 entries) {
  u64 h = (pc ^ (cfa * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
  return static_cast<u32>(h >> 40) & (entries - 1);
}

// SlotsHold — every return address is still in its slot. The slots lie between the caller's frame
// and the top of the thread's stack (checked when the entry was filled), which is mapped while the
// thread runs below them; they may hold anything, so the loads are not instrumented.
LOCKSAN_NO_SANITIZE bool SlotsHold(const uptr* frames, const uptr* slots, u32 n) {
  for (u32 i = 0; i < n; i++)
    if (*reinterpret_cast<const uptr*>(slots[i]) != frames[i]) return false;
  return true;
}
}  // namespace

struct StackMemo {
  int depth;
  u32 entries;
  size_t entry_size;
  u64 lookups;
  u32 clock;
  // A fill (libgcc, with stack pointers) costs ~10-20 ordinary captures in a large program: a thread
  // fills only while its hits pay for its fills (kMemoFreeFills, then one fill per kMemoHitsPerFill
  // hits), so that a program whose call sites rarely repeat from the same callers loses nothing.
  u64 hits, fills;
  MemoEntry* At(u32 i) {
    return reinterpret_cast<MemoEntry*>(reinterpret_cast<char*>(this + 1) + i * entry_size);
  }
  static uptr* Frames(MemoEntry* e) { return reinterpret_cast<uptr*>(e + 1); }
  uptr* Slots(MemoEntry* e) const { return reinterpret_cast<uptr*>(e + 1) + depth; }
};

namespace {
size_t MemoBytes(int depth, u32 entries) {
  return sizeof(StackMemo) + entries * (sizeof(MemoEntry) + 2 * sizeof(uptr) * static_cast<size_t>(depth));
}
StackMemo* NewMemo(int depth, u32 entries) {
  StackMemo* memo = static_cast<StackMemo*>(InternalAlloc(MemoBytes(depth, entries)));
  memo->depth = depth;
  memo->entries = entries;
  memo->entry_size = sizeof(MemoEntry) + 2 * sizeof(uptr) * static_cast<size_t>(depth);
  return memo;
}
}  // namespace

void FreeStackMemo(StackMemo* memo) {
  if (memo) InternalFree(memo, MemoBytes(memo->depth, memo->entries));
}

void ClearStackMemo(StackMemo* memo) {
  if (!memo) return;
  memo->hits = memo->fills = memo->lookups = 0;
  memo->clock = 0;
  for (u32 i = 0; i < memo->entries; i++) memo->At(i)->state = 0;
}

namespace {
// PrefixDepot — the depot id of the entry's first k frames (k < n), kept for the next such answer.
u32 PrefixDepot(MemoEntry* e, int k) {
  if (e->prefix_n != k) {
    e->prefix_depot = StackDepotPut(StackMemo::Frames(e), k);
    e->prefix_n = static_cast<u8>(e->prefix_depot ? k : 0);
  }
  return e->prefix_depot;
}

// FillMemoEntry — frames[0..n) and their slots are in place: the entry is memoised; returns the
// caller's answer (at most `depth` frames).
int FillMemoEntry(MemoEntry* e, int n, bool partial, int depth, uptr* pcs, u32* depot, StackMemoAux** aux) {
  const uptr* frames = StackMemo::Frames(e);
  static_assert(kMaxStackDepth <= 255, "an entry's frame count is one byte");
  e->n = static_cast<u8>(n);
  e->partial = partial;
  e->depot = StackDepotPut(frames, n);
  e->state = kMemoFilled;
  e->aux = StackMemoAux{};
  if (aux) *aux = &e->aux;
  int out = n < depth ? n : depth;
  memcpy(pcs, frames, static_cast<size_t>(out) * sizeof(uptr));
  e->prefix_n = 0;
  *depot = out == n ? e->depot : PrefixDepot(e, out);
  return out;
}
}  // namespace

int CaptureCallerStack(StackMemo** memo_slot, uptr pc, uptr cfa, uptr stack_lo, uptr stack_hi,
                       uptr* pcs, int depth, int memo_depth, u32* depot, StackMemoAux** aux) {
  *depot = 0;
  if (aux) *aux = nullptr;
  if (memo_depth > kMaxStackDepth) memo_depth = kMaxStackDepth;
  if (depth > memo_depth) depth = memo_depth;
  StackMemo* memo = *memo_slot;
  // x86-64 only: a return address is read at its callee's CFA - 8 (the slots below rely on it).
#if defined(__x86_64__)
  constexpr bool kArch = true;
#else
  constexpr bool kArch = false;
#endif
  bool usable = kArch && pc && cfa > stack_lo && cfa < stack_hi && memo_depth > 0;
  if (!usable) return CaptureUserStack(pcs, nullptr, depth);
  if (memo && memo->depth != memo_depth) {  // the depth changed (tests): start again
    FreeStackMemo(memo);
    *memo_slot = memo = nullptr;
  }
  if (!memo) *memo_slot = memo = NewMemo(memo_depth, kMemoSmall);
  if (++memo->lookups == kMemoGrowAfter && memo->entries < kMemoLarge) {
    StackMemo* big = NewMemo(memo_depth, kMemoLarge);
    big->hits = memo->hits;
    big->fills = memo->fills;
    big->lookups = memo->lookups;
    FreeStackMemo(memo);
    *memo_slot = memo = big;
  }
  // The key's set: a way whose stack still holds is the answer; else a way where the key was seen
  // once is filled now; else the least recently used way (an empty one first) records the sighting.
  u32 set = MemoIndex(pc, cfa, memo->entries / kMemoWays) * kMemoWays;
  u32 now = ++memo->clock;
  MemoEntry* seen = nullptr;
  MemoEntry* victim = nullptr;
  bool stale = false, refused = false;
  for (u32 w = 0; w < kMemoWays; w++) {
    MemoEntry* x = memo->At(set + w);
    if (x->state != 0 && x->pc == pc && x->cfa == cfa) {
      if (x->state == kMemoFilled && x->partial && depth > x->n) {
        // Memoised for a shorter answer: filled again, whole, for this one. Seen, not filled, from
        // here: a fill writes the entry's frames and slots before it knows it will succeed, and a
        // filled entry's depot ids must stay those of its frames.
        // A key memoised once and asked for again recurs: its whole fill is not refused by the budget
        // (kMemoRecurring), or a lock class's member asked for its 8 frames, then the whole stack
        // for its order check, would have its entry filled short and marked seen again every time.
        x->state = kMemoSeen;
        x->budget_refusals = kMemoRecurring - 1;
        seen = x;
      } else if (x->state == kMemoFilled) {
        // Only the frames asked for are checked (each return address in its own slot): a shorter
        // answer (a lock's 8-frame "first locked at" stack) reads 8 of the entry's slots, not all.
        int k = x->n < depth ? x->n : depth;
        if (SlotsHold(StackMemo::Frames(x), memo->Slots(x), static_cast<u32>(k))) {
          memo->hits++;
          x->used = now;
          if (g_capture_timing) g_memo_hits.fetch_add(1, std::memory_order_relaxed);
          memcpy(pcs, StackMemo::Frames(x), static_cast<size_t>(k) * sizeof(uptr));
          *depot = k == x->n ? x->depot : PrefixDepot(x, k);
          if (aux) *aux = k == x->n ? &x->aux : nullptr;  // derived from all the entry's frames
          return k;
        }
        stale = true;  // the same call at the same depth, called from elsewhere this time
      } else if (x->state == kMemoSeen) {
        seen = x;
      } else {
        refused = true;
      }
    }
    if (!victim || (victim->state != 0 && (x->state == 0 || x->used < victim->used))) victim = x;
  }
  if (stale && g_capture_timing) g_memo_stale.fetch_add(1, std::memory_order_relaxed);
  if (refused || !seen) {
    if (g_capture_timing) (refused ? g_memo_refused : g_memo_first).fetch_add(1, std::memory_order_relaxed);
    if (!refused) {  // first sighting (of this key, or of this key from these callers)
      victim->pc = pc;
      victim->cfa = cfa;
      victim->state = kMemoSeen;
      victim->budget_refusals = 0;
      victim->used = now;
    }
    return CaptureUserStack(pcs, nullptr, depth);
  }
  MemoEntry* e = seen;
  e->used = now;
  uptr* frames = StackMemo::Frames(e);
  uptr* slots = memo->Slots(e);
  // The key's second capture: memoise it — the frames asked for (a shorter answer, a lock's 8-frame
  // class key, memoises only those: a partial entry, filled again whole if a longer answer is asked
  // for; fewer frames to unwind, fewer sizes a quick fill needs, fewer slots that must still hold).
  // First an ordinary capture, whose slots follow from the caller's CFA when every frame's size is
  // known (a quick fill: what a miss costs anyway). (depth <= memo_depth: clamped above.)
  uptr p[kMaxStackDepth + 16], sp[kMaxStackDepth + 16];
  int n = CaptureUserStack(p, nullptr, depth);
  bool ok = n > 0 && p[0] == pc;
  uptr at = cfa;  // frame i's stack pointer (its callee's CFA)
  for (int i = 0; ok && i < n; i++) {
    uptr slot = at - sizeof(uptr);
    ok = slot + sizeof(uptr) <= stack_hi;
    frames[i] = p[i];
    slots[i] = slot;
    if (i + 1 < n) {
      u64 size = FrameSizeOf(p[i]);
      ok = ok && size && size != kSizeVaries;
      at += size;
    }
  }
  if (ok && SlotsHold(frames, slots, static_cast<u32>(n))) {
    if (g_capture_timing) g_memo_quick.fetch_add(1, std::memory_order_relaxed);
    // n == depth < memo_depth: the stack may go on (partial); fewer: it ended there.
    return FillMemoEntry(e, n, depth < memo_depth && n == depth, depth, pcs, depot, aux);
  }
  if (memo->fills >= kMemoFreeFills && memo->fills * kMemoHitsPerFill > memo->hits &&
      ++e->budget_refusals < kMemoRecurring) {
    if (g_capture_timing) g_memo_over_budget.fetch_add(1, std::memory_order_relaxed);
    int out = n < depth ? n : depth;  // no slow fill now: the capture is the answer
    memcpy(pcs, p, static_cast<size_t>(out) * sizeof(uptr));
    return out;
  }
  // Then libgcc, with each frame's stack pointer: its slots, and the sizes of its frames for later.
  int want = depth + 16;
  n = CaptureStackGcc(p, sp, want, 0);
  int first = 0;
  while (first < n && InRuntime(p[first])) first++;
  for (int i = first; i + 1 < n; i++) NoteFrameSize(p[i], sp[i + 1] - sp[i]);
  // A frame's stack pointer is its callee's CFA, so its return address was read at sp - 8.
  ok = first < n && p[first] == pc && sp[first] == cfa && (n - first >= depth || n < want);
  bool partial = depth < memo_depth && (n - first > depth || n == want);
  uptr last = cfa - 2 * sizeof(uptr);
  int k = 0;
  for (int i = first; ok && i < n && k < depth; i++, k++) {
    uptr slot = sp[i] - sizeof(uptr);
    ok = slot > last && slot + sizeof(uptr) <= stack_hi && (slot & (sizeof(uptr) - 1)) == 0;
    frames[k] = p[i];
    slots[k] = slot;
    last = slot;
  }
  ok = ok && k > 0 && SlotsHold(frames, slots, static_cast<u32>(k));
  memo->fills++;  // paid, memoised or not
  if (ok) {
    if (g_capture_timing) g_memo_fills.fetch_add(1, std::memory_order_relaxed);
    return FillMemoEntry(e, k, partial, depth, pcs, depot, aux);
  }
  e->state = kMemoRefused;
  k = 0;
  for (int i = first; i < n && k < depth; i++, k++) pcs[k] = p[i];
  return k;
}

void SetCaptureTiming(bool on) { g_capture_timing = on; }

u64 UnwinderTablesCreated() { return g_unw_tables.load(std::memory_order_relaxed); }
u64 UnwinderTableEstimateNs() { return g_unw_table_ns.load(std::memory_order_relaxed); }
void SetUnwinderTableEstimateNs(u64 ns) { g_unw_table_ns.store(ns, std::memory_order_relaxed); }

int CaptureTimingLine(char* buf, int size) {
  if (size <= 0) return 0;
  int len = 0;
  buf[0] = 0;
  const char* names[2] = {"libunwind", "libgcc"};
  for (int w = 0; w < 2 && len < size - 1; w++) {
    u64 total = 0, h[32];
    for (int b = 0; b < 32; b++) total += h[b] = g_capture_hist[w][b].load(std::memory_order_relaxed);
    if (!total) continue;
    // Bucket b holds durations in [2^b, 2^(b+1)) ns: the quantile's bucket's upper bound.
    auto quantile = [&](u64 q_num, u64 q_den) {
      u64 want = (total * q_num + q_den - 1) / q_den, seen = 0;
      for (int b = 0; b < 32; b++)
        if ((seen += h[b]) >= want) return u64{1} << (b + 1);
      return u64{1} << 32;
    };
    char tables[96] = "";
    if (w == 0)
      snprintf(tables, sizeof tables, "; %llu threads' tables, each ~%llu us to create",
               static_cast<unsigned long long>(UnwinderTablesCreated()),
               static_cast<unsigned long long>(UnwinderTableEstimateNs() / 1000));
    int k = snprintf(buf + len, static_cast<size_t>(size - len),
                     "%s%s %llu captures (%.1f frames each; median < %llu ns, 90%% < %llu ns, "
                     "99%% < %llu ns%s)",
                     len ? ", " : "", names[w], static_cast<unsigned long long>(total),
                     static_cast<double>(g_capture_frames[w].load(std::memory_order_relaxed)) / total,
                     static_cast<unsigned long long>(quantile(1, 2)),
                     static_cast<unsigned long long>(quantile(9, 10)),
                     static_cast<unsigned long long>(quantile(99, 100)), tables);
    if (k > 0) len = len + k < size - 1 ? len + k : size - 1;  // truncated: stop there
  }
  u64 hits = g_memo_hits.load(std::memory_order_relaxed), fills = g_memo_fills.load(std::memory_order_relaxed);
  u64 stale = g_memo_stale.load(std::memory_order_relaxed), quick = g_memo_quick.load(std::memory_order_relaxed);
  if ((hits || fills || stale || quick) && len < size - 1) {
    int k = snprintf(buf + len, static_cast<size_t>(size - len),
                     "%sstack memo: %llu stacks reused without an unwind, %llu memoised (%llu from known frame "
                     "sizes), %llu found changed; captured without it: %llu first sightings, %llu of keys "
                     "it refused, %llu past its fill budget",
                     len ? "; " : "", static_cast<unsigned long long>(hits),
                     static_cast<unsigned long long>(fills + quick), static_cast<unsigned long long>(quick),
                     static_cast<unsigned long long>(stale),
                     static_cast<unsigned long long>(g_memo_first.load(std::memory_order_relaxed)),
                     static_cast<unsigned long long>(g_memo_refused.load(std::memory_order_relaxed)),
                     static_cast<unsigned long long>(g_memo_over_budget.load(std::memory_order_relaxed)));
    if (k > 0) len = len + k < size - 1 ? len + k : size - 1;
  }
  return len;
}

// FunctionStart — via libgcc's FDE lookup (lock-free with glibc's _dl_find_object), remembered in a
// lock-free direct-mapped table: rebuilding a "previously acquired" stack asks for the entry address
// of every frame of the current stack (one FDE lookup each, ~400 instructions), and new edges are made
// from the same code again and again. One 64-bit word per entry, written and read whole: the pc
// (user-space addresses fit in 47 bits) above the distance to the function's entry (below 2^17;
// larger ones are not remembered). A code object unloaded (dlclose) and another one loaded at its
// address could be given a stale entry address: the rebuilt stack then keeps more or fewer shared
// frames; nothing else depends on it.
namespace {
constexpr int kStartBits = 17;
constexpr u32 kStartSlots = 1u << 15;
std::atomic<u64> g_start_memo[kStartSlots];
std::atomic<u64>& StartSlot(uptr pc) { return g_start_memo[Mix64(pc) & (kStartSlots - 1)]; }
}  // namespace

static uptr FunctionStartUncached(uptr pc);

uptr FunctionStart(uptr pc) {
  if (!pc) return 0;
  std::atomic<u64>& slot = StartSlot(pc);
  u64 v = slot.load(std::memory_order_relaxed);
  if (v && (v >> kStartBits) == pc) return pc - (v & ((u64{1} << kStartBits) - 1));
  uptr start = FunctionStartUncached(pc);
  if (start && start <= pc && pc - start < (uptr{1} << kStartBits) && pc < (uptr{1} << (64 - kStartBits)))
    slot.store(static_cast<u64>(pc) << kStartBits | (pc - start), std::memory_order_relaxed);
  return start;
}

static uptr FunctionStartUncached(uptr pc) {
  if (g_unw_state.load(std::memory_order_acquire) == 0) {
    LoaderLockScope loader;
    if (!loader.ok()) return 0;
    InitUnwinder();
  }
  if (g_unw_state.load(std::memory_order_acquire) <= 0 || !g_gcc.find_fde) return 0;
  UnwindScope scope(false);
  if (!scope.entered()) return 0;
  LoaderLockScope loader(!g_have_dl_find_object);  // see CaptureStackLocked
  if (!g_have_dl_find_object && !loader.ok()) return 0;
  DwarfEhBases bases{};
  if (!g_gcc.find_fde(reinterpret_cast<void*>(pc), &bases)) return 0;
  return reinterpret_cast<uptr>(bases.func);
}

// ---------------------------------------------------------------------------------------------
// Frames with their callee-saved registers (CaptureFrameRegs)
// ---------------------------------------------------------------------------------------------
namespace {
#if defined(__x86_64__)
// DWARF numbers of rbx, rbp, r12, r13, r14, r15 (the order of FrameRegs::regs).
constexpr int kDwarfCalleeSaved[kFrameRegsSaved] = {3, 6, 12, 13, 14, 15};
#endif

struct RegsState {
  FrameRegs* out;
  int max;
  int n;
};

_Unwind_Reason_Code RegsTrace(struct _Unwind_Context* ctx, void* arg) {
  RegsState* s = static_cast<RegsState*>(arg);
  uptr pc = g_gcc.get_ip(ctx);
  if (!pc) return _URC_END_OF_STACK;
  // libgcc's context holds the callee's CFA while the trace function runs: this frame's stack
  // pointer, and the CFA of the frame recorded before it.
  uptr sp = g_gcc.get_cfa(ctx);
  if (s->n > 0 && !s->out[s->n - 1].cfa) s->out[s->n - 1].cfa = sp;
  if (InRuntime(pc)) return _URC_NO_REASON;  // the runtime's own frames (only the innermost ones)
  if (s->n >= s->max) return _URC_END_OF_STACK;
  FrameRegs& f = s->out[s->n++];
  f.pc = pc;
  f.sp = sp;
  f.cfa = 0;  // set at the next frame (0 for the outermost one: its extent is unknown)
#if defined(__x86_64__)
  for (int i = 0; i < kFrameRegsSaved; i++) f.regs[i] = g_gcc.get_gr(ctx, kDwarfCalleeSaved[i]);
#endif
  return _URC_NO_REASON;
}
}  // namespace

LOCKSAN_NOINLINE int CaptureFrameRegs(FrameRegs* out, int max) {
#if !defined(__x86_64__)
  (void)out;
  (void)max;
  return 0;
#else
  if (max <= 0 || g_unw_state.load(std::memory_order_acquire) <= 0) return 0;
  if (!g_gcc.backtrace || !g_gcc.get_gr) return 0;
  ScopedBlockSignals no_signals(ProgramHasSignalHandlers());  // see CaptureStackLocked
  UnwindScope scope(false);
  if (!scope.entered()) return 0;
  LoaderLockScope loader(!g_have_dl_find_object);
  if (!g_have_dl_find_object && !loader.ok()) return 0;
  RegsState s{out, max, 0};
  g_gcc.backtrace(RegsTrace, &s);
  return s.n;
#endif
}

// ---------------------------------------------------------------------------------------------
// Stack depot
// ---------------------------------------------------------------------------------------------
namespace {

struct StackRec {
  StackRec* next;  // same hash bucket
  u64 hash;
  u32 id;
  u32 size;
  uptr pcs[1];
};

constexpr u32 kIdsPerChunk = 1 << 16;
constexpr u32 kMaxChunks = 1 << 14;  // 2^30 stacks

struct Depot {
  RuntimeMutex mu;
  FlatMap<StackRec*> by_hash;
  std::atomic<StackRec**> chunks[kMaxChunks] = {};
  std::atomic<u32> count{0};
  std::atomic<size_t> bytes{0};
};
Depot* g_depot;
RuntimeMutex g_depot_init_mu;

Depot* GetDepot() {
  Depot* d = __atomic_load_n(&g_depot, __ATOMIC_ACQUIRE);
  if (LOCKSAN_LIKELY(d)) return d;
  RuntimeLockGuard lock(&g_depot_init_mu);
  if (!g_depot) __atomic_store_n(&g_depot, InternalNew<Depot>(), __ATOMIC_RELEASE);
  return g_depot;
}

u64 HashPcs(const uptr* pcs, int size) {
  u64 h = 0x9e3779b97f4a7c15ULL ^ static_cast<u64>(size);
  for (int i = 0; i < size; i++) h = Mix64(h ^ pcs[i]);
  return h | 1;  // never 0 (FlatMap's empty key)
}

}  // namespace

u32 StackDepotPut(const uptr* pcs, int size) {
  if (size <= 0) return 0;
  Depot* d = GetDepot();
  u64 h = HashPcs(pcs, size);
  RuntimeLockGuard lock(&d->mu);
  StackRec** head = d->by_hash.Find(h);
  for (StackRec* r = head ? *head : nullptr; r; r = r->next)
    if (r->size == static_cast<u32>(size) && !memcmp(r->pcs, pcs, size * sizeof(uptr))) return r->id;
  u32 id = d->count.load(std::memory_order_relaxed) + 1;
  u32 chunk = id / kIdsPerChunk;
  if (chunk >= kMaxChunks) return 0;
  size_t bytes = sizeof(StackRec) + (size - 1) * sizeof(uptr);
  StackRec* r = static_cast<StackRec*>(InternalAlloc(bytes));
  r->hash = h;
  r->id = id;
  r->size = static_cast<u32>(size);
  memcpy(r->pcs, pcs, size * sizeof(uptr));
  r->next = head ? *head : nullptr;
  d->by_hash.Insert(h, r);
  StackRec** c = d->chunks[chunk].load(std::memory_order_relaxed);
  if (!c) {
    c = static_cast<StackRec**>(InternalAlloc(kIdsPerChunk * sizeof(StackRec*)));
    d->chunks[chunk].store(c, std::memory_order_release);
    d->bytes.fetch_add(kIdsPerChunk * sizeof(StackRec*), std::memory_order_relaxed);
  }
  __atomic_store_n(&c[id % kIdsPerChunk], r, __ATOMIC_RELEASE);
  d->count.store(id, std::memory_order_release);
  d->bytes.fetch_add(bytes, std::memory_order_relaxed);
  return id;
}

StackTrace StackDepotGet(u32 id) {
  Depot* d = GetDepot();
  if (id == 0 || id > d->count.load(std::memory_order_acquire)) return {0, nullptr};
  StackRec** c = d->chunks[id / kIdsPerChunk].load(std::memory_order_acquire);
  if (!c) return {0, nullptr};
  StackRec* r = __atomic_load_n(&c[id % kIdsPerChunk], __ATOMIC_ACQUIRE);
  if (!r) return {0, nullptr};
  return {r->size, r->pcs};
}

size_t StackDepotMemoryBytes() {
  Depot* d = GetDepot();
  return d->bytes.load(std::memory_order_relaxed) + d->by_hash.MemoryBytes();
}
void UnwindForkLock() {
  g_fork_pending.fetch_add(1, std::memory_order_seq_cst);
  // An unwind that began before the flag was set ends within microseconds, unless its thread is in
  // a signal handler (or is this thread): then the fork goes ahead and the child captures no stacks.
  for (int waited_us = 0; g_unwinders.load(std::memory_order_seq_cst) != 0;) {
    if (t_unwinding || waited_us >= kForkWaitMs * 1000) {
      g_fork_unsafe = true;
      break;
    }
    if (waited_us < 1000) {
      sched_yield();
      waited_us += 10;
    } else {
      SleepUs(200);
      waited_us += 200;
    }
  }
}
void UnwindForkUnlock(bool child) {
  if (child) {
    if (g_fork_unsafe) g_unwind_disabled = true;
    g_unwinders.store(t_unwinding ? 1 : 0, std::memory_order_relaxed);
    // Only this thread exists in the child: the others' iterations and loader scopes are gone.
    g_runtime_loader_users.store(t_loader_scopes, std::memory_order_relaxed);
    g_program_iterating.store(t_program_iterating, std::memory_order_relaxed);
    g_fork_pending.store(0, std::memory_order_release);
  } else {
    g_fork_pending.fetch_sub(1, std::memory_order_release);
  }
  g_fork_unsafe = false;
}
void StackDepotForkLock() { GetDepot()->mu.Lock(); }
void StackDepotForkUnlock(bool child) {
  if (child) GetDepot()->mu.ResetAfterFork(); else GetDepot()->mu.Unlock();
}
size_t StackDepotCount() { return GetDepot()->count.load(std::memory_order_relaxed); }

}  // namespace locksan
