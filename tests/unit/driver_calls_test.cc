// Which CUDA driver functions the detector treats as synchronising (the CUDA-STREAM rule) and as
// calling back into the program (cuda_calls=needed subscribes to both): core/hooks.h.
#include <gtest/gtest.h>

#include "core/hooks.h"

namespace locksan {
namespace {

TEST(DriverCalls, SynchronisingCalls) {
  for (const char* n : {"cuStreamSynchronize", "cuStreamSynchronize_ptsz", "cuCtxSynchronize",
                        "cuCtxSynchronize_v2", "cuEventSynchronize", "cuMemcpy", "cuMemcpy_ptds",
                        "cuMemcpyDtoH_v2", "cuMemcpyHtoD_v2_ptds", "cuMemcpy2D_v2", "cuMemcpy3DPeer"})
    EXPECT_TRUE(IsSyncDriverCall(n)) << n;
}

TEST(DriverCalls, NotSynchronising) {
  for (const char* n : {"cuMemcpyAsync", "cuMemcpyDtoHAsync_v2", "cuMemcpy2DAsync_v2_ptsz",
                        "cuStreamQuery", "cuEventRecord", "cuLaunchKernel", "cuCtxGetCurrent",
                        "cuStreamWaitEvent", "cuMemAlloc_v2", "", "c", "cu", "xuStreamSynchronize"})
    EXPECT_FALSE(IsSyncDriverCall(n)) << n;
  EXPECT_FALSE(IsSyncDriverCall(nullptr));
}

TEST(DriverCalls, CallbackCalls) {
  EXPECT_TRUE(IsCallbackDriverCall("cuOccupancyMaxPotentialBlockSize"));
  EXPECT_TRUE(IsCallbackDriverCall("cuOccupancyMaxPotentialBlockSizeWithFlags"));
  EXPECT_FALSE(IsCallbackDriverCall("cuOccupancyMaxActiveBlocksPerMultiprocessor"));
  EXPECT_FALSE(IsCallbackDriverCall("cuLaunchHostFunc"));  // runs on a driver thread, not inside
  EXPECT_FALSE(IsCallbackDriverCall("cuOccupancy"));
  EXPECT_FALSE(IsCallbackDriverCall(nullptr));
}

}  // namespace
}  // namespace locksan
