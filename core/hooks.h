// core/hooks.h — entry points that optional front ends (the CUPTI module, the Python support)
// call into the detector core.
//
// Contract: every function here may be called from any thread, at any time after liblocksan.so is
// loaded (also before its constructor ran: such calls are ignored), never allocates through malloc and
// never takes a pthread lock. They are cheap: a thread-local update and nothing else. One exception:
// with a pruner set (SetDriverCallPruner), the OnDriverApiExit that lets a driver function go starts
// a detached thread (pthread_create: glibc's leaf locks and a stack mapping), once per such function.
// No lock of the program or of the detector is held there.
#pragma once
#include <cstdint>
#include <cstring>

namespace locksan {

// OnDriverApiEnter — the calling thread entered a CUDA driver API function.
// `function_name` must point to storage that outlives the process (CUPTI's functionName strings do);
// `symbol_name` is the kernel name for launch calls, or nullptr. Calls nest (a driver function that
// calls back into user code that calls the driver again).
//   locksan::OnDriverApiEnter(cbInfo->functionName, cbid, cbInfo->symbolName);
void OnDriverApiEnter(const char* function_name, uint32_t cbid, const char* symbol_name);

// OnDriverApiExit — the calling thread left the innermost driver API function it was in.
void OnDriverApiExit(uint32_t cbid);

// CurrentDriverCall — the innermost driver API function the calling thread is in, or nullptr.
const char* CurrentDriverCall();

// SetDriverTracking — the CUPTI module reports its state once: "active", or why it is off.
void SetDriverTrackingStatus(bool active, const char* why);

// SetDriverCallPruner — cuda_calls=adaptive (the CUPTI module, at its subscription): a driver function
// called `quiet_calls` times in a row without the calling thread taking a lock for the first time
// inside it stops being tracked, and `disable(cbid)` is called (on a thread of locksan's own, never
// inside a callback) to turn its CUPTI callback off; it returns whether it did. The functions the
// rules need (IsSyncDriverCall, IsCallbackDriverCall) are never pruned. nullptr or 0: every call is
// tracked (the default).
void SetDriverCallPruner(bool (*disable)(uint32_t cbid), uint32_t quiet_calls);

// IsSyncDriverCall — a synchronising driver call: it waits for work queued on streams (and so for host
// functions): cuStreamSynchronize, cuCtxSynchronize, cuEventSynchronize and the blocking copies
// (cuMemcpy*, not the *Async variants). Used by the detector (the CUDA-STREAM rule) and by the CUPTI
// module (cuda_calls=needed subscribes to these).
inline bool IsSyncDriverCall(const char* n) {
  if (!n || n[0] != 'c' || n[1] != 'u') return false;
  switch (n[2]) {
    case 'S': return !strncmp(n, "cuStreamSynchronize", 19);
    case 'C': return !strncmp(n, "cuCtxSynchronize", 16);
    case 'E': return !strncmp(n, "cuEventSynchronize", 18);
    case 'M': return !strncmp(n, "cuMemcpy", 8) && !strstr(n, "Async");
    default: return false;
  }
}

// IsCallbackDriverCall — a driver call that runs a function of the program on the calling thread,
// inside the call: the occupancy calculators' block-size-to-shared-memory callback (b2dFunc).
inline bool IsCallbackDriverCall(const char* n) {
  return n && !strncmp(n, "cuOccupancyMaxPotentialBlockSize", 32);
}

}  // namespace locksan
