// Which CUDA driver functions the detector treats as synchronising (the CUDA-STREAM rule) and as
// calling back into the program (cuda_calls=needed subscribes to both): core/hooks.h.
#include <gtest/gtest.h>

#include <cstring>

#include "core/cuda.h"
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

// verbosity >= 1 counts the calls CUPTI forwards, by function, most frequent first. (No thread state is
// needed to count: a call on a thread locksan does not know is counted too.)
TEST(DriverCalls, CountsLine) {
  char buf[256];
  EXPECT_EQ(DriverCallCountsLine(buf, sizeof buf), 0);  // not counting
  CountDriverCalls(true);
  EXPECT_EQ(DriverCallCountsLine(buf, sizeof buf), 0);  // nothing counted yet
  for (int i = 0; i < 4; i++) OnDriverApiEnter("cuCtxGetCurrent", 17, nullptr);
  for (int i = 0; i < 2; i++) OnDriverApiEnter("cuLaunchKernel", 307, nullptr);
  for (int i = 0; i < 3; i++) OnDriverApiEnter("cuMemcpyDtoH_v2", 279, nullptr);
  OnDriverApiEnter("cuSomethingNew", 100000, nullptr);  // an id past the table: "other"
  int n = DriverCallCountsLine(buf, sizeof buf);
  EXPECT_EQ(n, static_cast<int>(strlen(buf)));
  EXPECT_STREQ(buf, "10 (cuCtxGetCurrent 4, cuMemcpyDtoH_v2 3, cuLaunchKernel 2, other 1)");
  char small[12];  // cut short, still terminated
  EXPECT_EQ(DriverCallCountsLine(small, sizeof small), static_cast<int>(sizeof small) - 1);
  EXPECT_EQ(strlen(small), sizeof small - 1);
}

}  // namespace
}  // namespace locksan
