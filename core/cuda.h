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
void RefreshLibcuda();

// Called by core/gil.cc when a thread starts to take the GIL / has released it.
void CudaOnGilTake(ThreadState* ts, uptr pc, uptr sp);
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
