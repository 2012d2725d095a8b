// cupti/cupti_tracker.h — CUDA driver-API tracking through the CUPTI callback API.
//
// Compiled into liblocksan.so, never linked against libcupti or libcuda: both are found at run time
// (dlopen/dlsym); only the CUPTI headers are needed at build time (without them the module builds as a
// stub whose status line says so). See docs/gpu.md.
//
// What it does: once libcuda.so.1 is in the process, it finds a libcupti, subscribes to the
// DRIVER_API callback domain and forwards every enter/exit to locksan::OnDriverApiEnter/Exit
// (core/hooks.h). CUPTI allows one subscriber per process: if someone else holds it (Nsight,
// compute-sanitizer, a profiler), or a tool owns CUDA_INJECTION64_PATH, locksan steps aside and the
// pthread layer is all it has. If a profiler subscribes later (torch.profiler / Kineto calls
// cuptiSubscribe), locksan gives CUPTI up to it (see the cuptiSubscribe interposer in the .cc).
#pragma once
#include <cstdint>

namespace locksan::cupti {

enum class Mode {
  kOff,   // never subscribe.
  kOn,    // track; the caller treats a failure to start as worth a warning.
  kAuto,  // track when possible; failures are reported only at higher verbosity.
};

// Called by the preload from its constructor and after every successful dlopen. If libcuda.so.1 is
// loaded (dlopen RTLD_NOLOAD) and tracking was not decided yet, finds libcupti and subscribes.
// Idempotent and thread-safe; once decided (active, off, failed) it is one atomic load. While libcuda
// is not loaded it costs one dlopen(RTLD_NOLOAD). Never blocks on another thread that is starting.
// Reentrant: dlopen calls made by the start itself (through the preload's dlopen interceptor) return at
// once.
void MaybeStart(Mode mode);

// cuda_calls: which driver calls CUPTI reports. kAll: every one. kNeeded: only the driver functions
// the detector's rules need (the synchronising calls and the occupancy calculators that call back into
// the program); CUPTI then costs nothing on the others. kAdaptive: every one, until a function has been
// called `quiet_calls` times in a row without a lock first taken inside it; then its callback is
// turned off (core/hooks.h SetDriverCallPruner; 0: never). Takes effect at the subscription (call it
// before MaybeStart). Where libcupti lacks cuptiEnableCallback (and cuptiGetCallbackName for kNeeded),
// every call is tracked and the status line says so.
enum class Calls { kAll, kAdaptive, kNeeded };
void SetCalls(Calls which, uint32_t quiet_calls);

// One line for reports and verbosity:
//   "CUPTI driver-API tracking active (libcupti: PATH)" or why not. Static storage, never freed.
const char* StatusLine();

// True while driver calls are forwarded to the core.
bool Active();

// Stop forwarding. unsubscribe=true: also cuptiUnsubscribe (normal exit paths). In a fork child pass
// false: another thread of the parent may have held a CUPTI lock at fork time, so no CUPTI call is
// made; callbacks simply stop being forwarded. After Shutdown, MaybeStart never starts again.
void Shutdown(bool unsubscribe = true);

}  // namespace locksan::cupti

// Exported (default visibility): entry point for CUDA_INJECTION64_PATH=/path/to/liblocksan.so.
// libcuda calls it from inside cuInit; it starts tracking (with the mode last given to MaybeStart,
// kAuto if none) and returns 1.
extern "C" int InitializeInjection(void);
