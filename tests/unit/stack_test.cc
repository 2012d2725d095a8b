// Stack helpers of the slow path: FunctionStart (remembered in a lock-free table after the first
// FDE lookup) and SmallVec (inline storage, then internal memory).
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace locksan
