#include "core/cuda.h"

#include <link.h>
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
  for (u32 i = 0; i < ts->Nheld(); i++) {
    const HeldLock& h = ts->held[i];
    if (h.lock->gen.load(std::memory_order_relaxed) == h.gen && h.lock->in_libcuda) return true;
  }
  return false;
}

FlatMap<u8>* g_cb_reported;
RuntimeMutex g_cb_mu;

void ReportCallbackInDriverCall(ThreadState* ts) {
  ScopedInRuntime guard;
  const char* call = ts->driver_depth ? ts->driver_calls[(ts->driver_depth < kMaxDriverDepth
                                                              ? ts->driver_depth
                                                              : kMaxDriverDepth) - 1]
                                      : nullptr;
  uptr pcs[kMaxStackDepth];
  int n = CaptureUserStack(pcs, nullptr, GetFlags().stack_depth);
  u32 stack = StackDepotPut(pcs, n);
  u64 sig = Mix64(reinterpret_cast<uptr>(call) ^ (u64{stack} << 20) ^ 0xcafe) | 1;
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
  r.current_py_stack = CapturePyStack();
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
  if (child) g_cb_mu.ResetAfterFork(); else g_cb_mu.Unlock();
}

void RefreshLibcuda() {
  if (g_cuda_hi.load(std::memory_order_acquire)) return;
  // Not while a program thread is inside dl_iterate_phdr: its callback may wait for this thread
  // (libcuda is looked for again next time).
  LoaderLockScope loader;
  if (!loader.ok()) return;
  dl_iterate_phdr(FindLibcuda, nullptr);
}

bool InLibcuda(uptr pc) {
  uptr hi = g_cuda_hi.load(std::memory_order_acquire);
  return hi && pc >= g_cuda_lo.load(std::memory_order_relaxed) && pc < hi;
}

bool CreatedByDriver(uptr pc) {
  RefreshLibcuda();
  return InLibcuda(pc);
}

void CudaOnGilTake(ThreadState* ts, uptr pc, uptr sp) {
  if (ts->driver_depth || (ts->Nheld() && HoldsLibcudaLock(ts))) ReportCallbackInDriverCall(ts);
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
  if (ts->driver_depth < kMaxDriverDepth) ts->driver_calls[ts->driver_depth] = function_name;
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

void OnDriverApiExit(uint32_t) {
  ThreadState* ts = t_local.ts;
  if (!ts || !ts->driver_depth) return;
  if (ts->sync_depth == ts->driver_depth) {
    ts->sync_depth = 0;
    SetOuterWait(ts, false);
    EndAcquire(ts, &ts->sync_acquire, false);
  }
  ts->driver_depth--;
}

const char* CurrentDriverCall() {
  ThreadState* ts = t_local.ts;
  if (!ts || !ts->driver_depth) return nullptr;
  u32 d = ts->driver_depth < kMaxDriverDepth ? ts->driver_depth : kMaxDriverDepth;
  return ts->driver_calls[d - 1];
}

}  // namespace locksan
