// core/hooks.h — entry points that optional front ends (the CUPTI module, the Python support)
// call into the detector core.
//
// Contract: every function here may be called from any thread, at any time after liblocksan.so is
// loaded (also before its constructor ran: such calls are ignored), never allocates through malloc and
// never takes a pthread lock. They are cheap: a thread-local update and nothing else.
#pragma once
#include <cstdint>

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

}  // namespace locksan
