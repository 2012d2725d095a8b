// Which CUDA driver functions the detector treats as synchronising (the CUDA-STREAM rule) and as
// calling back into the program (cuda_calls=needed subscribes to both): core/hooks.h.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "core/cuda.h"
#include "core/detector.h"
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

// cuda_calls=adaptive. The CUPTI side is replaced by a recorder of the callback ids it is asked to
// turn off; the calls are made on thread states of the test's own (the detector's part in a call is
// ThreadState::new_locks, which a lock first taken inside it increments).
std::atomic<int> g_disable_requests[4096];

bool RecordDisable(uint32_t cbid) {
  if (cbid < 4096) g_disable_requests[cbid].fetch_add(1);
  return true;
}

// Waits (up to 10 s) for the pruner thread to ask for `cbid`.
bool DisableRequested(uint32_t cbid) {
  for (int i = 0; i < 10000; i++) {
    if (g_disable_requests[cbid].load()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

struct OnThreadState {
  std::unique_ptr<ThreadState> ts = std::make_unique<ThreadState>();
  ThreadState* saved = t_local.ts;
  OnThreadState() { t_local.ts = ts.get(); }
  ~OnThreadState() { t_local.ts = saved; }
};

void QuietCalls(const char* name, uint32_t cbid, int n) {
  for (int i = 0; i < n; i++) {
    OnDriverApiEnter(name, cbid, nullptr);
    OnDriverApiExit(cbid);
  }
}

constexpr uint32_t kQuiet = 50;

TEST(DriverCallsAdaptive, AQuietFunctionIsLetGoAndNoLongerTracked) {
  OnThreadState on;
  SetDriverCallPruner(RecordDisable, kQuiet);
  QuietCalls("cuCtxGetDevice_v2", 700, kQuiet - 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(g_disable_requests[700].load(), 0);  // one call short
  OnDriverApiEnter("cuCtxGetDevice_v2", 700, nullptr);
  EXPECT_STREQ(CurrentDriverCall(), "cuCtxGetDevice_v2");  // still tracked
  OnDriverApiExit(700);
  ASSERT_TRUE(DisableRequested(700));
  EXPECT_EQ(g_disable_requests[700].load(), 1);
  // From then on an enter is not tracked (CUPTI may still report a few before the callback is off).
  OnDriverApiEnter("cuCtxGetDevice_v2", 700, nullptr);
  EXPECT_EQ(CurrentDriverCall(), nullptr);
  EXPECT_EQ(on.ts->driver_depth, 0u);
  OnDriverApiExit(700);
  char buf[256];
  ASSERT_GT(PrunedDriverCallsLine(buf, sizeof buf), 0);
  EXPECT_NE(strstr(buf, "cuCtxGetDevice_v2"), nullptr) << buf;
  SetDriverCallPruner(nullptr, 0);
}

TEST(DriverCallsAdaptive, ALockFirstTakenInsideStartsTheCountAgain) {
  OnThreadState on;
  SetDriverCallPruner(RecordDisable, kQuiet);
  for (int round = 0; round < 4; round++) {
    QuietCalls("cuMemAlloc_v2", 701, kQuiet - 1);
    OnDriverApiEnter("cuMemAlloc_v2", 701, nullptr);
    on.ts->new_locks++;  // what the detector does when a lock is first taken in the call
    OnDriverApiExit(701);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(g_disable_requests[701].load(), 0);
  // A lock first taken in a nested call is inside the outer call too.
  QuietCalls("cuMemAlloc_v2", 701, kQuiet - 1);
  OnDriverApiEnter("cuMemAlloc_v2", 701, nullptr);
  OnDriverApiEnter("cuMemGetInfo_v2", 702, nullptr);
  on.ts->new_locks++;
  OnDriverApiExit(702);
  OnDriverApiExit(701);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(g_disable_requests[701].load(), 0);
  QuietCalls("cuMemAlloc_v2", 701, kQuiet);
  EXPECT_TRUE(DisableRequested(701));
  SetDriverCallPruner(nullptr, 0);
}

TEST(DriverCallsAdaptive, TheFunctionsTheRulesNeedAreKept) {
  OnThreadState on;
  SetDriverCallPruner(RecordDisable, kQuiet);
  QuietCalls("cuOccupancyMaxPotentialBlockSize", 703, 4 * kQuiet);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(g_disable_requests[703].load(), 0);
  OnDriverApiEnter("cuOccupancyMaxPotentialBlockSize", 703, nullptr);
  EXPECT_STREQ(CurrentDriverCall(), "cuOccupancyMaxPotentialBlockSize");
  OnDriverApiExit(703);
  SetDriverCallPruner(nullptr, 0);
}

// A thread inside a call when its callback is turned off never sees that call's exit: the call is
// dropped from the top of its stack, and the outer call's exit still pops the outer call.
TEST(DriverCallsAdaptive, ACallWhoseExitIsNeverReportedIsDropped) {
  SetDriverCallPruner(RecordDisable, kQuiet);
  OnThreadState on;
  OnDriverApiEnter("cuOccupancyMaxPotentialBlockSize", 704, nullptr);
  OnDriverApiEnter("cuKernelGetAttribute", 705, nullptr);
  EXPECT_STREQ(CurrentDriverCall(), "cuKernelGetAttribute");
  std::thread other([] {
    OnThreadState other_on;
    QuietCalls("cuKernelGetAttribute", 705, kQuiet);
  });
  other.join();
  ASSERT_TRUE(DisableRequested(705));
  // 705's exit is never reported: the thread is inside the occupancy call only.
  EXPECT_STREQ(CurrentDriverCall(), "cuOccupancyMaxPotentialBlockSize");
  OnDriverApiExit(704);
  EXPECT_EQ(CurrentDriverCall(), nullptr);
  EXPECT_EQ(on.ts->driver_depth, 0u);
  SetDriverCallPruner(nullptr, 0);
}

// An exit whose enter was not tracked (made inside the runtime) does not pop the outer call.
TEST(DriverCalls, AnExitWithoutItsEnterLeavesTheOuterCall) {
  OnThreadState on;
  OnDriverApiEnter("cuMemAlloc_v2", 706, nullptr);
  t_local.in_runtime++;
  OnDriverApiEnter("cuCtxGetCurrent", 707, nullptr);
  t_local.in_runtime--;
  OnDriverApiExit(707);
  EXPECT_STREQ(CurrentDriverCall(), "cuMemAlloc_v2");
  OnDriverApiExit(706);
  EXPECT_EQ(CurrentDriverCall(), nullptr);
}

}  // namespace
}  // namespace locksan
