#include "core/cuda.h"

#include <link.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <new>

#include "core/gil.h"
#include "core/internal_alloc.h"
#include "core/hooks.h"
#include "core/output.h"
#include "core/pycallback.h"
#include "core/runtime_internal.h"
#include "core/stack.h"

namespace locksan {
namespace {

std::atomic<uptr> g_cuda_lo{0}, g_cuda_hi{0};
alignas(8) char g_stream_pseudo_lock;  // its address is the CUDA-STREAM pseudo-lock's identity

uptr StreamAddr() { return reinterpret_cast<uptr>(&g_stream_pseudo_lock); }

int FindLibcuda(struct dl_phdr_info* info, size_t, void*) {
  const char* name = info->dlpi_name;
  const char* base = name ? strrchr(name, '/') : nullptr;
  base = base ? base + 1 : name;
  if (!base || strncmp(base, "libcuda.so", 10) != 0) return 0;
  uptr lo = ~uptr{0}, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uptr a = info->dlpi_addr + ph.p_vaddr;
    if (a < lo) lo = a;
    if (a + ph.p_memsz > hi) hi = a + ph.p_memsz;
  }
  g_cuda_lo.store(lo, std::memory_order_relaxed);
  g_cuda_hi.store(hi, std::memory_order_release);
  return 1;
}

bool HoldsLibcudaLock(ThreadState* ts) {
  if (!__atomic_load_n(&g_libcuda_locks, __ATOMIC_RELAXED)) return false;
  for (u32 i = 0; i < ts->Nheld(); i++) {
    const HeldLock& h = ts->held[i];
    if (h.libcuda && h.lock->gen.load(std::memory_order_relaxed) == h.gen) return true;
  }
  return false;
}

FlatMap<u8>* g_cb_reported;
RuntimeMutex g_cb_mu;

void ReportCallbackInDriverCall(ThreadState* ts) {
  ScopedInRuntime guard;
  const char* call = ts->driver_depth ? InnermostDriverCall(ts) : nullptr;
  uptr pcs[kMaxStackDepth];
  int n = CaptureUserStack(pcs, nullptr, GetFlags().stack_depth);
  u32 stack = StackDepotPut(pcs, n);
  // Once per call site: the driver call and the Python stack that made it (its code objects and
  // instruction offsets), or the native stack where there is no Python stack. Not the native stack
  // when there is one: CPython 3.11+ specialises a call instruction after its first run, so the second
  // call from the same line runs another part of the eval loop (another native stack).
  u32 py_stack = CapturePyStack();
  u64 site = py_stack ? (u64{py_stack} << 20) ^ 0x5079 : u64{stack} << 20;
  u64 sig = Mix64(reinterpret_cast<uptr>(call) ^ site ^ 0xcafe) | 1;
  {
    RuntimeLockGuard lock(&g_cb_mu);
    if (!g_cb_reported) g_cb_reported = InternalNew<FlatMap<u8>>();
    if (g_cb_reported->Find(sig)) return;
    g_cb_reported->Insert(sig, 1);
  }
  ReportDesc r;
  r.kind = ReportKind::kPythonCallbackInDriverCall;
  r.signature = sig;
  r.current_thread = ts->number;
  r.current_stack = stack;
  r.current_py_stack = py_stack;
  r.current_py_callback = CapturePyCallback(pcs, n);
  r.current_driver_call = call;
  for (u32 i = 0; i < ts->Nheld(); i++) {
    const HeldLock& h = ts->held[i];
    if (h.lock->gen.load(std::memory_order_relaxed) != h.gen) continue;
    r.held.push_back({ts->number, h.id, h.addr, h.kind, h.mode, h.pc});
    internal::FillLockById(&r, h.id);
  }
  ReportWait self{};
  self.thread = ts->number;
  self.holder = ts->number;
  r.waits.push_back(self);  // so that the thread is described
  internal::FillThreadsOf(&r);
  r.waits.clear();
  internal::EmitReportNumbered(&r);
}

// Driver calls counted by callback id (verbosity >= 1). CUPTI's driver callback ids are below ~1000.
constexpr u32 kCountedIds = 2048;
bool g_count_calls = false;
std::atomic<u64>* g_call_counts;         // [kCountedIds]
std::atomic<const char*>* g_call_names;  // [kCountedIds]

LOCKSAN_NOINLINE void CountDriverCall(const char* name, uint32_t cbid) {
  u32 i = cbid < kCountedIds ? cbid : 0;
  g_call_counts[i].fetch_add(1, std::memory_order_relaxed);
  if (!g_call_names[i].load(std::memory_order_relaxed))
    g_call_names[i].store(cbid < kCountedIds ? name : "other", std::memory_order_relaxed);
}

// cuda_calls=adaptive: a driver function that was called `g_quiet_after` times in a row without
// the calling thread taking a lock for the first time inside it is no longer reported by CUPTI (its
// callback is turned off): what the detector takes from such a call is the name it gives the locks
// first taken in it, and it has not named one for that long. The functions the rules need
// (IsSyncDriverCall, IsCallbackDriverCall) are always kept. docs/gpu.md, "cuda_calls=adaptive".
//
// States of a callback id. Marked: no longer tracked by the detector (an enter is not pushed), the
// CUPTI callback not yet off. Pruned: the callback is off. An enter pushed before the mark may never
// see its exit: InnermostDriverCall drops such calls from the top of a thread's stack.
enum : u8 { kIdUnknown = 0, kIdKeep, kIdCounted, kIdMarked, kIdPruned, kIdFailed };
constexpr u32 kPruneIds = kCountedIds;
std::atomic<u8> g_id_state[kPruneIds];
std::atomic<u32> g_id_quiet[kPruneIds];
std::atomic<const char*> g_id_name[kPruneIds];
std::atomic<bool (*)(uint32_t)> g_disable_call{nullptr};
u32 g_quiet_after = 0;
std::atomic<bool> g_pruner_running{false};
std::atomic<u32> g_pruned{0};

// Acquire: pairs with SetDriverCallPruner's release, so that g_quiet_after is seen set (the pruner is
// installed while CUPTI callbacks already run on other threads).
bool Pruning() { return g_disable_call.load(std::memory_order_acquire) != nullptr; }

bool Gone(u32 id) { return id < kPruneIds && g_id_state[id].load(std::memory_order_relaxed) >= kIdMarked; }

// The pruner: a short-lived thread of locksan's own that turns the marked callbacks off. Not the
// program thread that marked one (it is inside CUPTI's dispatch, where CUPTI's own calls are not
// documented to be allowed) and not the watchdog (a CUPTI call that waited for a driver lock held in
// a deadlock would stop the watchdog from reporting it).
void* PrunerMain(void*) {
  t_local.disabled = kTornDown;  // never watched
  for (;;) {
    bool (*disable)(uint32_t) = g_disable_call.load(std::memory_order_acquire);
    for (u32 id = 0; disable && id < kPruneIds; id++) {
      if (g_id_state[id].load(std::memory_order_acquire) != kIdMarked) continue;
      // Off or not, the function stays marked (untracked); only a success counts as pruned.
      if (disable(id)) {
        g_id_state[id].store(kIdPruned, std::memory_order_release);
        g_pruned.fetch_add(1, std::memory_order_relaxed);
      } else {
        g_id_state[id].store(kIdFailed, std::memory_order_release);  // never retried
      }
    }
    g_pruner_running.store(false, std::memory_order_seq_cst);
    bool more = false;
    for (u32 id = 0; id < kPruneIds && !more; id++)
      more = g_id_state[id].load(std::memory_order_seq_cst) == kIdMarked;
    if (!more || g_pruner_running.exchange(true)) return nullptr;
  }
}

void StartPruner() {
  if (g_pruner_running.exchange(true)) return;
  ScopedInRuntime guard;  // the preload's pthread_create passes it through untracked
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);  // CUPTI's code runs on it
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  if (pthread_create(&th, &attr, PrunerMain, nullptr) != 0) g_pruner_running.store(false);
  pthread_attr_destroy(&attr);
}

