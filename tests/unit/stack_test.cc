// Stack helpers of the slow path: FunctionStart (remembered in a lock-free table after the first
// FDE lookup) and SmallVec (inline storage, then internal memory).
#include <gtest/gtest.h>
#include <pthread.h>

#include <cstring>

#include "core/ptr_vec.h"
#include "core/stack.h"

namespace locksan {
namespace {

__attribute__((noinline)) int Leaf(int x) {
  asm volatile("" ::: "memory");
  return x * 3 + 1;
}
__attribute__((noinline)) int Other(int x) {
  asm volatile("" ::: "memory");
  return x * 5 + 2;
}

TEST(FunctionStart, SameEntryFromTheTableAsFromTheUnwindInfo) {
  uptr leaf = reinterpret_cast<uptr>(&Leaf), other = reinterpret_cast<uptr>(&Other);
  for (int round = 0; round < 3; round++) {  // the first lookup fills the table, later ones read it
    EXPECT_EQ(FunctionStart(leaf + 1), leaf) << "round " << round;
    EXPECT_EQ(FunctionStart(leaf + 4), leaf) << "round " << round;
    EXPECT_EQ(FunctionStart(other + 2), other) << "round " << round;
  }
  EXPECT_EQ(FunctionStart(0), 0u);
  EXPECT_EQ(Leaf(1) + Other(1), 11);
}

TEST(SmallVec, InlineThenGrownKeepsEveryElement) {
  SmallVec<u64, 4> v;
  EXPECT_TRUE(v.empty());
  for (u64 i = 0; i < 100; i++) v.push_back(i * i);
  ASSERT_EQ(v.size(), 100u);
  for (u32 i = 0; i < 100; i++) EXPECT_EQ(v[i], u64{i} * i);
  u64 sum = 0;
  for (u64 x : v) sum += x;
  EXPECT_EQ(sum, 328350u);
}

// A thread that makes `n` stack captures.
void* MakeCaptures(void* arg) {
  int n = *static_cast<int*>(arg);
  uptr pcs[32];
  for (int i = 0; i < n; i++) CaptureStack(pcs, nullptr, 32, 0);
  return nullptr;
}

// How many threads created libunwind's table while one new thread made `n` captures.
u64 TablesCreatedBy(int n) {
  u64 before = UnwinderTablesCreated();
  pthread_t t;
  EXPECT_EQ(pthread_create(&t, nullptr, MakeCaptures, &n), 0);
  pthread_join(t, nullptr);
  return UnwinderTablesCreated() - before;
}

TEST(Unwinder, AThreadBuysLibunwindsTableOnlyOnceItsLibgccCapturesCostAsMuch) {
  uptr pcs[32];
  ASSERT_GT(CaptureStack(pcs, nullptr, 32, 0), 0);
  if (strcmp(UnwinderName(), "libunwind") != 0) GTEST_SKIP() << "libunwind is not loaded here";
  u64 saved = UnwinderTableEstimateNs();
  // A table estimated at an hour: no number of libgcc captures pays for it.
  SetUnwinderTableEstimateNs(u64{3600} * 1000000000);
  EXPECT_EQ(TablesCreatedBy(300), 0u);
  // Estimated at 1 ns: bought by the first capture after the 16 cold ones, not before.
  SetUnwinderTableEstimateNs(1);
  EXPECT_EQ(TablesCreatedBy(16), 0u);
  EXPECT_EQ(TablesCreatedBy(17), 1u);
  // No estimate yet: the same, and what the table cost becomes the estimate.
  SetUnwinderTableEstimateNs(0);
  EXPECT_EQ(TablesCreatedBy(16), 0u);
  EXPECT_EQ(TablesCreatedBy(17), 1u);
  EXPECT_GT(UnwinderTableEstimateNs(), 0u);
  // The estimate is a moving average of the threads' first libunwind captures: a later thread's
  // cost moves it by a quarter of the difference.
  SetUnwinderTableEstimateNs(1);
  EXPECT_EQ(TablesCreatedBy(20), 1u);
  EXPECT_GT(UnwinderTableEstimateNs(), 1u);
  SetUnwinderTableEstimateNs(saved);
}

// The stack memo's frame sizes: 2,000 return addresses (fixed values, in a range no code here has)
// fill an eighth of the table's 16,384 entries. A direct-mapped table loses 112 of them to
// addresses hashed to the same entry; a 4-way one only where five land in one set (none of these).
TEST(FrameSizes, EveryAddressKeepsItsSizeUntilItsSetIsFull) {
  constexpr uptr kBase = uptr{0x7e0000000000};
  for (uptr i = 0; i < 2000; i++) NoteFrameSize(kBase + i * 40, 16 + 8 * (i % 50));
  int lost = 0;
  for (uptr i = 0; i < 2000; i++) lost += FrameSizeOf(kBase + i * 40) != 16 + 8 * (i % 50);
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(FrameSizeOf(kBase + 20), 0u);  // never noted
}

TEST(FrameSizes, ASecondSizeMakesTheFrameVaryForGood) {
  constexpr uptr pc = uptr{0x7e1000000010};
  NoteFrameSize(pc, 48);
  NoteFrameSize(pc, 48);
  EXPECT_EQ(FrameSizeOf(pc), 48u);
  NoteFrameSize(pc, 64);
  EXPECT_EQ(FrameSizeOf(pc), kFrameSizeVaries);
  NoteFrameSize(pc, 48);
  EXPECT_EQ(FrameSizeOf(pc), kFrameSizeVaries);
  // Not a size (unaligned, zero) or not a user address: nothing is learnt.
  constexpr uptr other = uptr{0x7e1000000020};
  NoteFrameSize(other, 44);
  NoteFrameSize(other, 0);
  NoteFrameSize(0, 48);
  NoteFrameSize(uptr{1} << 47, 48);
  EXPECT_EQ(FrameSizeOf(other), 0u);
  EXPECT_EQ(FrameSizeOf(0), 0u);
  EXPECT_EQ(FrameSizeOf(uptr{1} << 47), 0u);
}

}  // namespace
}  // namespace locksan
