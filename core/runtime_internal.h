// core/runtime_internal.h — what the detector exposes to the rest of the runtime (the watchdog),
// not to interceptors. Everything here is slow-path.
#pragma once
#include "core/detector.h"
#include "core/runtime_mutex.h"

namespace locksan {
namespace internal {

// The list of every thread state; walk it holding ThreadsMutex().
RuntimeMutex& ThreadsMutex();
ThreadState* ThreadListHead();

// Report filling and emission (take the registry / thread locks themselves).
void FillLockById(ReportDesc* r, u64 id);
void FillThreadsOf(ReportDesc* r);
// EmitReportNumbered — prints (unless suppressed) and returns the report's number, or 0.
u32 EmitReportNumbered(ReportDesc* r);
// FindPredictingInversion — the number of an earlier lock-order-inversion report whose cycle
// consists of locks among `ids`, or 0.
u32 FindPredictingInversion(const u64* ids, u32 n);

// Locks held by threads that exited while holding them.
struct OrphanLock {
  uptr addr;
  u64 id;
  u32 thread;
  uptr pc;
  u8 mode;
};
bool FindOrphan(uptr addr, u64 id, OrphanLock* out);
bool HasOrphans();

}  // namespace internal

// The watchdog (core/watchdog.cc).
void WatchdogOnThreadCreate();    // pthread_create, before the real one: starts the watchdog
void WatchdogOnThreadStarted();   // the new thread runs (or its creation failed)
void WatchdogOnThreadExit();      // a thread exits (last): stops the watchdog when one thread is left
void WatchdogAfterForkChild();
void WatchdogInstallSignals();    // at init: dump_signal

}  // namespace locksan