LOCKSAN_NOINLINE void ClassifyCall(u32 id, const char* name) {
  g_id_name[id].store(name, std::memory_order_relaxed);
  u8 expected = kIdUnknown;
  g_id_state[id].compare_exchange_strong(
      expected, IsSyncDriverCall(name) || IsCallbackDriverCall(name) ? kIdKeep : kIdCounted,
      std::memory_order_relaxed);
}

// Drops from the top of the thread's driver-call stack the calls whose exits will not be reported.
void DropUntracked(ThreadState* ts) {
  u32 d = ts->driver_depth;
  while (d && d <= kMaxDriverDepth && Gone(ts->driver_ids[d - 1])) d--;
  ts->driver_depth = d;
}

// A call of `id` ended: count it (quiet) or start the count again.
void CountQuiet(u32 id, bool quiet) {
  if (id >= kPruneIds || g_id_state[id].load(std::memory_order_relaxed) != kIdCounted) return;
  if (!quiet) {
    g_id_quiet[id].store(0, std::memory_order_relaxed);
    return;
  }
  // Racy on purpose (no read-modify-write on every call): a lost count only delays the pruning.
  u32 q = g_id_quiet[id].load(std::memory_order_relaxed) + 1;
  g_id_quiet[id].store(q, std::memory_order_relaxed);
  if (q < g_quiet_after) return;
  u8 expected = kIdCounted;
  if (g_id_state[id].compare_exchange_strong(expected, kIdMarked, std::memory_order_acq_rel)) StartPruner();
}

}  // namespace

