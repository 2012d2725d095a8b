// core/cuda.h — what the detector knows about the CUDA driver.
//
// With CUPTI (cupti/), each thread knows the driver API calls it is inside (core/hooks.h). From that:
// - python-callback-in-driver-call: a thread inside a driver call starts to take the GIL (a Python
//   callback such as a ctypes b2dFunc of cuOccupancyMaxPotentialBlockSize) — reported the first time,
//   per call site, before anything can hang. Without CUPTI the same is recognised from a held lock
//   that code in libcuda took.
// - CUDA-STREAM, a pseudo-lock (as lockdep models fs_reclaim): a host function (cuLaunchHostFunc,
//   cuStreamAddCallback) holds it while it runs on a thread the driver created; a synchronising call
//   (cuStreamSynchronize, cuCtxSynchronize, cuEventSynchronize, blocking copies) waits for it. So "hold
//   the GIL across a synchronising call" + "a host function that takes the GIL" is a lock-order
//   inversion GIL -> CUDA-STREAM -> GIL, reported even when the two never overlap in a run; when they
//   do, the watchdog reports the deadlock.
#pragma once
#include "core/detector.h"

namespace locksan {

// InLibcuda — `pc` lies in libcuda.so (its range is looked up again after RefreshLibcuda()).
bool InLibcuda(uptr pc);
// g_libcuda_locks — some lock was first taken in libcuda or in a driver call (LockInfo::in_libcuda):
// until then no thread can hold one, and taking the GIL does not look through the held locks.
extern bool g_libcuda_locks __attribute__((visibility("hidden")));
void RefreshLibcuda();

// Called by core/gil.cc when a thread starts to take the GIL / has released it. Out of line only
// where there is something to look at: a driver call in progress, a driver thread (host functions),
// or a lock of libcuda's that the thread may hold.
void CudaOnGilTakeSlow(ThreadState* ts, uptr pc, uptr sp);
// HeldLibcudaEntry — one of the thread's held entries is of a lock first taken in libcuda (its
// record not yet checked: HoldsLibcudaLock does). Reads the held entries only: a Python thread takes
// the GIL holding its own locks (a threading.Thread's tstate lock for its whole life, a
// DataLoader worker's too), in a process where libcuda's locks exist, at every GIL take.
LOCKSAN_ALWAYS_INLINE bool HeldLibcudaEntry(const ThreadState* ts) {
  if (!__atomic_load_n(&g_libcuda_locks, __ATOMIC_RELAXED)) return false;
  for (const HeldLock* h = ts->held; h != ts->top; h++)
    if (h->libcuda) return true;
  return false;
}
// Whether a GIL take has something for the CUDA rules to look at (CudaOnGilTakeSlow).
LOCKSAN_ALWAYS_INLINE bool CudaGilTakeWanted(const ThreadState* ts) {
  return ts->driver_depth || ts->driver_thread || HeldLibcudaEntry(ts);
}
LOCKSAN_ALWAYS_INLINE void CudaOnGilTake(ThreadState* ts, uptr pc, uptr sp) {
  if (CudaGilTakeWanted(ts)) CudaOnGilTakeSlow(ts, pc, sp);
}
void CudaOnGilReleased(ThreadState* ts);
// Called when a thread is created (in the parent): `pc` is the caller of pthread_create.
bool CreatedByDriver(uptr pc);
void CudaForkLock();
void CudaForkUnlock(bool child);

// The innermost driver call `ts` is in (ts->driver_depth > 0), or nullptr: calls whose callbacks were
// turned off since they were entered (cuda_calls=adaptive) are dropped from the top of the stack
// first, since their exits will never be reported.
const char* InnermostDriverCall(ThreadState* ts);

// cuda_calls=adaptive, verbosity >= 1: "N (cuA, cuB, ...)", the driver functions whose callbacks were
// turned off; 0 when none.
int PrunedDriverCallsLine(char* buf, int size);

// verbosity >= 1: every driver call CUPTI forwards is counted by function (set at start-up, before
// tracking starts). DriverCallCountsLine writes "N (cuA n, cuB m, ...)", the total and the most
// frequent functions, into `buf`; 0 when nothing was counted.
void CountDriverCalls(bool on);
int DriverCallCountsLine(char* buf, int size);

}  // namespace locksan
