// The free() filter (MayHoldLocks, core/detector.cc, and its inline first test
// FreedBlockMayHoldLocks, core/detector.h): tagged page slots with line bitmaps, tagged
// line slots with granule counts, 2 MiB region counts. Whatever the layout of live locks, a block
// that contains the start of a live lock must never be answered "no" (the lock would outlive its
// memory: a new lock at that address would inherit its edges). Checked against a brute-force oracle
// over random layouts with locks added and removed (slots shared by several pages and lines
// included), in a child process, since the runtime it starts is process-wide.
#include <algorithm>
#include <cstdio>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "core/detector.h"

namespace locksan {
namespace {

constexpr uptr kBase = uptr{0x7e0000000000};

struct Layout {
  std::set<uptr> live;  // start addresses of live locks
  bool AnyIn(uptr lo, uptr hi) const {
    auto it = live.lower_bound(lo);
    return it != live.end() && *it < hi;
  }
};

// One trial: `locks` addresses in `span` bytes from kBase (8-byte aligned, so several may share a
// granule, a line or a page), a third of them forgotten again, then `queries` blocks (16-byte aligned
// starts, sizes from 16 bytes to 3 MiB). Returns the false negatives (must be 0); counts the
// blocks without a lock that were answered "yes".
int Trial(std::mt19937_64& rng, int locks, uptr span, int queries, int* false_yes, int* empty_blocks) {
  Layout l;
  std::vector<uptr> added;
  for (int i = 0; i < locks; i++) {
    uptr a = kBase + (rng() % span & ~uptr{7});
    if (l.live.count(a)) continue;
    OnLockInit(a, LockKind::kMutex);
    l.live.insert(a);
    added.push_back(a);
  }
  std::shuffle(added.begin(), added.end(), rng);
  for (size_t i = 0; i < added.size() / 3; i++) {
    OnLockDestroy(added[i]);
    l.live.erase(added[i]);
  }
  int misses = 0;
  for (int q = 0; q < queries; q++) {
    uptr size = (rng() % 4 == 0) ? 1 + rng() % (3u << 20) : 16 + rng() % 4096;
    uptr lo = kBase + (rng() % span & ~uptr{15});
    // Half of the blocks start right at a live lock's granule or just after one.
    if (rng() % 2 && !l.live.empty()) {
      auto it = l.live.begin();
      std::advance(it, static_cast<long>(rng() % l.live.size()));
      lo = (*it & ~uptr{15}) + (rng() % 2 ? 16 : 0);
    }
    uptr hi = lo + size;
    bool truth = l.AnyIn(lo, hi);
    bool said = MayHoldLocks(lo, hi);
    // free()'s inline first test (FreedBlockMayHoldLocks, by line) answers "no" or asks MayHoldLocks:
    // it may say no where MayHoldLocks says yes (a slot shared by two pages), never yes where it says no.
    bool inline_said = FreedBlockMayHoldLocks(lo, hi);
    if (inline_said && !said) {
      if (misses++ < 5)
        fprintf(stderr, "inline test says yes, MayHoldLocks no: [%#lx, %#lx)\n", static_cast<unsigned long>(lo),
                static_cast<unsigned long>(hi));
    }
    if (truth && !inline_said) {
      if (misses++ < 5)
        fprintf(stderr, "false negative of the inline test: [%#lx, %#lx) holds a live lock\n",
                static_cast<unsigned long>(lo), static_cast<unsigned long>(hi));
    }
    if (truth && !said) {
      if (misses++ < 5)
        fprintf(stderr, "false negative: [%#lx, %#lx) holds a live lock\n", static_cast<unsigned long>(lo),
                static_cast<unsigned long>(hi));
    }
    if (!truth) {
      ++*empty_blocks;
      if (said) ++*false_yes;
    }
  }
  for (uptr a : l.live) OnLockDestroy(a);
  return misses;
}

void RunFilterChecks() {
  InitRuntime();
  std::mt19937_64 rng(20261128);
  int misses = 0, false_yes = 0, empty = 0;
  // Dense (a lock every few lines: most pages and many lines hold one), sparse, and many locks
  // over a wide range (hashed slots shared by several pages and lines).
  for (int t = 0; t < 20; t++) misses += Trial(rng, 400, 64 << 10, 2000, &false_yes, &empty);
  for (int t = 0; t < 20; t++) misses += Trial(rng, 200, 64 << 20, 2000, &false_yes, &empty);
  for (int t = 0; t < 4; t++) misses += Trial(rng, 60000, uptr{1} << 34, 5000, &false_yes, &empty);
  // After every lock was forgotten, no block may be said to hold one.
  int after = 0;
  for (int q = 0; q < 2000; q++) {
    uptr lo = kBase + (rng() % (uptr{1} << 34) & ~uptr{15});
    uptr hi = lo + 16 + rng() % (1 << 20);
    after += MayHoldLocks(lo, hi) + FreedBlockMayHoldLocks(lo, hi);
  }
  for (FILE* f : {stderr, stdout})  // stdout: shown by the test run (the death test keeps stderr)
    fprintf(f,
            "false negatives %d; blocks without a lock said to hold one: %d of %d; after all were "
            "forgotten: %d\n",
            misses, false_yes, empty, after);
  fflush(stdout);
  _exit(misses == 0 && after == 0 ? 0 : 1);
}

TEST(FreeFilter, NeverSaysNoForABlockThatHoldsALiveLock) {
  EXPECT_EXIT(RunFilterChecks(), ::testing::ExitedWithCode(0), "false negatives 0;");
}

// The inline test goes by line: a block in a page with a live lock, in other lines than the lock's,
// is answered "no" there (before, by page, it went on to the 512 KiB page table); one in the lock's
// line, or spanning it, is not.
void RunLineHintChecks() {
  InitRuntime();
  const uptr page = kBase + (uptr{77} << kPageShift);
  const uptr lock = page + 5 * 64 + 16;  // line 5
  OnLockInit(lock, LockKind::kMutex);
  int wrong = 0;
  wrong += LinesMayHoldLocks(page >> kPageShift, page + 40 * 64, page + 42 * 64) != false;  // lines 40-41
  wrong += FreedBlockMayHoldLocks(page + 40 * 64, page + 42 * 64) != false;
  wrong += LinesMayHoldLocks(page >> kPageShift, page + 5 * 64 + 32, page + 5 * 64 + 48) != true;  // line 5
  wrong += LinesMayHoldLocks(page >> kPageShift, page + 4 * 64, page + 7 * 64) != true;  // spans it
  wrong += FreedBlockMayHoldLocks(lock, lock + 48) != true;
  wrong += FreedBlockMayHoldLocks(page - 32, page + 6 * 64) != true;  // from the page before
  OnLockDestroy(lock);
  wrong += LinesMayHoldLocks(page >> kPageShift, page + 4 * 64, page + 7 * 64) != false;  // gone
  fprintf(stdout, "line hint checks wrong: %d\n", wrong);
  fflush(stdout);
  _exit(wrong == 0 ? 0 : 1);
}

TEST(FreeFilter, InlineTestGoesByLine) {
  EXPECT_EXIT(RunLineHintChecks(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace locksan