void CountDriverCalls(bool on) {
  if (!on || g_count_calls) return;
  g_call_counts = static_cast<std::atomic<u64>*>(InternalAlloc(kCountedIds * sizeof(std::atomic<u64>)));
  g_call_names =
      static_cast<std::atomic<const char*>*>(InternalAlloc(kCountedIds * sizeof(std::atomic<const char*>)));
  for (u32 i = 0; i < kCountedIds; i++) {
    new (&g_call_counts[i]) std::atomic<u64>(0);
    new (&g_call_names[i]) std::atomic<const char*>(nullptr);
  }
  g_count_calls = true;
}

int DriverCallCountsLine(char* buf, int size) {
  if (!g_count_calls || size <= 0) return 0;
  u64 total = 0;
  for (u32 i = 0; i < kCountedIds; i++) total += g_call_counts[i].load(std::memory_order_relaxed);
  if (!total) return 0;
  constexpr int kTop = 8;
  u32 top[kTop];
  int ntop = 0;
  for (u32 i = 0; i < kCountedIds; i++) {
    u64 c = g_call_counts[i].load(std::memory_order_relaxed);
    if (!c) continue;
    int at = ntop < kTop ? ntop++ : kTop;
    if (at == kTop) {
      if (c <= g_call_counts[top[kTop - 1]].load(std::memory_order_relaxed)) continue;
      at = kTop - 1;
    }
    while (at > 0 && g_call_counts[top[at - 1]].load(std::memory_order_relaxed) < c) {
      top[at] = top[at - 1];
      at--;
    }
    top[at] = i;
  }
  int len = snprintf(buf, size, "%llu (", static_cast<unsigned long long>(total));
  for (int k = 0; k < ntop && len > 0 && len < size; k++) {
    const char* name = g_call_names[top[k]].load(std::memory_order_relaxed);
    len += snprintf(buf + len, size - len, "%s%s %llu", k ? ", " : "", name ? name : "?",
                    static_cast<unsigned long long>(g_call_counts[top[k]].load(std::memory_order_relaxed)));
  }
  if (len > 0 && len < size) len += snprintf(buf + len, size - len, "%s)", ntop == kTop ? ", ..." : "");
  return len < size ? len : size - 1;
}

void CudaForkLock() { g_cb_mu.Lock(); }
void CudaForkUnlock(bool child) {
  if (child) {
    g_cb_mu.ResetAfterFork();
    g_pruner_running.store(false, std::memory_order_relaxed);  // a pruner of the parent is not here
  } else {
    g_cb_mu.Unlock();
  }
}

void RefreshLibcuda() {
  if (g_cuda_hi.load(std::memory_order_acquire)) return;
  // Not while a program thread is inside dl_iterate_phdr: its callback may wait for this thread
  // (libcuda is looked for again next time).
  LoaderLockScope loader;
  if (!loader.ok()) return;
  dl_iterate_phdr(FindLibcuda, nullptr);
}

bool g_libcuda_locks = false;

bool InLibcuda(uptr pc) {
  uptr hi = g_cuda_hi.load(std::memory_order_acquire);
  return hi && pc >= g_cuda_lo.load(std::memory_order_relaxed) && pc < hi;
}

bool CreatedByDriver(uptr pc) {
  RefreshLibcuda();
  return InLibcuda(pc);
}

void CudaOnGilTakeSlow(ThreadState* ts, uptr pc, uptr sp) {
  if ((ts->driver_depth && InnermostDriverCall(ts)) || (ts->Nheld() && HoldsLibcudaLock(ts)))
    ReportCallbackInDriverCall(ts);
  if (ts->driver_thread && !ts->holds_stream) {
    // A host function (or stream callback) starts running Python: it holds the stream's work.
    Acquire a;
    BeginAcquire(ts, StreamAddr(), LockKind::kCudaStream, kWrite, /*is_try=*/true, pc, sp, &a);
    EndAcquire(ts, &a, true);
    ts->holds_stream = true;
  }
}

