// core/stack.h — capturing stacks and storing them once.
//
// CaptureStack unwinds the calling thread with libunwind (dlopen'ed privately, see docs/design.md) or,
// when that is unavailable, with libgcc's _Unwind_Backtrace. It is not on the fast path: the detector
// calls it when it learns something new (a new lock, a new edge). A thread's first 16 captures use
// libgcc (~0.2 us a frame); later ones libunwind's unw_backtrace (a per-thread cache of frame shapes,
// ~15 ns a frame); neither makes a system call per frame. Asking for stack pointers (`sps`) takes
// unw_step, which is ~100 times slower. It takes no lock and leaves signals unblocked (see
// stack.cc for fork). StackDepot deduplicates stacks and hands out 32-bit ids (0 = no stack). Both
// are thread-safe.
#pragma once
#include "core/common.h"

namespace locksan {

constexpr int kMaxStackDepth = 64;

// CaptureStack — fills pcs (and, if non-null — slow —, the stack pointer of each frame into sps) with up to
// `max` return addresses of the caller's stack, skipping `skip` innermost frames of the runtime.
// pcs[i] are return addresses as found (symbolise pc-1 for call sites). Returns the count.
int CaptureStack(uptr* pcs, uptr* sps, int max, int skip);
// CaptureStackInSignal — the same from a signal handler: returns 0 instead of waiting when another
// unwind is in progress.
int CaptureStackInSignal(uptr* pcs, uptr* sps, int max, int skip);

// CaptureUserStack — the caller's stack without the runtime's own frames (interceptors, detector),
// at most `depth` frames. pcs[0] is the return address into the code that called the interceptor.
int CaptureUserStack(uptr* pcs, uptr* sps, int depth);
// FunctionStart — the entry address of the function that contains `pc` (from its unwind info: lock-free
// with glibc 2.35's _dl_find_object); 0 if unknown. Pass a return address minus one.
uptr FunctionStart(uptr pc);
// InRuntime — pc lies in liblocksan.so itself.
bool InRuntime(uptr pc);

// DeepBindFlag — RTLD_DEEPBIND for locksan's private libraries, 0 under ASan/TSan/MSan.
int DeepBindFlag();

// UnwinderName — "libunwind" or "libgcc", for verbosity output.
const char* UnwinderName();
void InitUnwinder();

struct StackTrace {
  u32 size;
  const uptr* pcs;
};

// StackDepotPut — stores a stack (if new) and returns its id; 0 for an empty stack.
u32 StackDepotPut(const uptr* pcs, int size);
// StackDepotGet — the stack with that id; {0, nullptr} for 0 or an unknown id.
StackTrace StackDepotGet(u32 id);
size_t StackDepotMemoryBytes();
size_t StackDepotCount();
// Fork support. Order: UnwindForkLock first (unwinds run with no runtime lock held), the depot late
// (it is taken under the graph lock).
void UnwindForkLock();
void UnwindForkUnlock(bool child);
void StackDepotForkLock();
void StackDepotForkUnlock(bool child);

}  // namespace locksan