void CudaOnGilReleased(ThreadState* ts) {
  if (!ts->holds_stream) return;
  ts->holds_stream = false;
  OnRelease(ts, StreamAddr());
}

// ---------------------------------------------------------------------------------------------
// Driver-API hooks (core/hooks.h)
// ---------------------------------------------------------------------------------------------
void OnDriverApiEnter(const char* function_name, uint32_t cbid, const char*) {
  if (LOCKSAN_UNLIKELY(g_count_calls)) CountDriverCall(function_name, cbid);
  ThreadState* ts = t_local.ts;
  if (!ts || t_local.in_runtime) return;
  if (Pruning() && cbid < kPruneIds) {
    u8 st = g_id_state[cbid].load(std::memory_order_relaxed);
    if (st >= kIdMarked) return;  // no longer tracked; its exit is not popped either
    if (st == kIdUnknown) ClassifyCall(cbid, function_name);
  }
  if (ts->driver_depth < kMaxDriverDepth) {
    ts->driver_calls[ts->driver_depth] = function_name;
    ts->driver_ids[ts->driver_depth] = cbid;
    ts->driver_marks[ts->driver_depth] = ts->new_locks;
  }
  ts->driver_depth++;
  if (!ts->sync_depth && IsSyncDriverCall(function_name)) {
    // Waiting for the streams' work: the order check "held locks -> CUDA-STREAM", and the wait is
    // published for the watchdog.
    ts->sync_depth = ts->driver_depth;
    uptr pc = reinterpret_cast<uptr>(__builtin_return_address(0));
    BeginAcquire(ts, StreamAddr(), LockKind::kCudaStream, kWrite, false, pc,
                 reinterpret_cast<uptr>(__builtin_frame_address(0)), &ts->sync_acquire);
    SetOuterWait(ts, true);
  }
}

void OnDriverApiExit(uint32_t cbid) {
  ThreadState* ts = t_local.ts;
  if (!ts || !ts->driver_depth) return;
  u32 d = ts->driver_depth;
  bool quiet = false;
  if (d <= kMaxDriverDepth) {
    if (Pruning()) {
      DropUntracked(ts);
      d = ts->driver_depth;
      if (!d) return;
    }
    // Not the innermost call's exit: an enter that was not pushed (in the runtime, or no longer
    // tracked).
    if (ts->driver_ids[d - 1] != cbid) return;
    quiet = ts->driver_marks[d - 1] == ts->new_locks;
  }
  if (ts->sync_depth == d) {
    ts->sync_depth = 0;
    SetOuterWait(ts, false);
    EndAcquire(ts, &ts->sync_acquire, false);
  }
  ts->driver_depth = d - 1;
  if (Pruning()) CountQuiet(cbid, quiet);
}

const char* InnermostDriverCall(ThreadState* ts) {
  if (Pruning()) DropUntracked(ts);
  u32 d = ts->driver_depth < kMaxDriverDepth ? ts->driver_depth : kMaxDriverDepth;
  return d ? ts->driver_calls[d - 1] : nullptr;
}

const char* CurrentDriverCall() {
  ThreadState* ts = t_local.ts;
  if (!ts || !ts->driver_depth) return nullptr;
  return InnermostDriverCall(ts);
}

void SetDriverCallPruner(bool (*disable)(uint32_t cbid), uint32_t quiet_calls) {
  if (!disable || !quiet_calls) {
    g_disable_call.store(nullptr, std::memory_order_release);
    return;
  }
  g_quiet_after = quiet_calls;
  g_disable_call.store(disable, std::memory_order_release);
}

int PrunedDriverCallsLine(char* buf, int size) {
  if (size <= 0) return 0;
  u32 n = g_pruned.load(std::memory_order_relaxed);
  if (!n) return 0;
  int len = snprintf(buf, size, "%u (", n);
  int shown = 0;
  for (u32 id = 0; id < kPruneIds && len > 0 && len < size; id++) {
    if (g_id_state[id].load(std::memory_order_relaxed) != kIdPruned) continue;
    if (shown == 8) {
      len += snprintf(buf + len, size - len, ", ...");
      break;
    }
    const char* name = g_id_name[id].load(std::memory_order_relaxed);
    len += snprintf(buf + len, size - len, "%s%s", shown++ ? ", " : "", name ? name : "?");
  }
  if (len > 0 && len < size) len += snprintf(buf + len, size - len, ")");
  return len < size ? len : size - 1;
}

}  // namespace locksan
