// core/detector.cc — the slow paths of the detector: registering locks and threads, recording edges,
// deciding reports, forgetting locks, fork and exit.
#include "core/detector.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/cuda.h"
#include "core/flat_map.h"
#include "core/gil.h"
#include "core/hooks.h"
#include "core/internal_alloc.h"
#include "core/lock_graph.h"
#include "core/output.h"
#include "core/ptr_map.h"
#include "core/pycallback.h"
#include "core/runtime_mutex.h"
#include "core/runtime_internal.h"
#include "core/stack.h"
#include "core/suppressions.h"
#include "report/report.h"

namespace locksan {

__thread ThreadLocal t_local __attribute__((tls_model("initial-exec"))) = {nullptr, 0, kNoState};
LockInfo g_untracked;
LivePage g_live_pages[kLivePageSlots];
std::atomic<u64> g_live_page_bits[kLivePageSlots / 64];
std::atomic<u64> g_line_hints[1u << kLineHintLog];
#ifdef LOCKSAN_FREE_COUNTERS
std::atomic<u64> g_free_counts[4];
#endif
bool g_free_filter = false;
bool g_mutex_tail = false;

namespace {

constexpr u32 kBloomBits = 1u << 20;
// glibc's PTHREAD_MUTEX_ROBUST_NORMAL_NP bit of pthread_mutex_t::__data.__kind (internal header value).
constexpr int kGlibcMutexRobustFlag = 16;

struct ThreadStartImpl {
  bool driver_thread;
  u32 number;
  u32 parent;
  u32 creation_stack;
};

u64 AddrOf(const LockInfo* li) { return li->addr.load(std::memory_order_relaxed); }
u64 IdOf(const LockInfo* li) { return li->id; }

struct Runtime {
  Flags flags{};
  std::atomic<int> state{0};  // 0 = not initialised, 1 = initialising, 2 = ready
  pid_t init_tid = 0;
  pthread_key_t exit_key{};

  // Lock order of the runtime's own mutexes: graph_mu -> registry_mu -> threads_mu.
  RuntimeMutex graph_mu;      // graph, reported signatures
  RuntimeMutex registry_mu;   // lock registry
  RuntimeMutex threads_mu;    // thread list
  RuntimeMutex report_mu;     // printing (never held with the others)

  LockGraph* graph = nullptr;
  // The registry: every live lock by address and by id (8 bytes a slot each, see core/ptr_map.h),
  // and the locks of each 4 KiB page (for freed memory).
  PtrMap<LockInfo, AddrOf>* by_addr = nullptr;
  PtrMap<LockInfo, IdOf>* by_id = nullptr;
  FlatMap<LockInfo*>* by_page = nullptr;
  LockInfo* free_infos = nullptr;
  u64 next_lock_id = 1;
  // Parked graph nodes of freed locks, one slot per address hash (revive_locks; see
  // ParkOrRemoveLocked). Guarded by registry_mu; a slot is emptied with its node removed only with
  // graph_mu held too.
  struct ParkedLock {
    uptr addr;
    u64 id;     // 0: empty slot
    u64 chain;  // the chain of the acquisition that made every edge into it
    uptr pc;    // its call site
    u32 thread;
    u32 first_stack;  // its "first locked at" stack (depot id)
    LockKind kind;
    bool recurring;   // parked by the recurring-lock rule: any chain, a re-initialised lock only
  };
  ParkedLock* parked = nullptr;  // kParkedSlots, allocated at the first park
  // lock_identity=site and auto: one record per call path that first locked a candidate lock, by key
  // (kind and "first locked at" stack), and once it is a class (rec.id != 0) by id, where the record
  // stands for the class in by_id. Under `site` a call path is a class from its first lock; under
  // `auto` once `class_after` locks first locked on it were forgotten. Guarded by registry_mu; never
  // freed (at most kMaxSiteClasses, indexed from 1 in site_entries).
  struct SiteClass {
    LockInfo rec;
    u64 instances;   // locks that joined it as a class
    u32 forgotten;   // lock_identity=auto: its locks of their own forgotten before it became one
    u16 index;       // in site_entries
  };
  FlatMap<SiteClass*>* classes_by_key = nullptr;
  FlatMap<SiteClass*>* classes_by_id = nullptr;
  SiteClass** site_entries = nullptr;  // kMaxSiteClasses slots, [0] unused
  size_t parked_live = 0;
  u64 revived = 0;
  size_t locks_live = 0;
  size_t locks_total = 0;
  u64 registry_lookups = 0;  // lock-cache misses that searched the registry (registry_mu)
  // ... of which found the lock registered (verbosity=1 prints them): its record changed since the
  // thread cached it (gen); never taken yet (registered at its pthread_*_init); its first thread
  // lost the cache slot to another lock (evicted); another thread's (its first use there, or a lost
  // slot: other).
  u64 lookups_gen = 0, lookups_untaken = 0, lookups_evicted = 0, lookups_other = 0;
  std::atomic<u64> bloom[kBloomBits / 64] = {};

  ThreadState* all_threads = nullptr;
  ThreadState* free_states = nullptr;
  // Exited threads: a compact record each (for reports), their ThreadState recycled. Only records
  // that something a report can show still names are kept (SweepDeadThreads), once their number
  // reaches dead_sweep_at.
  PtrVec<ReportThread>* dead_threads = nullptr;
  u32 dead_sweep_at = 0;
  u64 dead_dropped = 0;
  u32 next_thread_number = 0;
  size_t threads_total = 0;

  FlatMap<u8>* reported = nullptr;
  // Lock-order-inversion reports printed so far: their numbers and locks (to reference from a
  // deadlock report). Guarded by report_mu.
  struct Inversion {
    u32 number;
    u32 nlocks;
    u64 locks[8];
  };
  PtrVec<Inversion>* inversions = nullptr;
  // Locks held by threads that exited while holding them. Guarded by registry_mu.
  PtrVec<internal::OrphanLock>* orphans = nullptr;
  std::atomic<u64> reports{0};
  std::atomic<u64> slow_checks{0};
  // lock_identity=site: order checks of a lock taken while another lock of its class is held (the
  // two are not checked against each other; verbosity=1 says how often).
  std::atomic<u64> site_nested{0};
  std::atomic<bool> over_budget_said{false};
  Suppressions* suppressions = nullptr;
};

Runtime g_rt;

void ErrorLine(void*, const char* line) { OutputPrintf("==%d==%s\n", getpid(), line); }

// ---------------------------------------------------------------------------------------------
// Memory budget
// ---------------------------------------------------------------------------------------------
bool OverBudget() {
  size_t limit = static_cast<size_t>(g_rt.flags.max_memory_mb) << 20;
  if (InternalAllocatedBytes() <= limit) return false;
  if (!g_rt.over_budget_said.exchange(true))
    OutputPrintf(
        "==%d==locksan: memory budget max_memory_mb=%d reached: new locks and lock orders are no "
        "longer tracked (the program keeps running)\n",
        getpid(), g_rt.flags.max_memory_mb);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Bloom filter over pages that ever held a lock
// ---------------------------------------------------------------------------------------------
u32 BloomIndex(uptr page) { return static_cast<u32>(Mix64(page)) & (kBloomBits - 1); }
void BloomSet(uptr addr) {
  u32 i = BloomIndex(addr >> kPageShift);
  std::atomic<u64>& w = g_rt.bloom[i / 64];
  u64 bit = u64{1} << (i % 64);
  if (!(w.load(std::memory_order_relaxed) & bit)) w.fetch_or(bit, std::memory_order_relaxed);
}
bool BloomTest(uptr page) {
  u32 i = BloomIndex(page);
  return g_rt.bloom[i / 64].load(std::memory_order_relaxed) & (u64{1} << (i % 64));
}

// Live locks per page, in 2^15 hashed slots (registry_mu held to change; read without it), each
// tagged with its page and holding a bitmap of the page's 64-byte lines where a live lock starts: a
// page whose slot is not tagged with it holds no registered lock now. The bloom filter above only
// says a page ever held one, so in a long run it says yes for most of the heap. free() and destroy
// look here first and take no runtime lock (and, with program signal handlers, make no sigprocmask
// call) for memory with no live lock; in a page with one, the bitmap answers for the lines a block
// covers whole, and only its first and last line are looked up further (below), where the block
// may share a line with a lock. (The line-by-line test it replaces cost ~140 instructions a free()
// in a heap with a lock in every page.) Locks of two pages in one slot share it, tagged
// kSlotCollided, their bits together, until the slot has no live lock.
// (kSlotCollided, SlotCountsFor, LivePage, g_live_pages and LivePageIndex are in detector.h: free()'s
// first test reads them inline.)
u64 TagAdding(u64 tag, u64 key) { return tag == 0 || tag == key + 1 ? key + 1 : kSlotCollided; }
constexpr uptr kLineShift = 6;
u32 g_live_page_count[kLivePageSlots];  // live locks of the slot's page(s) (registry_mu)
u64 LineBit(uptr addr) { return u64{1} << ((addr >> kLineShift) & 63); }
// The lines of `page` where live locks start (0: none).
u64 LivePageLines(uptr page) {
  if (!PageMayHoldLocks(page)) return 0;
  return g_live_pages[LivePageIndex(page)].lines.load(std::memory_order_relaxed);
}
// Live locks starting in line i of the pages of hint word w: g_line_hint_count[w * 64 + i]
// (registry_mu); the word's bit is set while the count is not 0. 1 MiB, resident where used.
u32 g_line_hint_count[(1u << kLineHintLog) * 64];
void LineHintAdd(uptr addr) {
  u32 w = LineHintIndex(addr >> kPageShift), line = static_cast<u32>((addr >> kLineShift) & 63);
  if (g_line_hint_count[w * 64 + line]++ == 0)
    g_line_hints[w].fetch_or(u64{1} << line, std::memory_order_relaxed);
}
void LineHintSub(uptr addr) {
  u32 w = LineHintIndex(addr >> kPageShift), line = static_cast<u32>((addr >> kLineShift) & 63);
  if (--g_line_hint_count[w * 64 + line] == 0)
    g_line_hints[w].fetch_and(~(u64{1} << line), std::memory_order_relaxed);
}
void LivePageAdd(uptr addr) {
  LineHintAdd(addr);
  uptr page = addr >> kPageShift;
  u32 i = LivePageIndex(page);
  LivePage& s = g_live_pages[i];
  u64 tag = s.tag.load(std::memory_order_relaxed);
  u64 lines = tag ? s.lines.load(std::memory_order_relaxed) : 0;  // an empty slot's bits are stale
  s.lines.store(lines | LineBit(addr), std::memory_order_relaxed);
  // The summary bit first: a reader that sees the tag sees the bit (PageMayHoldLocks).
  if (!tag) g_live_page_bits[i / 64].fetch_or(u64{1} << (i % 64), std::memory_order_relaxed);
  s.tag.store(TagAdding(tag, page), std::memory_order_relaxed);
  g_live_page_count[i]++;
}
// After `addr`'s lock left the page's list, whose remaining locks start at `rest`.
void LivePageSub(uptr addr, const LockInfo* rest) {
  LineHintSub(addr);
  uptr page = addr >> kPageShift;
  u32 i = LivePageIndex(page);
  LivePage& s = g_live_pages[i];
  if (--g_live_page_count[i] == 0) {
    s.tag.store(0, std::memory_order_relaxed);
    s.lines.store(0, std::memory_order_relaxed);
    g_live_page_bits[i / 64].fetch_and(~(u64{1} << (i % 64)), std::memory_order_relaxed);
  } else if (s.tag.load(std::memory_order_relaxed) == page + 1) {
    u64 bits = 0;  // the page's own locks: exact again
    for (; rest; rest = rest->next_in_page) bits |= LineBit(rest->addr.load(std::memory_order_relaxed));
    s.lines.store(bits, std::memory_order_relaxed);
  }
}
// The same per 2 MiB region, for large blocks: a block of more than 64 pages (glibc's mmapped chunks:
// a tensor, a batch, a buffer) went to ForgetRange whole (the registry lock, then a page-by-page
// search); PyTorch's training process freed ~200 such blocks a step, none holding a lock. Now the
// block's regions are tested first, and only in a region with a live lock its pages.
constexpr uptr kRegionShift = 21;
constexpr u32 kLiveRegionSlots = 1u << 12;
std::atomic<u32> g_live_regions[kLiveRegionSlots];
std::atomic<u32>& LiveRegionSlot(uptr region) {
  return g_live_regions[(Mix64(region) >> 20) & (kLiveRegionSlots - 1)];
}
// The same per 64-byte line of a lock's address, with a 16-bit count for each of the line's four
// 16-byte granules (where the lock starts): a page with a live lock (a torch.Generator's std::mutex,
// a Python lock) also holds many other blocks, and every free() of one of them went to ForgetRange
// (two runtime locks, and with program signal handlers two sigprocmask calls) to find nothing; then a
// small block in the same line as a lock still did (9 look-ups per DataLoader item). In a page whose
// slot says it has a live lock, the freed block's granules are tested: heap blocks are 16-byte
// aligned, so a granule where a lock starts overlaps no other block (but its own block's header).
// A slot is tagged with the line it counts for: a line hashed to a slot that counts for another line
// has no live lock. Untagged, a block of a kilobyte or two in a page with locks met some other
// line's counts in one free() of five with 5,000 live locks (and PyTorch's training process made
// ~200 needless look-ups a step). Two lines with live locks in one slot share it, tagged kSlotCollided,
// and their counts add up (a test there may say yes for either) until both have none. A count
// overflows into the next granule's only past 65,535 live locks starting in one slot.
constexpr uptr kGranuleShift = 4;
constexpr u32 kLiveLineSlots = 1u << 16;
struct alignas(16) LiveLine {
  std::atomic<u64> tag;     // line + 1, kSlotCollided, or 0 (no live lock)
  std::atomic<u64> counts;  // four 16-bit counts, granule 0 lowest
};
LiveLine g_live_lines[kLiveLineSlots];
LiveLine& LiveLineSlot(uptr line) { return g_live_lines[(Mix64(line) >> 20) & (kLiveLineSlots - 1)]; }
// The granule counts of `line` (0: no live lock starts in it). Read without registry_mu: a free()
// of the block that holds a lock happens after that lock's registration (the program passed the
// block on), so it sees the tag and the count; other blocks need no exact answer, only never a
// wrong "no" for their own granules, which a slot being retagged for another line cannot give.
u64 LiveLineCounts(uptr line) {
  LiveLine& s = LiveLineSlot(line);
  if (!SlotCountsFor(s.tag.load(std::memory_order_relaxed), line)) return 0;
  return s.counts.load(std::memory_order_relaxed);
}
// The count of the granule of `addr` (as the unit to add), and the counts of granules g0..g1.
u64 GranuleUnit(uptr addr) { return u64{1} << (((addr >> kGranuleShift) & 3) * 16); }
u64 GranuleMask(u32 g0, u32 g1) { return (~u64{0} >> (16 * (3 - g1))) & (~u64{0} << (16 * g0)); }
// Add and Sub run with registry_mu held.
void LiveLineAdd(uptr addr) {
  uptr line = addr >> kLineShift;
  LiveLine& s = LiveLineSlot(line);
  s.tag.store(TagAdding(s.tag.load(std::memory_order_relaxed), line), std::memory_order_relaxed);
  s.counts.fetch_add(GranuleUnit(addr), std::memory_order_relaxed);
}
void LiveLineSub(uptr addr) {
  LiveLine& s = LiveLineSlot(addr >> kLineShift);
  if (s.counts.fetch_sub(GranuleUnit(addr), std::memory_order_relaxed) == GranuleUnit(addr))
    s.tag.store(0, std::memory_order_relaxed);  // the slot's last live lock
}
bool LiveGranuleTest(uptr addr) { return LiveLineCounts(addr >> kLineShift) & (GranuleUnit(addr) * 0xffff); }
// free() ranges that went to ForgetRange (verbosity=1 statistics; counted there only, so that free()
// itself writes no shared line).
std::atomic<u64> g_frees_forget{0};
std::atomic<u64> g_frees_found{0};  // ... of which found a lock to forget

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------
void ReadThreadName(ThreadState* ts) {
  char name[17] = {};
  if (prctl(PR_GET_NAME, name, 0, 0, 0) == 0) memcpy(ts->name, name, sizeof ts->name - 1);
}

void RecordStackRange(ThreadState* ts) {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  void* lo = nullptr;
  size_t size = 0;
  if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
    ts->stack_lo = reinterpret_cast<uptr>(lo);
    ts->stack_hi = ts->stack_lo + size;
  }
  pthread_attr_destroy(&attr);
}

ThreadState* NewThreadState(u32 number, u32 parent, u32 creation_stack) {
  ThreadState* ts;
  {
    RuntimeLockGuard lock(&g_rt.threads_mu);
    ts = g_rt.free_states;
    if (ts) g_rt.free_states = ts->next_all;
  }
  if (ts) {
    // Recycled: reset everything but keep the allocation.
    FreeHeldArray(ts);
    PyStackMemo* memo = ts->py_memo;  // kept: valid for any thread
    StackMemo* stack_memo = ts->stack_memo;  // kept, emptied: its slots were the old thread's stack
    ClearStackMemo(stack_memo);
    ts->~ThreadState();
    memset(static_cast<void*>(ts), 0, sizeof *ts);
    new (ts) ThreadState();
    ts->py_memo = memo;
    ts->stack_memo = stack_memo;
  } else {
    // 49 KiB: whole pages (52 KiB), not the 64 KiB class. Recycled, never freed.
    static_assert(sizeof(ThreadState) > (32u << 10) && sizeof(ThreadState) <= (52u << 10),
                  "a thread's state takes 33-52 KiB of whole pages (docs/design.md, memory)");
    ts = new (InternalAllocPages(sizeof(ThreadState))) ThreadState();
  }
  ts->number = number;
  ts->parent = parent;
  ts->creation_stack = creation_stack;
  ts->tid = static_cast<int>(syscall(SYS_gettid));
  UpdateEndSlow(ts);  // acquire_stacks
  ReadThreadName(ts);
  RuntimeLockGuard lock(&g_rt.threads_mu);
  ts->next_all = g_rt.all_threads;
  g_rt.all_threads = ts;
  g_rt.threads_total++;
  return ts;
}

u32 NextThreadNumber() {
  RuntimeLockGuard lock(&g_rt.threads_mu);
  return g_rt.next_thread_number++;
}

ThreadState* FindThreadLocked(u32 number) {
  for (ThreadState* t = g_rt.all_threads; t; t = t->next_all)
    if (t->number == number) return t;
  return nullptr;
}

void ThreadExitDestructor(void* arg);

}  // namespace

ThreadState* CurrentThreadSlow() {
  ThreadLocal& tl = t_local;
  if (tl.in_runtime || (tl.disabled & kTornDown)) return nullptr;
  if (g_rt.state.load(std::memory_order_acquire) != 2) {
    InitRuntime();
    if (g_rt.state.load(std::memory_order_acquire) != 2) return nullptr;
  }
  if (tl.ts) return tl.ts;
  ScopedInRuntime guard;
  ThreadState* ts = NewThreadState(NextThreadNumber(), 0, 0);
  RecordStackRange(ts);
  tl.ts = ts;
  std::atomic_signal_fence(std::memory_order_seq_cst);  // a signal handler sees the state first
  tl.disabled &= ~kNoState;
  pthread_setspecific(g_rt.exit_key, ts);
  return ts;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Locks
// ---------------------------------------------------------------------------------------------
// `reuse_id`: the id of a parked node this lock takes back (0: a new id); `park_chain`: its state.
LockInfo* NewLockInfoLocked(uptr addr, LockKind kind, u64 reuse_id = 0, u64 park_chain = kParkNone,
                            bool site_class = false) {
  LockInfo* li = g_rt.free_infos;
  if (li) {
    g_rt.free_infos = li->next_in_page;
  } else {
    li = InternalNew<LockInfo>();
  }
  li->addr.store(addr, std::memory_order_relaxed);
  li->kind = kind;
  li->id = reuse_id ? reuse_id : g_rt.next_lock_id++;
  li->park_chain = park_chain;
  li->first_pc = 0;
  li->first_stack = 0;
  li->first_thread = 0;
  li->driver_call = nullptr;
  li->in_libcuda = false;
  li->shared = false;
  li->acquired = false;
  li->edges_while_held = false;
  li->site_class = site_class;
  li->site_entry = 0;
  li->init_thread = 0;
  li->gil_state.store(0, std::memory_order_relaxed);
  g_rt.by_addr->Insert(li);
  if (!site_class) g_rt.by_id->Insert(li);  // a class's record is there
  uptr page = addr >> kPageShift;
  LockInfo** head = g_rt.by_page->Find(page + 1);
  li->next_in_page = head ? *head : nullptr;
  g_rt.by_page->Insert(page + 1, li);
  BloomSet(addr);
  LivePageAdd(addr);
  LiveRegionSlot(addr >> kRegionShift).fetch_add(1, std::memory_order_relaxed);
  LiveLineAdd(addr);
  g_rt.locks_live++;
  g_rt.locks_total++;
  return li;
}

// ForgetLocked — removes a lock from the registry (registry_mu held). The caller removes its node
// from the graph (graph_mu held), if it has one.
void ForgetLocked(LockInfo* li) {
  uptr addr = li->addr.load(std::memory_order_relaxed);
  for (u32 i = 0; i < g_rt.orphans->size();) {
    const internal::OrphanLock& o = (*g_rt.orphans)[i];
    if (o.id == li->id && (!li->site_class || o.addr == addr)) g_rt.orphans->SwapRemove(i);
    else i++;
  }
  g_rt.by_addr->Erase(addr);
  if (!li->site_class) g_rt.by_id->Erase(li->id);
  if (li->site_entry) g_rt.site_entries[li->site_entry]->forgotten++;  // lock_identity=auto
  uptr page = addr >> kPageShift;
  LockInfo* rest = nullptr;  // the page's other locks
  if (LockInfo** head = g_rt.by_page->Find(page + 1)) {
    LockInfo** pp = head;
    while (*pp && *pp != li) pp = &(*pp)->next_in_page;
    if (*pp) *pp = li->next_in_page;
    rest = *head;
    if (!rest) g_rt.by_page->Erase(page + 1);
  }
  LivePageSub(addr, rest);
  LiveRegionSlot(addr >> kRegionShift).fetch_sub(1, std::memory_order_relaxed);
  LiveLineSub(addr);
  li->gen.fetch_add(1, std::memory_order_release);
  li->addr.store(0, std::memory_order_relaxed);
  li->next_in_page = g_rt.free_infos;
  g_rt.free_infos = li;
  g_rt.locks_live--;
}

// Collect the locks in [lo, hi) (registry_mu held).
void CollectRangeLocked(uptr lo, uptr hi, SmallVec<LockInfo*, 8>* out) {
  uptr first = lo >> kPageShift, last = (hi - 1) >> kPageShift;
  auto scan_page = [&](LockInfo* li) {
    for (; li; li = li->next_in_page) {
      uptr a = li->addr.load(std::memory_order_relaxed);
      if (a >= lo && a < hi) out->push_back(li);
    }
  };
  if (last - first + 1 > g_rt.by_page->size()) {
    g_rt.by_page->ForEach([&](u64 key, LockInfo* li) {
      uptr page = key - 1;
      if (page >= first && page <= last) scan_page(li);
    });
    return;
  }
  for (uptr page = first; page <= last; page++) {
    if (!BloomTest(page)) continue;
    if (LockInfo** head = g_rt.by_page->Find(page + 1)) scan_page(*head);
  }
}

constexpr u32 kParkedSlots = 1024;

Runtime::ParkedLock& ParkedSlot(uptr addr) {
  return g_rt.parked[Mix64(addr) & (kParkedSlots - 1)];
}

bool ParkableKind(LockKind k) {
  return k == LockKind::kMutex || k == LockKind::kRecursiveMutex || k == LockKind::kErrorCheckMutex ||
         k == LockKind::kRwlock || k == LockKind::kSpin;
}

// lock_identity=site and auto (docs/design.md "Lock classes"): which new locks may take a class's
// id. The program's own pthread locks, first taken outside the interpreter and outside libcuda:
// CPython's locks are all first locked on the interpreter's same few paths, and libcuda's on its
// internal wrappers (the recurring-lock rule serves those); semaphores are CPython's locks or not
// locks. g_class_after: how many locks of a call path must have been forgotten before it is a class
// (0: `site`, from its first lock).
bool g_site_identity = false;
u32 g_class_after = 0;
constexpr u32 kMaxSiteClasses = 1u << 16;
bool SiteClassCandidate(const ThreadState* ts, LockKind kind, uptr pc) {
  return g_site_identity && pc && ParkableKind(kind) && !ts->driver_depth && !InInterpreterCode(pc) &&
         !InLibcuda(pc);
}

// SiteClassKey — the key of the class of a lock of `kind` first locked with `first_stack` (a
// "first locked at" stack): its frames and kind; 0 (no class) without frames. When the interpreter's
// code is among them (C code that Python called just above: a ctypes call of pthread_mutex_lock
// itself, a thin binding) the C frames are the same for every such lock, whatever the Python code:
// the thread's 8 innermost Python frames are part of the key (as the 8 innermost C frames are: read
// as keys, nothing decoded), and without them (an interpreter whose frames locksan does not read) the
// lock keeps its own identity.
u64 SiteClassKey(LockKind kind, u32 first_stack) {
  StackTrace st = StackDepotGet(first_stack);
  if (!st.size) return 0;
  u64 py = 0;
  for (u32 i = 0; i < st.size; i++)
    if (InInterpreterCode(st.pcs[i])) {
      py = PyStackKey();
      if (!py) return 0;
      break;
    }
  return Mix64((u64{first_stack} << 8 | static_cast<u8>(kind)) ^ Mix64(py ^ 0x5c1a55)) | 1;
}

static_assert(sizeof(Runtime::SiteClass) <= 96, "a call path's entry is 96 bytes (docs/design.md states the bound)");

// SiteClassIdLocked — the id of the class with that key (SiteClassKey, not 0; registry_mu held),
// the call path's entry made if new; a call path becomes a class (described as the lock that makes
// it one) at once under `site`, under `auto` once g_class_after of its locks were forgotten. 0: not
// a class (yet), *entry its entry for the lock to count itself in when forgotten (0: the table is
// full; the lock keeps its own identity).
u64 SiteClassIdLocked(u64 key, LockKind kind, u32 first_stack, uptr addr, uptr pc, u32 thread, u16* entry) {
  *entry = 0;
  Runtime::SiteClass* c;
  if (Runtime::SiteClass** found = g_rt.classes_by_key->Find(key)) {
    c = *found;
  } else {
    u32 n = static_cast<u32>(g_rt.classes_by_key->size());
    if (n + 1 >= kMaxSiteClasses) return 0;
    if (!g_rt.site_entries)
      g_rt.site_entries = static_cast<Runtime::SiteClass**>(InternalAlloc(kMaxSiteClasses * sizeof(void*)));
    c = InternalNew<Runtime::SiteClass>();
    c->index = static_cast<u16>(n + 1);
    g_rt.site_entries[c->index] = c;
    g_rt.classes_by_key->Insert(key, c);
  }
  if (!c->rec.id) {
    if (c->forgotten < g_class_after) {
      *entry = c->index;
      return 0;
    }
    LockInfo& r = c->rec;  // described as the lock that makes the call path a class
    r.addr.store(addr, std::memory_order_relaxed);
    r.id = g_rt.next_lock_id++;
    r.kind = kind;
    r.first_pc = pc;
    r.first_stack = first_stack;
    r.first_thread = thread;
    g_rt.classes_by_id->Insert(r.id, c);
    g_rt.by_id->Insert(&r);
  }
  c->instances++;
  return c->rec.id;
}

// ParkOrRemoveLocked — a lock is forgotten (graph_mu and registry_mu held; ForgetLocked follows):
// its node is removed from the graph, or parked, by one of two rules.
// - A sink: every edge into it was made by the order check of one acquisition chain (its first
//   thread, at its first call site), no edge goes out of it, and no order check that made an edge ran
//   while it was held (so its id is in no other edge's gates). A new lock at the same address, first
//   taken by that thread at that call site under the same held locks (the same chain), would make
//   exactly these edges again: it takes the parked id back (ResolveLockSlow), with its order check,
//   edges and evidence, and its chains are in the caches. Such a node is on no cycle.
// - A recurring driver lock: a lock of libcuda's (first taken by code in libcuda or inside a driver
//   call), initialised (pthread_*_init) and first taken by the same thread, never taken by another,
//   destroyed or freed, then initialised again at the same address and first taken by that thread at
//   the same call site (libcuda re-creates two recursive mutexes at the same addresses on every CuPy
//   step, each with edges in and out). It is taken to be the same driver object used the same way,
//   as lockdep's lock classes assume, and takes the node back with all its edges, out of it too:
//   edges the new object may not make again. That is a class-level view, which is why the rule is
//   kept to the driver's own locks (whose order among themselves no program can change). While
//   parked such a node may have edges out of it: a cycle through a parked node is not reported
//   (CycleReportable), since that lock no longer exists.
// One slot per address hash: a node parked in an occupied slot removes the one there.
void ParkOrRemoveLocked(LockInfo* li) {
  if (li->site_class) return;  // its class's node stays (lock_identity=site)
  uptr addr = li->addr.load(std::memory_order_relaxed);
  bool base = g_rt.flags.revive_locks && ParkableKind(li->kind) && li->first_pc;
  bool sink = base && li->park_chain > kParkNever && !li->edges_while_held &&
              g_rt.graph->IsSinkWithInEdges(li->id);
  bool recurring = !sink && base && li->in_libcuda && li->init_thread == li->first_thread + 1 &&
                   !li->shared && g_rt.graph->HasNode(li->id);
  if (!sink && !recurring) {
    g_rt.graph->RemoveNode(li->id);
    return;
  }
  if (!g_rt.parked)
    g_rt.parked = static_cast<Runtime::ParkedLock*>(InternalAlloc(kParkedSlots * sizeof(Runtime::ParkedLock)));
  Runtime::ParkedLock& p = ParkedSlot(addr);
  if (p.id) {
    g_rt.graph->RemoveNode(p.id);
    g_rt.parked_live--;
  }
  p.addr = addr;
  p.id = li->id;
  p.chain = sink ? li->park_chain : kParkNone;
  p.pc = li->first_pc;
  p.thread = li->first_thread;
  p.first_stack = li->first_stack;
  p.kind = li->kind;
  p.recurring = recurring;
  g_rt.parked_live++;
}

// TakeParkedLocked — the id of the node parked at `addr` for this first acquisition (registry_mu
// held), emptying its slot; 0 when there is none or it does not match. `k`: the acquisition's held
// chain (nullptr: unknown); `reinit`: the lock was initialised by this thread and is being taken for
// the first time (the recurring-lock rule needs that and no chain).
u64 TakeParkedLocked(const ThreadState* ts, uptr addr, LockKind kind, uptr pc, const ParkKey* k, bool reinit,
                     u64* chain, u32* first_stack) {
  if (!g_rt.parked_live) return 0;
  Runtime::ParkedLock& p = ParkedSlot(addr);
  if (!p.id || p.addr != addr || p.kind != kind || p.thread != ts->number || p.pc != pc) return 0;
  if (p.recurring ? !reinit : !k || p.chain != ChainStep(k->below, p.id, k->mode, k->flags)) return 0;
  u64 id = p.id;
  *chain = p.chain;
  *first_stack = p.first_stack;
  p = Runtime::ParkedLock{};
  g_rt.parked_live--;
  g_rt.revived++;
  return id;
}

// ForgetLocks — forgets `locks` (graph_mu, then registry_mu held; registry_mu alone suffices when
// all are members of a lock class: their class's node stays in the graph).
void ForgetLocks(SmallVec<LockInfo*, 8>* locks) {
  if (g_rt.flags.verbosity >= 3)
    for (LockInfo* li : *locks)
      OutputPrintf("==%d==locksan: forget lock %llu(%s)@%p, first taken at pc %p\n", getpid(),
                   static_cast<unsigned long long>(li->id), LockKindName(li->kind),
                   reinterpret_cast<void*>(li->addr.load(std::memory_order_relaxed)),
                   reinterpret_cast<void*>(li->first_pc));
  for (LockInfo* li : *locks) ParkOrRemoveLocked(li);
  for (LockInfo* li : *locks) ForgetLocked(li);
}

// ---------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------
void FillLock(ReportDesc* r, u64 id) {
  if (r->FindLock(id)) return;
  ReportLock rl{};
  rl.id = id;
  if (LockInfo* li = g_rt.by_id->Find(id)) {
    rl.addr = li->addr.load(std::memory_order_relaxed);
    rl.kind = li->kind;
    rl.first_pc = li->first_pc;
    rl.first_stack = li->first_stack;
    rl.first_thread = li->first_thread;
    rl.driver_call = li->driver_call;
    if (g_site_identity)
      if (Runtime::SiteClass** c = g_rt.classes_by_id->Find(id)) rl.class_locks = (*c)->instances;
  }
  r->locks.push_back(rl);
}

void FillThread(ReportDesc* r, u32 number) {
  if (r->FindThread(number)) return;
  ReportThread rt{};
  rt.number = number;
  if (ThreadState* t = FindThreadLocked(number)) {
    rt.tid = t->tid;
    memcpy(rt.name, t->name, sizeof rt.name);
    rt.creation_stack = t->creation_stack;
    rt.parent = t->parent;
    rt.alive = t->alive.load(std::memory_order_relaxed);
  } else {
    for (const ReportThread& d : *g_rt.dead_threads)
      if (d.number == number) rt = d;
  }
  r->threads.push_back(rt);
}

void FillThreads(ReportDesc* r) {
  RuntimeLockGuard lock(&g_rt.threads_mu);
  PtrVec<u32> numbers;
  for (const ReportEdge& e : r->edges) numbers.push_back(e.facts.thread);
  for (const ReportLock& l : r->locks) numbers.push_back(l.first_thread);
  numbers.push_back(r->current_thread);
  for (u32 n : numbers) FillThread(r, n);
  // Parents, for "created by" lines.
  for (u32 i = 0; i < r->threads.size(); i++)
    if (r->threads[i].number != 0) FillThread(r, r->threads[i].parent);
}

// GateIsShared — only a lock that more than one thread has taken can serialise two threads' paths
// (graph_mu is held; takes registry_mu).
bool GateIsShared(u64 id, void*) {
  RuntimeLockGuard rlock(&g_rt.registry_mu);
  LockInfo* li = g_rt.by_id->Find(id);
  return li && li->shared;
}

u64 CycleSignature(const CycleResult& c) {
  // Order-independent: the sum and xor of the edges' mixed keys.
  u64 sum = 0, x = 0;
  for (Edge* e : c.edges) {
    u64 k = Mix64(e->from->id * 0x9e3779b97f4a7c15ULL ^ e->to->id);
    sum += k;
    x ^= Mix64(k);
  }
  return Mix64(sum ^ Mix64(x)) | 1;
}

// NewInversionReport — the report of a reportable cycle, or nullptr when this cycle (its edge set)
// was reported before (graph_mu held; takes registry_mu).
ReportDesc* NewInversionReport(ThreadState* ts, const CycleResult& cycle) {
  u64 sig = CycleSignature(cycle);
  if (g_rt.reported->Find(sig)) return nullptr;
  g_rt.reported->Insert(sig, 1);
  ReportDesc* r = InternalNew<ReportDesc>();
  r->kind = ReportKind::kLockOrderInversion;
  r->signature = sig;
  r->current_thread = ts->number;
  bool single = true;
  u32 t0 = cycle.edges[0]->facts.thread;
  {
    RuntimeLockGuard rlock(&g_rt.registry_mu);
    for (Edge* e : cycle.edges) {
      r->edges.push_back({e->from->id, e->to->id, e->facts});
      if (e->facts.thread != t0 || e->facts.multi_thread) single = false;
      FillLock(r, e->from->id);
    }
  }
  r->single_thread = single;
  // A shared lock held on every edge (the graph's search knows it): the cycle is gated (reported only
  // with report_gate_locks=1).
  if (cycle.common_gate) {
    r->common_gate = cycle.common_gate;
    RuntimeLockGuard rlock(&g_rt.registry_mu);
    FillLock(r, cycle.common_gate);
  }
  return r;
}

// CycleReportable — the confined-GIL-cycle rule (the graph's cycle predicate; graph_mu held, takes
// registry_mu). A cycle that passes GIL -> S -> X, where S is a semaphore (a Python lock), both
// edges were made by one thread T only, and no thread but T ever took S while holding the GIL, is
// not reported. A deadlock on it needs a thread that holds the GIL and waits for S (it made
// GIL -> S) and another that holds S and waits for X (it made S -> X): only T did either, T cannot
// wait for S while it holds S, and no other Python thread touches S. CPython's own C code blocks on
// such locks with the GIL held (faulthandler's cancel_event and `running`: the main thread holds
// them while the watchdog is armed; the watchdog C thread, which never takes the GIL, is the only
// other taker). Python code never makes GIL -> S (it probes, then blocks without the GIL).
// A second GIL-holding taker of S, or a second thread on either edge, makes the cycle reportable
// again (CheckAcquireSlow searches again; the graph re-checks an edge seen from a second thread).
bool CycleReportable(Edge* const* edges, u32 n, void*) {
  RuntimeLockGuard rlock(&g_rt.registry_mu);
  // A parked node (a recurring lock, ParkOrRemoveLocked) is a lock that no longer exists.
  for (u32 i = 0; i < n; i++)
    if (!g_rt.by_id->Find(edges[i]->from->id)) return false;
  for (u32 i = 0; i < n; i++) {
    const Edge* in = edges[i];
    const Edge* out = edges[i + 1 < n ? i + 1 : 0];
    if (in->facts.multi_thread || out->facts.multi_thread || in->facts.thread != out->facts.thread)
      continue;
    LockInfo* from = g_rt.by_id->Find(in->from->id);
    if (!from || from->kind != LockKind::kGil) continue;
    LockInfo* li = g_rt.by_id->Find(in->to->id);
    if (!li || li->kind != LockKind::kSemaphore) continue;
    // Marked before the shared bit is looked at (one atomic word): a thread that makes S shared either sees
    // this mark and searches again, or is seen here.
    u32 st = li->gil_state.fetch_or(kGilCycleSkipped);
    bool said = st & kGilCycleSkipped;
    if ((st & kGilShared) || (st & kGilTakerMask) != in->facts.thread + 1) continue;
    if (!said && g_rt.flags.verbosity >= 2)
      OutputPrintf("==%d==locksan: cycle through GIL -> SEM%llu not reported: only T%u takes it with "
                   "the GIL held and made both edges\n",
                   getpid(), static_cast<unsigned long long>(li->id), in->facts.thread);
    return false;
  }
  return true;
}

// NoteGilTaker — `li` (a semaphore) is being taken by `ts` while it holds the GIL. Returns true when
// this makes it shared between GIL-holding threads after a cycle through it went unreported.
bool NoteGilTaker(ThreadState* ts, LockInfo* li) {
  u32 me = ts->number + 1;
  u32 cur = li->gil_state.load(std::memory_order_relaxed);
  for (;;) {
    if ((cur & kGilShared) || (cur & kGilTakerMask) == me) return false;
    if ((cur & kGilTakerMask) != 0 || me > kGilTakerMask) break;
    if (li->gil_state.compare_exchange_weak(cur, cur | me)) return false;
  }
  return li->gil_state.fetch_or(kGilShared) & kGilCycleSkipped;
}

u32 EmitReport(ReportDesc* r) {
  {
    RuntimeLockGuard lock(&g_rt.report_mu);
    r->number = static_cast<u32>(g_rt.reports.load()) + 1;
    if (!PrintReport(*r, g_rt.suppressions)) return 0;
    g_rt.reports.fetch_add(1);
    if (r->kind == ReportKind::kLockOrderInversion) {
      Runtime::Inversion inv{};
      inv.number = r->number;
      for (const ReportEdge& e : r->edges)
        if (inv.nlocks < 8) inv.locks[inv.nlocks++] = e.from;
      g_rt.inversions->push_back(inv);
    }
  }
  if (g_rt.flags.halt_on_error) {
    OutputPrintf("==%d==locksan: halt_on_error=1: exiting\n", getpid());
    _exit(g_rt.flags.exitcode ? g_rt.flags.exitcode : 1);
  }
  return r->number;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Internal API for the watchdog (core/runtime_internal.h)
// ---------------------------------------------------------------------------------------------
namespace internal {

RuntimeMutex& ThreadsMutex() { return g_rt.threads_mu; }
ThreadState* ThreadListHead() { return g_rt.all_threads; }

void FillLockById(ReportDesc* r, u64 id) {
  RuntimeLockGuard rlock(&g_rt.registry_mu);
  FillLock(r, id);
}

void FillThreadsOf(ReportDesc* r) {
  PtrVec<u32> numbers;
  for (const ReportWait& w : r->waits) {
    numbers.push_back(w.thread);
    numbers.push_back(w.holder);
  }
  for (const ReportHeld& h : r->held) numbers.push_back(h.thread);
  RuntimeLockGuard lock(&g_rt.threads_mu);
  for (u32 n : numbers) FillThread(r, n);
}

u32 EmitReportNumbered(ReportDesc* r) { return EmitReport(r); }

u32 FindPredictingInversion(const u64* ids, u32 n) {
  RuntimeLockGuard lock(&g_rt.report_mu);
  for (const Runtime::Inversion& inv : *g_rt.inversions) {
    u32 found = 0;
    for (u32 i = 0; i < inv.nlocks; i++)
      for (u32 j = 0; j < n; j++) found += inv.locks[i] == ids[j];
    if (found >= 2 || (found == inv.nlocks && found > 0)) return inv.number;
  }
  return 0;
}

bool HasOrphans() {
  RuntimeLockGuard rlock(&g_rt.registry_mu);
  if (g_rt.flags.verbosity >= 3)
    for (const OrphanLock& o : *g_rt.orphans) {
      LockInfo* li = g_rt.by_id->Find(o.id);
      OutputPrintf("==%d==locksan: orphan T%u lock %llu kind %s\n", getpid(), o.thread,
                   static_cast<unsigned long long>(o.id), li ? LockKindName(li->kind) : "?");
    }
  return g_rt.orphans->size() > 0;
}

bool FindOrphan(uptr addr, u64 id, OrphanLock* out) {
  RuntimeLockGuard rlock(&g_rt.registry_mu);
  for (const OrphanLock& o : *g_rt.orphans)
    if (o.addr == addr && (id == 0 || o.id == id)) {
      *out = o;
      return true;
    }
  return false;
}

}  // namespace internal

void RemoveHeldAt(ThreadState* ts, u32 i);
bool PurgeStaleHeld(ThreadState* ts);

// ---------------------------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------------------------

const Flags& GetFlags() { return g_rt.flags; }
bool RuntimeInitialized() { return g_rt.state.load(std::memory_order_acquire) == 2; }
bool g_acquire_stacks = false;

// AcquisitionStack — the stack of the lock call being handled (it returns to `pc`; the interceptor's
// frame is `sp`, 0 if unknown): through this thread's stack memo when it can serve. *depot: the
// frames' depot id when the memo had it, else 0.
int AcquisitionStack(ThreadState* ts, uptr pc, uptr sp, uptr* pcs, int depth, u32* depot,
                     StackMemoAux** aux = nullptr) {
  if (sp && g_rt.flags.stack_memo && ts->stack_hi)
    return CaptureCallerStack(&ts->stack_memo, pc, sp + 2 * sizeof(uptr), ts->stack_lo, ts->stack_hi, pcs,
                              depth, g_rt.flags.stack_depth, depot, aux);
  *depot = 0;
  if (aux) *aux = nullptr;
  return CaptureUserStack(pcs, nullptr, depth);
}

u32 CaptureAcquireStack() {
  ScopedInRuntime guard;
  uptr pcs[kMaxStackDepth];
  int n = CaptureUserStack(pcs, nullptr, g_rt.flags.stack_depth);
  return StackDepotPut(pcs, n);
}

// RevivedLockLocked — registers a lock first taken now as the node parked at its address, if this
// first acquisition matches it (registry_mu held); nullptr: none does.
LockInfo* RevivedLockLocked(ThreadState* ts, uptr addr, LockKind kind, uptr pc, const ParkKey* revive) {
  u64 chain = kParkNone;
  u32 revived_stack = 0;
  u64 id = revive && pc ? TakeParkedLocked(ts, addr, kind, pc, revive, false, &chain, &revived_stack) : 0;
  if (!id) return nullptr;
  LockInfo* li = NewLockInfoLocked(addr, kind, id, chain);
  // A revived lock is the parked node's lock again: first taken at the same call site, by the same
  // thread, under the same locks, so its "first locked at" is that node's (no stack captured).
  li->first_stack = revived_stack;
  return li;
}

// NewOwnLockLocked — registers a lock first taken now under an identity of its own (registry_mu held):
// the node parked at its address if this first acquisition matches it (*revived), else a new id.
LockInfo* NewOwnLockLocked(ThreadState* ts, uptr addr, LockKind kind, uptr pc, const ParkKey* revive,
                           bool* revived) {
  LockInfo* li = RevivedLockLocked(ts, addr, kind, pc, revive);
  *revived = li != nullptr;
  return li ? li : NewLockInfoLocked(addr, kind);
}

// FirstLockedStack — a short stack for "first locked at" (depot id). `fresh_id`: the lock gets an id
// no edge has; when this thread holds locks, the order check of this same acquisition
// (CheckAcquireSlow, next) then makes new edges and wants the whole stack as their evidence: it is
// captured whole once, here, and kept for that check (SharedCapture). A lock that may join a lock
// class (the class key is this short stack) most often makes no new edge (its class's are known):
// 8 frames only, and the order check captures the whole stack itself if it needs it (a PyTorch
// step's ~46 class members, each first locked under the GIL: docs/gpu.md, 2026-11-29).
u32 FirstLockedStack(ThreadState* ts, uptr addr, uptr pc, uptr sp, bool fresh_id) {
  int first_depth = g_rt.flags.stack_depth < 8 ? g_rt.flags.stack_depth : 8;
  u32 depot;
  if (fresh_id && ts->Nheld()) {
    ThreadState::SharedCapture& sc = ts->shared_capture;
    int n = AcquisitionStack(ts, pc, sp, sc.pcs, g_rt.flags.stack_depth, &depot);
    sc.n = static_cast<u32>(n);
    sc.depot = depot;
    sc.addr = addr;
    sc.pc = pc;
    sc.seq = ts->wait_seq.load(std::memory_order_relaxed);
    sc.nheld = ts->Nheld();
    return n <= first_depth && depot ? depot : StackDepotPut(sc.pcs, n < first_depth ? n : first_depth);
  }
  uptr pcs[8];
  int n = AcquisitionStack(ts, pc, sp, pcs, first_depth, &depot);
  return depot ? depot : StackDepotPut(pcs, n);
}

LockInfo* ResolveLockSlow(ThreadState* ts, uptr addr, LockKind kind, uptr pc, uptr sp,
                          const ParkKey* revive) {
  ScopedInRuntime guard;
  ScopedBlockSignals no_signals(ProgramHasSignalHandlers());  // registry, capture and depot at once
  LockInfo* li = nullptr;
  bool is_new = false;
  bool revived = false;
  bool site_join = false;  // lock_identity=site: a lock taken for the first time joins its class
  bool revival_tried = false;  // a parked node at this address was looked for (and not found)
  if (kind != LockKind::kGil && kind != LockKind::kSemaphore && GilIsInternal(addr)) {
    // The GIL's own mutexes are not locks of the graph: the GIL itself is (core/gil.h).
    ThreadState::CacheEntry& e = ts->lock_cache[LockCacheIndex(addr)];
    e.addr = addr;
    e.info = &g_untracked;
    e.chain = 0;
    e.gen = g_untracked.gen.load(std::memory_order_acquire);
    return &g_untracked;
  }
  {
    RuntimeLockGuard lock(&g_rt.registry_mu);
    g_rt.registry_lookups++;
    LockInfo* found = g_rt.by_addr->Find(addr);
    if (found) {
      li = found;
      if (ts->lock_cache[LockCacheIndex(addr)].addr == addr)
        g_rt.lookups_gen++;
      else if (!li->first_pc)
        g_rt.lookups_untaken++;
      else if (li->first_thread == ts->number)
        g_rt.lookups_evicted++;
      else
        g_rt.lookups_other++;
      bool first_use = !li->acquired && !li->first_pc && !li->site_class;
      // Registered at its pthread_*_init, taken for the first time: it joins its class below (under
      // `auto`, unless it takes a parked node back first, which costs no stack).
      bool candidate = first_use && SiteClassCandidate(ts, kind, pc);
      if (candidate && !g_class_after) {
        site_join = true;
      } else if (first_use && pc && li->init_thread == ts->number + 1 && g_rt.parked_live) {
        // Initialised by this thread and taken for the first time: a recurring lock's parked node?
        u64 chain = kParkNone;
        u32 revived_stack = 0;
        if (u64 id = TakeParkedLocked(ts, addr, kind, pc, revive, /*reinit=*/true, &chain, &revived_stack)) {
          g_rt.by_id->Erase(li->id);  // its own id is on no edge: it was never taken
          li->id = id;
          li->park_chain = chain;
          g_rt.by_id->Insert(li);
          li->first_stack = revived_stack;
          revived = true;
        }
      }
      if (candidate && !revived) site_join = true;
    } else if (kind == LockKind::kSemaphore) {
      // A semaphore never seen in sem_init(..., 1) is not known to be a lock.
      li = &g_untracked;
    } else if (SiteClassCandidate(ts, kind, pc)) {
      // Registered below, once its class is known; under `auto` a parked node at this address that
      // matches this acquisition is taken back first (no class key, no stack).
      if (g_class_after && g_rt.parked_live && !OverBudget()) {
        li = RevivedLockLocked(ts, addr, kind, pc, revive);
        revival_tried = true;
      }
      revived = is_new = li != nullptr;
      site_join = !li;
    } else {
      if (OverBudget()) return nullptr;
      li = NewOwnLockLocked(ts, addr, kind, pc, revive, &revived);
      is_new = true;
    }
  }
  u32 site_stack = 0;
  if (site_join) {
    // lock_identity=site/auto: the class is keyed by the "first locked at" stack, captured outside
    // the registry's lock, then the lock is registered under its class's id, or (registered at its
    // pthread_*_init and still never taken) takes it: its own id is on no edge. A thread that took
    // the lock meanwhile wins, and its record serves. A call path that is no class yet (`auto`)
    // leaves the lock its own identity, and the lock counts itself there when forgotten.
    site_stack = FirstLockedStack(ts, addr, pc, sp, /*fresh_id=*/false);
    u64 key = SiteClassKey(kind, site_stack);
    RuntimeLockGuard lock(&g_rt.registry_mu);
    li = g_rt.by_addr->Find(addr);
    u16 entry = 0;
    if (!li) {
      if (OverBudget()) return nullptr;
      if (u64 id = key ? SiteClassIdLocked(key, kind, site_stack, addr, pc, ts->number, &entry) : 0) {
        li = NewLockInfoLocked(addr, kind, id, kParkNone, /*site_class=*/true);
      } else {
        // A parked node at this address looked for already (above) is not looked for again.
        li = NewOwnLockLocked(ts, addr, kind, pc, revival_tried ? nullptr : revive, &revived);
        if (!revived) li->site_entry = entry;
      }
      is_new = true;
    } else if (key && !li->acquired && !li->first_pc && !li->site_class && li->kind == kind) {
      if (u64 id = SiteClassIdLocked(key, kind, site_stack, addr, pc, ts->number, &entry)) {
        g_rt.by_id->Erase(li->id);
        li->id = id;
        li->site_class = true;
        // A thread that looked it up under its own id (a lock cache entry) looks it up again.
        li->gen.fetch_add(1, std::memory_order_release);
      } else {
        li->site_entry = entry;
      }
    } else {
      site_stack = 0;
    }
  }
  if (!is_new && li->first_thread != ts->number && !li->shared) li->shared = true;
  if (is_new || (!li->first_pc && pc && li->first_thread == ts->number)) {
    // Only this thread writes these fields, before the lock can be in any report (a lock registered
    // at its pthread_*_init gets its first-use site here).
    li->first_thread = ts->number;
    li->first_pc = pc;
    if (revived) {
      // first_stack set above.
    } else if (pc && InInterpreterCode(pc)) {
      // CPython's own locks (threading.Lock, Condition waiters, the import lock...): taken in the
      // interpreter, which is the first frame that is not a system library, so "first locked at" is
      // the frame of `pc` itself and no stack is needed (a Condition.wait makes a new lock each time).
      // An edge of this acquisition captures its own stack in the order check.
      li->first_stack = 0;
    } else if (site_stack) {
      li->first_stack = site_stack;  // captured before it was registered, for its class
    } else if (pc) {
      li->first_stack = FirstLockedStack(ts, addr, pc, sp, /*fresh_id=*/true);
    }
    li->driver_call = ts->driver_depth ? InnermostDriverCall(ts) : nullptr;
    li->in_libcuda = li->driver_call != nullptr || InLibcuda(pc);
    if (li->in_libcuda && !__atomic_load_n(&g_libcuda_locks, __ATOMIC_RELAXED))
      __atomic_store_n(&g_libcuda_locks, true, __ATOMIC_RELAXED);
    // A lock first taken inside a driver call is named by it: that call is not quiet (core/cuda.cc).
    if (!revived) ts->new_locks++;
    if (is_new && g_rt.flags.verbosity >= 3)
      OutputPrintf("==%d==locksan: T%u %s lock %llu(%s)@%p at pc %p, %u held\n", getpid(),
                   ts->number, revived ? "revived" : "new", static_cast<unsigned long long>(li->id),
                   LockKindName(li->kind), reinterpret_cast<void*>(addr), reinterpret_cast<void*>(pc),
                   ts->Nheld());
  }
  // (Every thread's first use of a lock misses its lock cache: that is where a second thread taking
  // it is noticed, above; only such a lock can serve as a gate lock.)
  ThreadState::CacheEntry& e = ts->lock_cache[LockCacheIndex(addr)];
  e.addr = addr;
  e.info = li;
  e.chain = 0;
  e.gen = li->gen.load(std::memory_order_acquire);
  return li;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Validated chains of every thread
// ---------------------------------------------------------------------------------------------
// A thread's chain cache (ThreadState::chain_cache) holds 1024 chains. Behind it, this lock-free,
// lossy set remembers up to 2^20 (thread, chain) pairs that were checked (a hit means exactly what a
// hit in the thread's own cache means: this thread already recorded every edge of this chain), so
// that a program with many distinct chains does not redo the graph work for each known one. 8-way
// sets of one cache line; an insert takes an empty way or overwrites one. 8 MiB of address space,
// mapped lazily (only the pages of sets in use are resident).
constexpr u32 kValidatedLog = 20;
std::atomic<u64>* g_validated = nullptr;

LOCKSAN_ALWAYS_INLINE u64 ValidatedKey(const ThreadState* ts, u64 chain) {
  return Mix64(chain ^ ((u64{ts->number} + 1) * 0x9e3779b97f4a7c15ULL)) | 1;
}
LOCKSAN_ALWAYS_INLINE std::atomic<u64>* ValidatedSet(u64 key) {
  return g_validated + (key & ((u64{1} << kValidatedLog) - 1) & ~u64{7});
}
bool ValidatedFind(u64 key) {
  std::atomic<u64>* set = ValidatedSet(key);
  for (int i = 0; i < 8; i++)
    if (set[i].load(std::memory_order_relaxed) == key) return true;
  return false;
}
void ValidatedInsert(u64 key) {
  std::atomic<u64>* set = ValidatedSet(key);
  for (int i = 0; i < 8; i++) {
    u64 v = set[i].load(std::memory_order_relaxed);
    if (v == key) return;
    if (v == 0 && set[i].compare_exchange_strong(v, key, std::memory_order_relaxed)) return;
  }
  set[(key >> 58) & 7].store(key, std::memory_order_relaxed);
}

static_assert(sizeof(ThreadState::SharedCapture::pcs) == kMaxStackDepth * sizeof(uptr),
              "a shared capture holds a whole stack");

// The current stack of an acquisition, with the entry address of each frame's function computed
// on demand (to rebuild "previously acquired" stacks).
struct CurrentStack {
  uptr pcs[kMaxStackDepth];
  uptr starts[kMaxStackDepth];
  int n = 0;
  int nstarts = 0;  // starts[0..nstarts) are computed
  uptr Start(int i) {
    while (nstarts <= i) {
      starts[nstarts] = FunctionStart(pcs[nstarts] - 1);
      nstarts++;
    }
    return starts[i];
  }
};

// PreviousStack — the stack of a held lock's acquisition, rebuilt from its return address and the
// current stack: the frames older than the acquiring function's frame are shared. That frame is the
// innermost current frame in the same function as the acquisition (found by the functions' entry
// addresses); if there is none (the function has returned), the innermost frame stands in its slot.
u32 PreviousStack(const HeldLock& h, CurrentStack* cur) {
  if (h.stack) return h.stack;
  uptr out[kMaxStackDepth];
  int k = 0;
  out[k++] = h.pc;
  int i = 1;
  if (uptr f = FunctionStart(h.pc - 1)) {
    for (int j = 0; j < cur->n; j++)
      if (cur->Start(j) == f) {
        i = j + 1;
        break;
      }
  }
  for (; i < cur->n && k < kMaxStackDepth; i++) out[k++] = cur->pcs[i];
  return StackDepotPut(out, k);
}

// NoteParkability — an order check with edges (graph_mu held, which guards LockInfo::park_chain):
// every lock held now is an edge's source or gate, so it is never parked; the acquired lock stays a
// candidate while every check that makes new edges into it has the chain of the first one, by its
// first thread at its first call site (see ParkOrRemoveLocked).
void NoteParkability(ThreadState* ts, u32 top, const Acquire* a, bool all_known) {
  for (u32 j = 0; j < top; j++) {
    const HeldLock& h = ts->held[j];
    if (h.lock->gen.load(std::memory_order_relaxed) == h.gen) h.lock->edges_while_held = true;
  }
  LockInfo* li = a->lock;
  if (all_known || li->park_chain == kParkNever) return;
  if (li->park_chain == kParkNone)
    li->park_chain = ts->number == li->first_thread && a->pc == li->first_pc && a->chain > kParkNever
                         ? a->chain
                         : kParkNever;
  else if (li->park_chain != a->chain)
    li->park_chain = kParkNever;
}

// TraceEdge — verbosity=3: one line per edge an order check looks at (outcome: AddOutcome's value,
// kKnown for an edge the graph had), with both locks' addresses and the acquiring call site.
void TraceEdge(const ThreadState* ts, const HeldLock& h, const Acquire* a, AddOutcome o) {
  OutputPrintf("==%d==locksan: T%u edge %llu(%s)@%p -> %llu(%s)@%p at pc %p: %d\n", getpid(), ts->number,
               static_cast<unsigned long long>(h.id), LockKindName(h.kind),
               reinterpret_cast<void*>(h.addr), static_cast<unsigned long long>(a->lock->id),
               LockKindName(a->lock->kind), reinterpret_cast<void*>(a->addr),
               reinterpret_cast<void*>(a->pc), static_cast<int>(o));
}

}  // namespace

void CheckAcquireSlow(ThreadState* ts, Acquire* a) {
  ScopedInRuntime guard;
  LockInfo* li = a->lock;
  u64* cache_slot = &ts->chain_cache[(a->chain >> 7) & (kChainCacheSize - 1)];
  // The stack ResolveLockSlow captured for this acquisition, if it registered the lock (used once).
  ThreadState::SharedCapture& sc = ts->shared_capture;
  int shared_capture = sc.n && sc.addr == a->addr && sc.pc == a->pc && sc.nheld == ts->Nheld() &&
                               sc.seq == ts->wait_seq.load(std::memory_order_relaxed)
                           ? static_cast<int>(sc.n)
                           : 0;  // frames
  sc.n = 0;
  // The newest lock of the chain: a chain with a lock newer than every chain this thread put in the
  // shared set cannot be there (lock ids only grow), and the look-up (a cache miss, often a TLB
  // miss, in 8 MiB) is skipped.
  u64 newest = li->id;
  LockInfo* newest_lock = li;
  for (u32 i = 0; i < ts->Nheld(); i++)
    if (ts->held[i].id > newest) {
      newest = ts->held[i].id;
      newest_lock = ts->held[i].lock;
    }
  // Checked before by this thread, and evicted from its cache since.
  if (newest <= ts->validated_newest && ValidatedFind(ValidatedKey(ts, a->chain))) {
    *cache_slot = a->chain;
    return;
  }
  // Signals stay blocked while runtime locks are held or waited for and while the stack is captured
  // (see ScopedBlockSignals), once the program has a signal handler of its own; one mask change
  // covers the allocations, both graph passes and the capture between them.
  ScopedBlockSignals no_signals(ProgramHasSignalHandlers());
  g_rt.slow_checks.fetch_add(1, std::memory_order_relaxed);
  if (LOCKSAN_UNLIKELY(g_rt.flags.verbosity >= 3))
    OutputPrintf("==%d==locksan: T%u check %llu(%s)@%p at pc %p, %u held\n", getpid(), ts->number,
                 static_cast<unsigned long long>(li->id), LockKindName(li->kind),
                 reinterpret_cast<void*>(a->addr), reinterpret_cast<void*>(a->pc), ts->Nheld());
  if (PurgeStaleHeld(ts)) {
    u64 prev = ts->Nheld() ? ts->held[ts->Nheld() - 1].chain : kChainSeed;
    a->chain = ChainStep(prev, li->id, a->mode, a->flags);
    if (!ts->Nheld()) return;
    cache_slot = &ts->chain_cache[(a->chain >> 7) & (kChainCacheSize - 1)];
  }
  // A validated chain goes into this thread's cache and into the shared set (which outlives
  // evictions from the thread's cache). A chain that made a new edge is very often one of a kind: a
  // lock created, taken once and freed (a new lock per item of a loop, e.g. PyTorch's DataLoader);
  // putting each in the shared set touched a new cache line, and at first a new page, of its 8 MiB.
  // Such a chain (`fresh`) waits in a small per-thread ring instead, and goes into the shared set
  // when its slot is reused 32 new chains later, only if the newest lock of the chain (the one
  // likeliest to be short-lived) still exists: a chain through a forgotten lock can never recur
  // (ids are not reused). Until then it is in the thread's cache; if it left that cache meanwhile,
  // a recurrence costs one graph look-up (pass 1), which puts it in the shared set.
  auto validated = [&](bool fresh = false) {
    *cache_slot = a->chain;
    if (!fresh) {
      ValidatedInsert(ValidatedKey(ts, a->chain));
      if (newest > ts->validated_newest) ts->validated_newest = newest;
      return;
    }
    ThreadState::PendingChain& p = ts->pending_chains[ts->pending_next++ % 32];
    if (p.lock && p.lock->gen.load(std::memory_order_relaxed) == p.gen) {
      ValidatedInsert(ValidatedKey(ts, p.chain));
      if (p.newest > ts->validated_newest) ts->validated_newest = p.newest;
    }
    p.chain = a->chain;
    p.newest = newest;
    p.lock = newest_lock;
    p.gen = newest_lock->gen.load(std::memory_order_relaxed);
  };
  // Python locks taken with the GIL held: by which threads (the confined-GIL-cycle rule). Every
  // thread's first acquisition of a lock under a given held chain passes here.
  bool gil_recheck = ts->holds_gil && li->kind == LockKind::kSemaphore && NoteGilTaker(ts, li);
  // 1. Re-entry and double lock.
  bool nested_in_class = false;
  for (u32 i = ts->Nheld(); i-- > 0;) {
    HeldLock& h = ts->held[i];
    if (h.id == li->id && h.addr != a->addr) nested_in_class = true;  // another lock of its class
    if (h.addr != a->addr || h.id != li->id) continue;
    bool reentry = li->kind == LockKind::kRecursiveMutex ||
                   (li->kind == LockKind::kRwlock && a->mode == kRead && h.mode == kRead);
    if (reentry) {
      a->flags |= kHeldReentry;
      validated();
      return;
    }
    if (li->kind == LockKind::kSemaphore) {
      // Taking a semaphore one already holds is waiting for a signal (CPython's Condition.wait
      // blocks on its waiter lock this way): it is not a lock; forget it and its edges.
      OnLockDestroy(a->addr);
      a->lock = nullptr;
      return;
    }
    if (!g_rt.flags.report_double_lock) return;
    ReportDesc r;
    r.kind = ReportKind::kDoubleLock;
    r.current_thread = ts->number;
    {
      CurrentStack cur;
      cur.n = CaptureUserStack(cur.pcs, nullptr, g_rt.flags.stack_depth);
      r.current_stack = StackDepotPut(cur.pcs, cur.n);
      r.previous_stack = PreviousStack(h, &cur);
    }
    r.current_driver_call = ts->driver_depth ? InnermostDriverCall(ts) : nullptr;
    r.current_py_stack = CapturePyStack();
    {
      RuntimeLockGuard glock(&g_rt.graph_mu);
      r.signature = Mix64(li->id ^ (u64{r.current_stack} << 32)) | 1;
      if (g_rt.reported->Find(r.signature)) return;
      g_rt.reported->Insert(r.signature, 1);
      RuntimeLockGuard rlock(&g_rt.registry_mu);
      FillLock(&r, li->id);
    }
    FillThreads(&r);
    validated();
    EmitReport(&r);
    return;
  }
  if (nested_in_class) g_rt.site_nested.fetch_add(1, std::memory_order_relaxed);
  // 2. A fresh lock: initialised by this thread, which has acquired nothing since, and never acquired
  // by anyone: this acquisition cannot block (no other thread can have taken it yet), so it makes no
  // edge into it. (PyTorch creates a per-storage RLock under a global lock and takes it at once.)
  if (!li->acquired && li->init_thread == ts->number + 1 && ts->fresh_lock == li) {
    *cache_slot = 0;  // later acquisitions of this chain are not fresh: check them
    return;
  }
  // 3. Edges from the most recent held lock not taken by trylock, and from trylock-taken locks above
  // it (as lockdep does); longer orders follow transitively. The GIL is transparent here: a thread
  // that lets the GIL go while it holds A (I/O, a forced switch) re-takes it on top of A, and CPython
  // takes the next threading.Lock B by a probe that makes no GIL -> B edge (below), so A -> B must
  // come from A itself.
  u32 top = ts->Nheld();
  u32 first = top;
  while (first > 0) {
    first--;
    const HeldLock& h = ts->held[first];
    if (!(h.flags & kHeldReentry) && !(h.flags & kHeldTry) && h.kind != LockKind::kGil) break;
  }
  // Sources: entries [first, top), and the GIL wherever it is in the stack: edges out of the GIL
  // into CPython's probe-acquired locks are not recorded, so GIL -> X cannot follow transitively.
  SmallVec<u32, 16> sources;
  for (u32 i = 0; i < first; i++)
    if (ts->held[i].kind == LockKind::kGil) sources.push_back(i);
  for (u32 i = first; i < top; i++) sources.push_back(i);
  // The facts of each edge (evidence comes later, and only for edges that need it).
  struct Source {
    u32 index;
    bool known;  // the graph has this edge and this occurrence changes nothing that matters
    EdgeFacts f;
  };
  SmallVec<Source, 8> edges;
  for (u32 i : sources) {
    const HeldLock& h = ts->held[i];
    if (h.flags & kHeldReentry) continue;
    if (h.id == li->id) continue;
    // CPython takes a threading.Lock by probing with sem_trywait while it holds the GIL and, if
    // that fails, blocks in sem_wait after releasing the GIL: the GIL never waits for such a lock.
    if (ts->sem_probe && h.kind == LockKind::kGil) continue;
    Source src;
    src.index = i;
    src.known = false;
    EdgeFacts& f = src.f;
    f.modes = static_cast<u8>((h.mode == kRead ? kFromHeldRead : kFromHeldWrite) |
                              (a->mode == kRead ? kToWantRead : kToWantWrite));
    f.thread = ts->number;
    // Gates: the other locks held at this moment, outermost first.
    for (u32 j = 0; j < top; j++) {
      const HeldLock& g = ts->held[j];
      if (j == i || g.id == li->id || (g.flags & kHeldReentry)) continue;
      // The GIL serialises nothing that blocks (a thread releases it before it waits), and the
      // CUDA-STREAM pseudo-lock is not a mutual exclusion: neither is ever a gate.
      if (g.kind == LockKind::kGil || g.kind == LockKind::kCudaStream) continue;
      bool dup = false;
      for (u8 k = 0; k < f.ngates; k++) dup |= f.gates[k] == g.id;
      if (dup) continue;
      if (f.ngates == kMaxGates) {
        f.gates_overflow = true;
        break;
      }
      f.gates[f.ngates++] = g.id;
    }
    edges.push_back(src);
  }
  // Pass 1: edges the graph knows already need no evidence: no stack is captured for them.
  {
    RuntimeLockGuard glock(&g_rt.graph_mu);
    if (OverBudget()) {
      validated();
      return;
    }
    bool all_known = true;
    for (Source& src : edges) {
      const HeldLock& h = ts->held[src.index];
      src.known = g_rt.graph->MergeIfKnown(h.id, li->id, src.f);
      all_known &= src.known;
      if (src.known && g_rt.flags.verbosity >= 3) TraceEdge(ts, h, a, AddOutcome::kKnown);
    }
    if (!edges.empty()) NoteParkability(ts, top, a, all_known);
    if (all_known) {
      // A chain through a lock newer than every chain this thread put in the shared set (a lock
      // made per step or per item, taken above locks whose edges are known) waits in the ring like
      // a chain that made an edge: it goes into the shared set only if that lock outlives 32 more
      // new chains.
      validated(/*fresh=*/newest > ts->validated_newest);
      return;
    }
  }
  // Evidence: one capture of this acquisition's stack serves every new edge (taken already if the
  // lock was registered by this very acquisition: same lock, call site, wait sequence and held count).
  CurrentStack cur;
  u32 stack_to;
  StackMemoAux* memo_aux = nullptr;  // the memo's "previously acquired" stack for these frames
  if (shared_capture) {
    cur.n = shared_capture;
    memcpy(cur.pcs, ts->shared_capture.pcs, cur.n * sizeof(uptr));
    stack_to = ts->shared_capture.depot;
  } else {
    cur.n = AcquisitionStack(ts, a->pc, a->sp, cur.pcs, g_rt.flags.stack_depth, &stack_to, &memo_aux);
  }
  if (!stack_to) stack_to = StackDepotPut(cur.pcs, cur.n);
  u32 py_to = CapturePyStack();
  // Into the GIL: is this thread entering a ctypes/cffi callback? (Its function is known only here.)
  u32 callback_to = li->kind == LockKind::kGil ? CapturePyCallback(cur.pcs, cur.n) : 0;
  const char* driver_now = ts->driver_depth ? InnermostDriverCall(ts) : nullptr;
  for (Source& src : edges) {
    if (src.known) continue;
    const HeldLock& h = ts->held[src.index];
    EdgeFacts& f = src.f;
    f.stack_to = stack_to;
    // PreviousStack is a function of the held entry's pc and these frames: kept with them.
    if (memo_aux && !h.stack && memo_aux->key == h.pc && memo_aux->value) {
      f.stack_from = memo_aux->value;
    } else {
      f.stack_from = PreviousStack(h, &cur);
      if (memo_aux && !h.stack) *memo_aux = StackMemoAux{h.pc, f.stack_from};
    }
    f.stack_from_exact = h.stack != 0;
    f.aux_to = py_to;
    f.py_callback = callback_to;
    f.driver_to = driver_now;
    f.driver_from = h.lock->gen.load(std::memory_order_relaxed) == h.gen ? h.lock->driver_call : nullptr;
  }
  // Pass 2: record them.
  PtrVec<ReportDesc*> reports;
  {
    RuntimeLockGuard glock(&g_rt.graph_mu);
    if (OverBudget()) {
      validated();
      return;
    }
    for (Source& src : edges) {
      if (src.known) continue;
      const HeldLock& h = ts->held[src.index];
      CycleResult cycle;
      AddOutcome o = g_rt.graph->AddEdge(h.id, li->id, src.f, g_rt.flags.report_gate_locks, &cycle);
      if (g_rt.flags.verbosity >= 3) TraceEdge(ts, h, a, o);
      if (o != AddOutcome::kCycle) continue;
      if (ReportDesc* r = NewInversionReport(ts, cycle)) reports.push_back(r);
    }
    if (gil_recheck) {
      // A cycle through this lock went unreported while one thread alone took it with the GIL: it
      // may be reportable now (after the edges above: a report then shows this thread's evidence).
      for (u32 i = 0; i < top; i++) {
        if (ts->held[i].kind != LockKind::kGil) continue;
        CycleResult cycle;
        if (g_rt.graph->Recheck(ts->held[i].id, li->id, g_rt.flags.report_gate_locks, &cycle))
          if (ReportDesc* r = NewInversionReport(ts, cycle)) reports.push_back(r);
        break;
      }
    }
    validated(/*fresh=*/true);
  }
  for (ReportDesc* r : reports) {
    FillThreads(r);
    EmitReport(r);
    InternalDelete(r);
  }
}

HeldLock* CheckPendingSlow(ThreadState* ts, HeldLock* h) {
  HeldLock pending = *h;
  Acquire a;
  a.lock = pending.lock;
  a.addr = pending.addr;
  a.chain = pending.chain;
  a.pc = pending.pc;
  a.sp = pending.sp;
  a.mode = pending.mode;
  a.flags = pending.flags;
  CheckAcquireSlow(ts, &a);
  if (!a.lock) {
    h->addr = 0;  // not an entry: the slot is empty (above every held entry, whatever was dropped)
    return nullptr;
  }
  // Stale entries below it may have been dropped: the pending slot is *top again.
  HeldLock* n = &ts->held[ts->Nheld()];
  *n = pending;
  n->chain = a.chain;
  n->flags = a.flags;
  // Not validated (a fresh lock, an unreported double lock...): the next acquisition is checked again.
  if (ts->chain_cache[(a.chain >> 7) & (kChainCacheSize - 1)] != a.chain) n->flags |= kHeldUnchecked;
  return n;
}

void RemoveHeldAt(ThreadState* ts, u32 i) {
  u32 n = ts->Nheld();
  for (u32 j = i; j + 1 < n; j++) ts->held[j] = ts->held[j + 1];
  ts->SetNheld(n - 1);
  // The slots from i up changed: the held ones are marked unchecked below, the others emptied (the
  // old top's, reuse_depth >= n, and slot n: it may be a pending entry, see CheckPendingSlow).
  ts->held[n].addr = 0;
  DropReusableFrom(ts, n - 1);
  for (u32 j = i; j < ts->Nheld(); j++) {
    u64 prev = j ? ts->held[j - 1].chain : kChainSeed;
    HeldLock& h = ts->held[j];
    h.chain = ChainStep(prev, h.id, h.mode, h.flags);
    h.flags |= kHeldUnchecked;  // a chain that no order check has seen
  }
}

// PurgeStaleHeld — drops held entries whose lock was forgotten meanwhile (destroyed, freed, or a
// semaphore found to be a signal). Returns whether anything was dropped.
bool PurgeStaleHeld(ThreadState* ts) {
  bool any = false;
  for (u32 i = ts->Nheld(); i-- > 0;) {
    const HeldLock& h = ts->held[i];
    if (h.lock->gen.load(std::memory_order_relaxed) != h.gen ||
        h.lock->release_epoch.load(std::memory_order_relaxed) != h.epoch) {
      RemoveHeldAt(ts, i);
      any = true;
    }
  }
  return any;
}

void OnSemInit(uptr addr, unsigned value) {
  OnLockDestroy(addr);
  ThreadState* ts = CurrentThread();
  if (!ts || value != 1) return;
  {
    ScopedInRuntime guard;
    RuntimeLockGuard lock(&g_rt.registry_mu);
    if (!g_rt.by_addr->Find(addr) && !OverBudget()) {
      LockInfo* li = NewLockInfoLocked(addr, LockKind::kSemaphore);
      if (g_rt.flags.verbosity >= 3)
        OutputPrintf("==%d==locksan: T%u new lock %llu(semaphore)@%p at sem_init\n", getpid(), ts->number,
                     static_cast<unsigned long long>(li->id), reinterpret_cast<void*>(addr));
      li->first_thread = ts->number;
      li->init_thread = ts->number + 1;
      ts->fresh_lock = li;
      UpdateEndSlow(ts);
    }
  }
  // Other threads may have cached this address as "not a lock".
  g_untracked.gen.fetch_add(1, std::memory_order_relaxed);
}

LockInfo* LookupLock(ThreadState* ts, uptr addr);

void OnSemTryFailed(ThreadState* ts, uptr addr) {
  // Taken, and not by this thread if it is not in the held stack: a drop recorded for this address
  // is stale (the semaphore was posted since, or destroyed and another made there).
  if (ts->probe_dropped == addr) ts->probe_dropped = 0;
  u32 n = ts->Nheld();
  for (u32 i = n; i-- > 0;) {
    const HeldLock& h = ts->held[i];
    if (h.addr != addr) continue;
    if (h.lock->gen.load(std::memory_order_relaxed) == h.gen) {
      ts->probe_dropped = addr;
      ts->probe_dropped_lock = h.lock;
      ts->probe_dropped_gen = h.gen;
    }
    if (i == n - 1) ts->SetNheld(n - 1);
    else RemoveHeldAt(ts, i);
    return;
  }
}

void OnSemPost(ThreadState* ts, uptr addr) {
  if (TakeProbeDrop(ts, addr)) return;  // this thread's release of the semaphore its probe dropped
  u32 n = ts->Nheld();
  if (!n) {
    OnCrossRelease(ts, addr);
    return;
  }
  LockInfo* li = nullptr;
  {
    ScopedInRuntime guard;
    li = LookupLock(ts, addr);
  }
  if (!li || li->kind != LockKind::kSemaphore) return;
  for (u32 i = n; i-- > 0;) {
    const HeldLock& h = ts->held[i];
    if (h.addr == addr && h.id == li->id) {
      if (i == n - 1) ts->SetNheld(n - 1);
      else RemoveHeldAt(ts, i);
      return;
    }
  }
  OnCrossRelease(ts, addr);
}

void OnCrossRelease(ThreadState* ts, uptr addr) {
  LockInfo* li = ResolveLock(ts, addr, LockKind::kSemaphore, 0, 0);
  if (li && li->kind == LockKind::kSemaphore) OnLockDestroy(addr);
}

// ---------------------------------------------------------------------------------------------
// The pthread_mutex_lock tail path (kWaitTail)
// ---------------------------------------------------------------------------------------------
bool ProbeMutexLayout(int (*init)(pthread_mutex_t*, const pthread_mutexattr_t*),
                      int (*lock)(pthread_mutex_t*), int (*unlock)(pthread_mutex_t*)) {
  if (!init || !lock || !unlock) return false;
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  // The default mutex: kind 0 (PTHREAD_MUTEX_INITIALIZER and pthread_mutex_init(m, NULL)), its
  // owner recorded while locked and cleared by the unlock.
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  bool ok = m.__data.__kind == 0 && init(&m, nullptr) == 0 && m.__data.__kind == 0 && lock(&m) == 0;
  if (!ok) return false;
  ok = m.__data.__owner == tid;
  ok &= unlock(&m) == 0 && m.__data.__owner == 0;
  // The other kinds read as the tail path's mask expects (kMutexTailRefuse, preload/interceptors.cc):
  // recursive 1 (taken), error-checking 2 and adaptive 3 (refused).
  const int types[] = {PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_ADAPTIVE_NP};
  const int kinds[] = {1, 2, 3};
  for (int i = 0; i < 3 && ok; i++) {
    pthread_mutexattr_t a;
    pthread_mutex_t k;
    ok = pthread_mutexattr_init(&a) == 0 && pthread_mutexattr_settype(&a, types[i]) == 0 &&
         init(&k, &a) == 0 && (k.__data.__kind & 0x7f) == kinds[i];
    pthread_mutexattr_destroy(&a);
  }
  return ok;
}

void EnableMutexTail(bool layout_ok) {
  g_mutex_tail = layout_ok && g_rt.flags.mutex_tail_call;
  {
    // Threads that have a state already (taken in other libraries' constructors) follow the flag.
    RuntimeLockGuard tlock(&g_rt.threads_mu);
    for (ThreadState* t = g_rt.all_threads; t; t = t->next_all) t->no_tail = !g_mutex_tail;
  }
  if (g_rt.flags.verbosity >= 1 && g_rt.flags.mutex_tail_call && !layout_ok)
    OutputPrintf("==%d==locksan: pthread_mutex_t is not laid out as expected: mutex_tail_call is off\n",
                 getpid());
}

namespace {
// MutexOwnerTid — the owner field of the pthread_mutex_t of held entry `h`, read without faulting
// if the memory was unmapped meanwhile (the program may have freed a mutex it still held); -1 if
// unreadable.
int MutexOwnerTid(const HeldLock& h) {
  int owner = -1;
  const int* field = &reinterpret_cast<const pthread_mutex_t*>(h.addr)->__data.__owner;
  struct iovec local = {&owner, sizeof owner};
  struct iovec remote = {const_cast<int*>(field), sizeof owner};
  if (syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0) == sizeof owner) return owner;
  if (errno == EFAULT) return -1;
  // The call is refused (a seccomp filter, an old kernel): read the field directly while the lock's
  // record is current — a lock in memory given back to the allocator is forgotten (its record
  // recycled), so the memory of a current one is still the program's.
  if (h.lock && h.lock->gen.load(std::memory_order_relaxed) == h.gen) return __atomic_load_n(field, __ATOMIC_RELAXED);
  return -1;
}
}  // namespace

bool TailWaitPending(const ThreadState* t, uptr wait) {
  const HeldLock* held = t->held;
  u32 n = t->Nheld();
  if (n == 0 || n > 4096) return false;  // popped since (or a torn read)
  const HeldLock& top = held[n - 1];
  if (top.addr != (wait & ~uptr{3})) return false;  // the thread moved on: a stale publication
  int owner = MutexOwnerTid(top);
  // Unreadable: the mutex is gone, so no one holds it and no one waits for it.
  return owner != -1 && owner != t->tid;
}

bool HeldEntryIsPending(const ThreadState* t, u32 i, u32 n) {
  if (i + 1 != n) return false;  // only the top entry can be pending
  uptr wait = t->wait_addr.load(std::memory_order_acquire);
  if (!(wait & kWaitTail) || (wait & ~uptr{3}) != t->held[i].addr) return false;
  return TailWaitPending(t, wait);
}

void RestoreOuterWait(ThreadState* ts) {
  const ThreadState::OuterWait& o = ts->outer_wait;
  ts->wait_lock.store(o.lock, std::memory_order_relaxed);
  ts->wait_addr.store(o.addr, std::memory_order_release);
}

int EndAcquireInPlaceSlow(ThreadState* ts, HeldLock* h, int rc, bool acquired, bool is_try) {
  if (!is_try) {
    if (!ts->outer_wait.addr) ts->wait_addr.store(0, std::memory_order_relaxed);
    else RestoreOuterWait(ts);
  }
  if (!acquired) return rc;
  if (ts->fresh_lock != nullptr && h->kind != LockKind::kGil) {
    ts->fresh_lock = nullptr;
    UpdateEndSlow(ts);
  }
  // Read once the lock is ours: an unlock by a non-holder while this thread waited is not about us.
  h->epoch = h->lock->release_epoch.load(std::memory_order_relaxed);
  if (g_acquire_stacks) h->stack = CaptureAcquireStack();
  // Publish the filled entry: a signal handler that runs later must never see a half-written one.
  std::atomic_signal_fence(std::memory_order_release);
  ts->top = h + 1;
  return rc;
}

HeldLock* FillPendingNew(ThreadState* ts, uptr addr, LockKind kind, u8 mode, u8 flags, uptr pc, uptr sp) {
  u32 n = ts->Nheld();
  HeldLock* h = ts->held + n;
  u64 prev = n ? h[-1].chain : kChainSeed;
  ScopedBlockSignals no_signals(ProgramHasSignalHandlers());
  ParkKey key{prev, mode, flags};
  LockInfo* li = ResolveLockSlow(ts, addr, kind, pc, sp, &key);
  if (!li || li == &g_untracked) return nullptr;
  ThreadState::CacheEntry& e = ts->lock_cache[LockCacheIndex(addr)];  // written by ResolveLockSlow with li
  return FillPendingEntry(ts, h, n, addr, li, e.gen, prev, mode, flags, pc, sp, &e.chain);
}

void DropReusableFrom(ThreadState* ts, u32 from) { EmptySlotsFrom(ts, from); }

void PushHeldSlow(ThreadState* ts) {
  ScopedInRuntime guard;
  // Arrays of 32, 64, ... entries (the allocator's power-of-two classes): the sentinel, ncap slots,
  // the spare.
  u32 ncap = ts->held == ts->inline_held ? 30 : (ts->held_cap + 2) * 2 - 2;
  // Zero-filled: the slots from Nheld() up, the spare slot included, are empty.
  HeldLock* nh = static_cast<HeldLock*>(InternalAlloc((ncap + 2) * sizeof(HeldLock))) + 1;
  nh[-1].addr = kSentinelAddr;
  u32 n = ts->Nheld();
  memcpy(static_cast<void*>(nh), ts->held, n * sizeof(HeldLock));
  FreeHeldArray(ts);
  // Both words change; a signal handler cannot run here (the thread is busy), and other threads'
  // racy readers bound what they read.
  ts->held = nh;
  ts->top = nh + n;
  ts->held_cap = ncap;
}

void FreeHeldArray(ThreadState* ts) {
  if (ts->held != ts->inline_held) InternalFree(ts->held - 1, (ts->held_cap + 2) * sizeof(HeldLock));
}

// LookupLock — the record of a known lock at `addr`; never registers one.
LockInfo* LookupLock(ThreadState* ts, uptr addr) {
  ThreadState::CacheEntry& e = ts->lock_cache[LockCacheIndex(addr)];
  LockInfo* li = e.info;
  if (e.addr == addr && li && li->gen.load(std::memory_order_relaxed) == e.gen)
    return li == &g_untracked ? nullptr : li;
  RuntimeLockGuard lock(&g_rt.registry_mu);
  return g_rt.by_addr->Find(addr);
}

bool ReleaseSlow(ThreadState* ts, uptr addr) {
  u32 n = ts->Nheld();
  for (u32 i = n; i-- > 0;) {
    if (ts->held[i].addr != addr) continue;
    RemoveHeldAt(ts, i);  // the chains of the entries above it change
    return true;
  }
  return false;
}

void OnForeignUnlock(ThreadState* ts, uptr addr, int rc, int prev_owner) {
  // Not held by this thread: an untracked lock (over budget, or taken before tracking started), or
  // another thread's lock (a misuse for mutexes: undefined behaviour). When the unlock succeeded,
  // its holder's entry is stale from now on, so that the holder does not make edges from a lock it
  // no longer holds (an error-checking mutex refuses with EPERM: then nothing changed).
  if (rc != 0) return;
  LockInfo* li = LookupLock(ts, addr);
  if (!li) return;
  u32 epoch = li->release_epoch.fetch_add(1, std::memory_order_relaxed) + 1;
  // A thread that waited for this mutex in the tail path read the epoch before its wait (kWaitTail):
  // the unlock that hands the mutex to it must not make its entry stale. Such a thread has the mutex
  // as its top entry and its tail wait still published, and was not the owner before the unlock
  // (`prev_owner`; the owner's entry is the one made stale). A thread that has read the epoch but not
  // yet pushed its entry is not seen here: that window is a few instructions.
  if (g_mutex_tail && prev_owner != -1) {
    RuntimeLockGuard tlock(&g_rt.threads_mu);
    for (ThreadState* t = g_rt.all_threads; t; t = t->next_all) {
      if (t == ts || t->tid == prev_owner || !t->alive.load(std::memory_order_relaxed)) continue;
      u32 n = t->Nheld();
      if (n == 0 || n > 4096 || t->held[n - 1].addr != addr ||
          t->wait_addr.load(std::memory_order_acquire) != (addr | kWaitTail))
        continue;
      __atomic_store_n(&t->held[n - 1].epoch, epoch, __ATOMIC_RELAXED);
    }
  }
  {
    // An exited thread's lock released by another thread is no longer orphaned.
    RuntimeLockGuard rlock(&g_rt.registry_mu);
    for (u32 i = 0; i < g_rt.orphans->size();) {
      if ((*g_rt.orphans)[i].id == li->id) g_rt.orphans->SwapRemove(i);
      else i++;
    }
  }
  if (!g_rt.flags.report_bad_unlock || li->kind == LockKind::kSemaphore || li->kind == LockKind::kGil)
    return;
  ScopedInRuntime guard;
  ReportDesc r;
  r.kind = ReportKind::kBadUnlock;
  r.current_thread = ts->number;
  uptr pcs[kMaxStackDepth];
  int depth = CaptureUserStack(pcs, nullptr, g_rt.flags.stack_depth);
  r.current_stack = StackDepotPut(pcs, depth);
  r.current_py_stack = CapturePyStack();
  {
    RuntimeLockGuard glock(&g_rt.graph_mu);
    r.signature = Mix64(li->id ^ (u64{r.current_stack} << 32) ^ 0xbad) | 1;
    if (g_rt.reported->Find(r.signature)) return;
    g_rt.reported->Insert(r.signature, 1);
    RuntimeLockGuard rlock(&g_rt.registry_mu);
    FillLock(&r, li->id);
  }
  // Who holds it, if a live thread's held list has it.
  {
    RuntimeLockGuard tlock(&g_rt.threads_mu);
    for (ThreadState* t = g_rt.all_threads; t && !r.previous_stack; t = t->next_all) {
      if (t == ts || !t->alive.load(std::memory_order_relaxed)) continue;
      u32 n = t->Nheld();
      for (u32 i = 0; i < n && i < 4096; i++)
        if (t->held[i].addr == addr && !HeldEntryIsPending(t, i, n)) {
          r.held.push_back({t->number, t->held[i].id, addr, t->held[i].kind, t->held[i].mode, t->held[i].pc});
          break;
        }
    }
  }
  FillThreads(&r);
  EmitReport(&r);
}

void OnLockInit(uptr addr, LockKind kind) {
  if (LOCKSAN_UNLIKELY(g_rt.flags.verbosity >= 3))
    OutputPrintf("==%d==locksan: init lock (%s)@%p\n", getpid(), LockKindName(kind),
                 reinterpret_cast<void*>(addr));
  OnLockDestroy(addr);  // re-initialising a known address starts a new lock
  ThreadState* ts = CurrentThread();
  if (!ts) return;
  ScopedInRuntime guard;
  RuntimeLockGuard lock(&g_rt.registry_mu);
  if (g_rt.by_addr->Find(addr) || OverBudget()) return;
  // Registered now, to remember who initialised it (see the "fresh lock" rule in CheckAcquireSlow);
  // the kind is refined from the object itself at its first acquisition.
  LockInfo* li = NewLockInfoLocked(addr, kind);
  li->first_thread = ts->number;
  li->init_thread = ts->number + 1;
  ts->fresh_lock = li;
  UpdateEndSlow(ts);
}

namespace {
// ForgetDestroyedLocked — a lock destroyed (pthread_*_destroy, sem_destroy, re-initialised) is
// forgotten: registry_mu held, and graph_mu too unless it is a member of a lock class (its class's
// node stays: nothing of the graph changes).
void ForgetDestroyedLocked(LockInfo* li) {
  if (LOCKSAN_UNLIKELY(g_rt.flags.verbosity >= 3))
    OutputPrintf("==%d==locksan: destroy lock %llu(%s)@%p, first taken at pc %p\n", getpid(),
                 static_cast<unsigned long long>(li->id), LockKindName(li->kind),
                 reinterpret_cast<void*>(li->addr.load(std::memory_order_relaxed)),
                 reinterpret_cast<void*>(li->first_pc));
  ParkOrRemoveLocked(li);
  ForgetLocked(li);
}

// Destroying a lock this thread holds (a semaphore used as a signal, or a misuse): drop the entry.
void DropDestroyedHeld(uptr addr) {
  if (ThreadState* ts = t_local.ts)
    for (u32 i = ts->Nheld(); i-- > 0;)
      if (ts->held[i].addr == addr) RemoveHeldAt(ts, i);
}
}  // namespace

void OnLockDestroy(uptr addr) {
  if (!LiveGranuleTest(addr)) return;
  if (g_rt.state.load(std::memory_order_acquire) != 2) return;
  ScopedInRuntime guard;
  {
    // No lock registered at this address (its line is shared with another lock's): no graph lock.
    // A member of a lock class (a PyTorch step destroys ~40): neither, as in ForgetRange.
    RuntimeLockGuard rlock(&g_rt.registry_mu);
    LockInfo* li = g_rt.by_addr->Find(addr);
    if (!li) return;
    if (li->site_class) {
      ForgetDestroyedLocked(li);
      DropDestroyedHeld(addr);
      return;
    }
  }
  RuntimeLockGuard glock(&g_rt.graph_mu);
  RuntimeLockGuard rlock(&g_rt.registry_mu);
  LockInfo* li = g_rt.by_addr->Find(addr);
  if (!li) return;
  ForgetDestroyedLocked(li);
  DropDestroyedHeld(addr);
}

namespace {
// Pages [lo >> kPageShift, (hi - 1) >> kPageShift] of a block: in a page with a live lock, a lock
// starting in a line the block covers whole is in the block; in the block's first and last line,
// only the granules the block overlaps count.
bool LineMayHold(uptr line, u32 g0, u32 g1) { return LiveLineCounts(line) & GranuleMask(g0, g1); }
// [*a, *b): the part of [lo, hi) in unit k of 2^shift bytes (a page, a region).
void ClipToUnit(uptr lo, uptr hi, uptr k, uptr shift, uptr* a, uptr* b) {
  *a = k << shift > lo ? k << shift : lo;
  *b = (k + 1) << shift < hi ? (k + 1) << shift : hi;
}
bool PagesMayHoldLocks(uptr lo, uptr hi) {
  for (uptr p = lo >> kPageShift, last = (hi - 1) >> kPageShift; p <= last; p++) {
    u64 bits = LivePageLines(p);
    if (!bits) continue;
    uptr a, b;
    ClipToUnit(lo, hi, p, kPageShift, &a, &b);
    u32 l0 = static_cast<u32>((a >> kLineShift) & 63), l1 = static_cast<u32>(((b - 1) >> kLineShift) & 63);
    bits &= (~u64{0} >> (63 - l1)) & (~u64{0} << l0);
    if (!bits) continue;
    u32 g0 = static_cast<u32>((a >> kGranuleShift) & 3), g1 = static_cast<u32>(((b - 1) >> kGranuleShift) & 3);
    if (l0 == l1) {
      if (LineMayHold(a >> kLineShift, g0, g1)) return true;
      continue;
    }
    if (bits & ~((u64{1} << l0) | (u64{1} << l1))) return true;  // a line in between
    if ((bits & (u64{1} << l0)) && LineMayHold(a >> kLineShift, g0, 3)) return true;
    if ((bits & (u64{1} << l1)) && LineMayHold((b - 1) >> kLineShift, 0, g1)) return true;
  }
  return false;
}
}  // namespace

bool MayHoldLocks(uptr lo, uptr hi) {
  if (hi <= lo) return false;
  if (LOCKSAN_LIKELY(((hi - 1) >> kPageShift) - (lo >> kPageShift) <= 64)) return PagesMayHoldLocks(lo, hi);
  // A large block: its 2 MiB regions first (a few loads), then the pages of those with a live lock.
  uptr r0 = lo >> kRegionShift, r1 = (hi - 1) >> kRegionShift;
  if (r1 - r0 > 64) return true;  // over 128 MiB: ForgetRange scans the registry's pages instead
  for (uptr r = r0; r <= r1; r++) {
    if (!LiveRegionSlot(r).load(std::memory_order_relaxed)) continue;
    uptr a, b;
    ClipToUnit(lo, hi, r, kRegionShift, &a, &b);
    if (PagesMayHoldLocks(a, b)) return true;
  }
  return false;
}

void ForgetRange(uptr lo, uptr hi) {
  if (g_rt.state.load(std::memory_order_acquire) != 2 || hi <= lo) return;
  g_frees_forget.fetch_add(1, std::memory_order_relaxed);
  ScopedInRuntime guard;
  {
    // Most look-ups find nothing (a block that shares a 64-byte line, or a hashed slot, with a live
    // lock): the registry alone says so, without the graph lock.
    RuntimeLockGuard rlock(&g_rt.registry_mu);
    SmallVec<LockInfo*, 8> found;
    CollectRangeLocked(lo, hi, &found);
    if (found.empty()) return;
    g_frees_found.fetch_add(1, std::memory_order_relaxed);
    // Members of lock classes only (a PyTorch step frees ~40 such locks): nothing of the graph
    // changes, so they are forgotten here, without the graph lock and a second search.
    bool members_only = true;
    for (LockInfo* li : found) members_only &= li->site_class;
    if (members_only) {
      ForgetLocks(&found);
      return;
    }
  }
  RuntimeLockGuard glock(&g_rt.graph_mu);
  RuntimeLockGuard rlock(&g_rt.registry_mu);
  SmallVec<LockInfo*, 8> locks;
  CollectRangeLocked(lo, hi, &locks);
  ForgetLocks(&locks);
}

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------
struct ThreadStart : ThreadStartImpl {};

ThreadStart* OnThreadCreate(uptr pc) {
  ThreadState* parent = CurrentThread();
  if (!parent) return nullptr;
  ScopedInRuntime guard;
  WatchdogOnThreadCreate();
  ThreadStart* st = InternalNew<ThreadStart>();
  st->driver_thread = CreatedByDriver(pc);
  st->number = NextThreadNumber();
  st->parent = parent->number;
  uptr pcs[kMaxStackDepth];
  int n = CaptureUserStack(pcs, nullptr, g_rt.flags.stack_depth);
  st->creation_stack = StackDepotPut(pcs, n);
  return st;
}

void OnThreadCreateFailed(ThreadStart* st) {
  InternalDelete(st);
  WatchdogOnThreadStarted();
}

void OnThreadStart(ThreadStart* st) {
  if (!st) return;
  ThreadLocal& tl = t_local;
  tl.in_runtime++;
  ThreadState* ts = NewThreadState(st->number, st->parent, st->creation_stack);
  ts->driver_thread = st->driver_thread;
  InternalDelete(st);
  RecordStackRange(ts);
  tl.ts = ts;
  std::atomic_signal_fence(std::memory_order_seq_cst);  // a signal handler sees the state first
  tl.disabled &= ~kNoState;
  pthread_setspecific(g_rt.exit_key, ts);
  WatchdogOnThreadStarted();  // after the state is listed alive
  tl.in_runtime--;
}

namespace {
// SweepDeadThreads — drops the records of exited threads that nothing can show in a report any
// more: a record stays while an edge of the graph was first made by that thread, a live or parked
// lock was first taken by it, it exited holding a lock (an orphan), or it is the parent of a live
// thread or of a record kept. Run when the records reach dead_sweep_at, which is then set to twice
// the records kept (at least kDeadSweepMin): the records stay within a constant factor of what the
// graph and the registry name, and a sweep (a pass over the edges and the live locks) comes at most
// once per kDeadSweepMin thread exits and never more often than the records double.
constexpr u32 kDeadSweepMin = 4096;

void SweepDeadThreads() {
  RuntimeLockGuard glock(&g_rt.graph_mu);
  RuntimeLockGuard rlock(&g_rt.registry_mu);
  RuntimeLockGuard tlock(&g_rt.threads_mu);
  PtrVec<ReportThread>& dead = *g_rt.dead_threads;
  if (dead.size() < g_rt.dead_sweep_at) return;  // another thread swept meanwhile
  u32 n = g_rt.next_thread_number;
  size_t words = (static_cast<size_t>(n) + 63) / 64;
  u64* named = static_cast<u64*>(InternalAlloc(words * sizeof(u64)));
  auto name = [&](u32 t) {
    if (t < n) named[t >> 6] |= u64{1} << (t & 63);
  };
  auto is_named = [&](u32 t) { return t < n && (named[t >> 6] >> (t & 63) & 1); };
  if (g_rt.graph) g_rt.graph->ForEachEdge([&](const Edge* e) { name(e->facts.thread); });
  g_rt.by_id->ForEach([&](LockInfo* li) { name(li->first_thread); });
  if (g_rt.parked)
    for (size_t i = 0; i < kParkedSlots; i++)
      if (g_rt.parked[i].id) name(g_rt.parked[i].thread);
  for (const internal::OrphanLock& o : *g_rt.orphans) name(o.thread);
  for (ThreadState* t = g_rt.all_threads; t; t = t->next_all) name(t->parent);
  // A parent's number is below its child's: in descending order, a kept record names its parent
  // before the parent's own record is judged.
  std::sort(dead.begin(), dead.end(),
            [](const ReportThread& a, const ReportThread& b) { return a.number > b.number; });
  u32 kept = 0;
  for (u32 i = 0; i < dead.size(); i++) {
    if (!is_named(dead[i].number)) continue;
    name(dead[i].parent);
    dead[kept++] = dead[i];
  }
  g_rt.dead_dropped += dead.size() - kept;
  while (dead.size() > kept) dead.pop_back();
  g_rt.dead_sweep_at = kept * 2 > kDeadSweepMin ? kept * 2 : kDeadSweepMin;
  InternalFree(named, words * sizeof(u64));
}

void ThreadExitDestructor(void* arg) {
  ThreadState* ts = static_cast<ThreadState*>(arg);
  ThreadLocal& tl = t_local;
  if (!ts || tl.ts != ts) return;
  tl.in_runtime++;
  if (ts->Nheld()) {
    // Locks this thread never released: whoever waits for them waits forever.
    RuntimeLockGuard rlock(&g_rt.registry_mu);
    for (u32 i = 0; i < ts->Nheld(); i++) {
      const HeldLock& h = ts->held[i];
      if (h.flags & kHeldReentry) continue;
      // A robust mutex is handed to its next locker with EOWNERDEAD: no one waits for it forever.
      bool is_mutex = h.kind == LockKind::kMutex || h.kind == LockKind::kRecursiveMutex ||
                      h.kind == LockKind::kErrorCheckMutex;
      if (is_mutex && h.lock->gen.load(std::memory_order_relaxed) == h.gen &&
          (reinterpret_cast<const pthread_mutex_t*>(h.addr)->__data.__kind & kGlibcMutexRobustFlag))
        continue;
      g_rt.orphans->push_back({h.addr, h.id, ts->number, h.pc, h.mode});
    }
  }
  ts->alive.store(false, std::memory_order_release);
  uptr lo = ts->stack_lo, hi = ts->stack_hi;
  // Locks on this thread's stack die with it: the stack may be reused by a new thread.
  if (hi > lo) ForgetRange(lo, hi);
  tl.disabled = kTornDown;  // later destructors of this thread pass straight through
  std::atomic_signal_fence(std::memory_order_seq_cst);  // before the state is dropped (ThreadLocal)
  tl.ts = nullptr;
  // Keep a compact record for reports and recycle the (large) state: memory stays bounded over
  // any number of threads (the records too: SweepDeadThreads).
  bool sweep;
  {
    RuntimeLockGuard lock(&g_rt.threads_mu);
    ReportThread d{};
    d.number = ts->number;
    d.tid = ts->tid;
    memcpy(d.name, ts->name, sizeof d.name);
    d.creation_stack = ts->creation_stack;
    d.parent = ts->parent;
    d.alive = false;
    g_rt.dead_threads->push_back(d);
    sweep = g_rt.dead_threads->size() >= g_rt.dead_sweep_at;
    for (ThreadState** pp = &g_rt.all_threads; *pp; pp = &(*pp)->next_all)
      if (*pp == ts) {
        *pp = ts->next_all;
        break;
      }
    ts->next_all = g_rt.free_states;
    g_rt.free_states = ts;
  }
  if (sweep) SweepDeadThreads();
  // The last thread but one ends the watchdog before it goes (a program single-threaded again must
  // not count it).
  WatchdogOnThreadExit();
  tl.in_runtime--;
}
}  // namespace

void OnThreadExit() { ThreadExitDestructor(t_local.ts); }

void SetCurrentThreadName(const char* name) {
  ThreadState* ts = t_local.ts;
  if (!ts || !name) return;
  strncpy(ts->name, name, sizeof ts->name - 1);
}

void SetDriverTrackingStatus(bool active, const char* why) {
  if (!RuntimeInitialized()) return;
  if (active) RefreshLibcuda();
  if (!active) {
    // Calls in progress will not report their exits: forget them.
    RuntimeLockGuard lock(&g_rt.threads_mu);
    for (ThreadState* t = g_rt.all_threads; t; t = t->next_all) t->driver_depth = 0;
  }
  // Stepping aside for another CUPTI client (a profiler, Nsight, compute-sanitizer) is always said,
  // once; other states only with verbosity>=1, or when cuda_tracking=on was asked for and failed.
  bool loud = g_rt.flags.verbosity >= 1 || (!active && !strcmp(g_rt.flags.cuda_tracking, "on")) ||
              (!active && why && strstr(why, "another"));
  if (loud && why) OutputPrintf("==%d==locksan: %s\n", getpid(), why);
}

// ---------------------------------------------------------------------------------------------
// Process
// ---------------------------------------------------------------------------------------------
namespace {

void LoadSuppressions(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    OutputPrintf("==%d==locksan: cannot read suppressions file '%s' (%s); continuing without it\n",
                 getpid(), path, strerror(errno));
    return;
  }
  size_t cap = 1 << 16, len = 0;
  char* buf = static_cast<char*>(InternalAlloc(cap));
  for (;;) {
    if (len + 1 == cap) {
      char* nb = static_cast<char*>(InternalAlloc(cap * 2));
      memcpy(nb, buf, len);
      InternalFree(buf, cap);
      buf = nb;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  close(fd);
  buf[len] = 0;
  g_rt.suppressions->Parse(buf, path, ErrorLine, nullptr);
  InternalFree(buf, cap);
}

}  // namespace

void InitRuntime() {
  int expected = 0;
  if (!g_rt.state.compare_exchange_strong(expected, 1)) return;  // done, or under way
  ThreadLocal& tl = t_local;
  tl.in_runtime++;
  g_rt.init_tid = static_cast<pid_t>(syscall(SYS_gettid));
  SetDefaultFlags(&g_rt.flags);
  OutputConfigure("stderr", true);
  const char* env = getenv("LOCKSAN_OPTIONS");
  if (env) ParseFlags(env, &g_rt.flags, ErrorLine, nullptr);
  OutputConfigure(g_rt.flags.log_path, g_rt.flags.color);
  g_acquire_stacks = g_rt.flags.acquire_stacks;
  SetUnwinderLibgccOnly(!strcmp(g_rt.flags.unwinder, "libgcc"));
  SetCaptureTiming(g_rt.flags.verbosity >= 1);
  CountDriverCalls(g_rt.flags.verbosity >= 1);
  if (g_rt.flags.help) PrintFlagsHelp(ErrorLine, nullptr);
  GilInit();
  g_rt.graph = InternalNew<LockGraph>();
  g_rt.graph->SetGatePredicate(GateIsShared, nullptr);
  g_rt.by_addr = InternalNew<PtrMap<LockInfo, AddrOf>>();
  g_rt.by_id = InternalNew<PtrMap<LockInfo, IdOf>>();
  g_rt.graph->SetCyclePredicate(CycleReportable, nullptr);
  g_rt.by_page = InternalNew<FlatMap<LockInfo*>>();
  g_rt.classes_by_key = InternalNew<FlatMap<Runtime::SiteClass*>>();
  g_rt.classes_by_id = InternalNew<FlatMap<Runtime::SiteClass*>>();
  if (strcmp(g_rt.flags.lock_identity, "instance") != 0 && strcmp(g_rt.flags.lock_identity, "site") != 0 &&
      strcmp(g_rt.flags.lock_identity, "auto") != 0) {
    OutputPrintf("==%d==locksan: lock_identity=%s is not 'auto', 'instance' or 'site'; using 'auto'\n",
                 getpid(), g_rt.flags.lock_identity);
    g_rt.flags.lock_identity = "auto";
  }
  if (!strcmp(g_rt.flags.lock_identity, "site")) {
    g_site_identity = true;
  } else if (!strcmp(g_rt.flags.lock_identity, "auto")) {
    g_site_identity = true;
    g_class_after = static_cast<u32>(g_rt.flags.class_after);
  }
  g_validated = static_cast<std::atomic<u64>*>(InternalAlloc(sizeof(u64) << kValidatedLog));
  g_rt.reported = InternalNew<FlatMap<u8>>();
  g_rt.inversions = InternalNew<PtrVec<Runtime::Inversion>>();
  g_rt.orphans = InternalNew<PtrVec<internal::OrphanLock>>();
  g_rt.dead_threads = InternalNew<PtrVec<ReportThread>>();
  g_rt.dead_sweep_at = kDeadSweepMin;
  g_rt.suppressions = InternalNew<Suppressions>();
  if (g_rt.flags.suppressions[0]) LoadSuppressions(g_rt.flags.suppressions);
  pthread_key_create(&g_rt.exit_key, ThreadExitDestructor);
  atexit(Finalize);
  // Handlers installed before locksan started (another library's constructor).
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) == 0) NoteSignalHandler(sig, reinterpret_cast<uptr>(old.sa_handler));
  }
  WatchdogInstallSignals();
  g_free_filter = g_rt.flags.detect_heap_reuse;
  g_rt.state.store(2, std::memory_order_release);
  tl.in_runtime--;
  if (g_rt.flags.verbosity >= 1)
    OutputPrintf("==%d==locksan: started; reports go to %s\n", getpid(), OutputDescribe());
}

// Signals are blocked from fork preparation until the runtime locks are released again (the forking
// thread holds all of them meanwhile; see ScopedBlockSignals).
namespace {
__thread sigset_t t_fork_old_mask;
__thread bool t_fork_masked;

void ForkMaskSignals() {
  if (!ProgramHasSignalHandlers()) return;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &t_fork_old_mask);
  t_fork_masked = true;
}
void ForkRestoreSignals() {
  if (!t_fork_masked) return;
  t_fork_masked = false;
  pthread_sigmask(SIG_SETMASK, &t_fork_old_mask, nullptr);
}
}  // namespace

void ForkBefore() {
  if (g_rt.state.load(std::memory_order_acquire) != 2) return;
  ForkMaskSignals();
  UnwindForkLock();  // first: unwinding happens with no other runtime lock held
  CudaForkLock();    // taken alone (before a report is emitted)
  GilForkLock();     // leaves: Python stacks are stored with no other runtime lock held
  g_rt.report_mu.Lock();
  g_rt.graph_mu.Lock();
  g_rt.registry_mu.Lock();
  g_rt.threads_mu.Lock();
  StackDepotForkLock();
  InternalAllocForkLock();
}

void ForkAfterParent() {
  if (g_rt.state.load(std::memory_order_acquire) != 2) return;
  InternalAllocForkUnlock(false);
  StackDepotForkUnlock(false);
  g_rt.threads_mu.Unlock();
  g_rt.registry_mu.Unlock();
  g_rt.graph_mu.Unlock();
  g_rt.report_mu.Unlock();
  GilForkUnlock(false);
  CudaForkUnlock(false);
  UnwindForkUnlock(false);
  ForkRestoreSignals();
}

void ForkAfterChild() {
  if (g_rt.state.load(std::memory_order_acquire) != 2) return;
  InternalAllocForkUnlock(true);
  StackDepotForkUnlock(true);
  g_rt.threads_mu.ResetAfterFork();
  g_rt.registry_mu.ResetAfterFork();
  g_rt.graph_mu.ResetAfterFork();
  g_rt.report_mu.ResetAfterFork();
  GilForkUnlock(true);
  CudaForkUnlock(true);
  UnwindForkUnlock(true);
  // Only the forking thread exists in the child.
  ThreadState* self = t_local.ts;
  for (ThreadState* t = g_rt.all_threads; t; t = t->next_all)
    if (t != self) t->alive.store(false, std::memory_order_relaxed);
  if (self) {
    self->tid = static_cast<int>(syscall(SYS_gettid));
    // CPython re-creates its locks in the child (_PyThread_at_fork_reinit allocates new ones and
    // abandons the old, which stay "held" forever): semaphores held at fork are dropped here.
    // pthread mutexes stay held: a child may unlock them.
    for (u32 i = self->Nheld(); i-- > 0;)
      if (self->held[i].kind == LockKind::kSemaphore) RemoveHeldAt(self, i);
  }
  g_rt.reports.store(0);
  WatchdogAfterForkChild();
  ForkRestoreSignals();
}

void Finalize() {
  if (g_rt.state.load(std::memory_order_acquire) != 2) return;
  ThreadLocal& tl = t_local;
  tl.in_runtime++;
  u64 n;
  u64 classes = 0, joined = 0;  // lock_identity=site (report_mu is never held with registry_mu)
  u64 paths = 0;
  if (g_site_identity && g_rt.flags.verbosity >= 1) {
    RuntimeLockGuard rlock(&g_rt.registry_mu);
    classes = g_rt.classes_by_id->size();
    paths = g_rt.classes_by_key->size();
    g_rt.classes_by_id->ForEach([&](u64, Runtime::SiteClass* c) { joined += c->instances; });
  }
  {
    // Taken first: a report another thread is printing right now counts (it holds report_mu).
    RuntimeLockGuard lock(&g_rt.report_mu);
    n = g_rt.reports.load();
    PrintSuppressionSummary(g_rt.suppressions, g_rt.flags.print_suppressions);
    if (g_rt.flags.verbosity >= 1) {
      OutputPrintf("==%d==locksan: Python: %s\n", getpid(), GilStatus());
      if (SignalsMasked())
        OutputPrintf("==%d==locksan: program signal handlers: yes (signals blocked around the lock graph)\n",
                     getpid());
      else if (SignalsDeferred())
        OutputPrintf("==%d==locksan: program signal handlers: yes (deferred to the end of locksan's critical "
                     "sections: %llu signals)\n",
                     getpid(), static_cast<unsigned long long>(DeferredSignalCount()));
      else
        OutputPrintf("==%d==locksan: program signal handlers: none (signals left unblocked around the lock graph)\n",
                     getpid());
      Stats s = GetStats();
      OutputPrintf(
          "==%d==locksan: stats: %zu locks live (%zu seen), %zu edges (%zu closing cycles), %zu "
          "threads, %zu stacks (%s), %zu KiB of detector memory, %llu lock look-ups, %llu slow "
          "checks, %llu searches, %llu range searches for freed locks (%llu found one), %llu "
          "signal-blocking scopes, %zu records of exited threads (%llu dropped), %llu locks revived "
          "(%zu parked)\n",
          getpid(), s.locks_live, s.locks_total, s.edges, s.back_edges, s.threads, s.stacks,
          UnwinderName(), s.memory_bytes >> 10, static_cast<unsigned long long>(s.registry_lookups),
          static_cast<unsigned long long>(s.slow_checks),
          static_cast<unsigned long long>(s.searches), static_cast<unsigned long long>(s.frees_forget),
          static_cast<unsigned long long>(s.frees_found), static_cast<unsigned long long>(s.signal_blocks),
          s.dead_threads, static_cast<unsigned long long>(s.dead_dropped),
          static_cast<unsigned long long>(s.revived), s.parked);
      OutputPrintf("==%d==locksan: lock look-ups that found the lock registered: %llu after its record "
                   "changed, %llu of a lock initialised and never taken, %llu by its first thread after "
                   "another lock took its cache slot, %llu by another thread (the first use there, or "
                   "after losing the slot)\n",
                   getpid(), static_cast<unsigned long long>(s.lookups_gen),
                   static_cast<unsigned long long>(s.lookups_untaken),
                   static_cast<unsigned long long>(s.lookups_evicted),
                   static_cast<unsigned long long>(s.lookups_other));
      if (g_site_identity)
        OutputPrintf("==%d==locksan: lock_identity=%s: %llu lock classes stand for %llu locks; %llu order "
                     "checks of a lock taken while another lock of its class was held (not checked against "
                     "it)\n",
                     getpid(), g_rt.flags.lock_identity, static_cast<unsigned long long>(classes),
                     static_cast<unsigned long long>(joined),
                     static_cast<unsigned long long>(g_rt.site_nested.load(std::memory_order_relaxed)));
      if (g_class_after)
        OutputPrintf("==%d==locksan: lock_identity=auto: %llu call paths first locked a lock of the program's "
                     "(a class once %u of their locks were freed or destroyed)\n",
                     getpid(), static_cast<unsigned long long>(paths), g_class_after);
#ifdef LOCKSAN_FREE_COUNTERS
      OutputPrintf("==%d==locksan: free() filter: %llu blocks tested, %llu page tests with the summary bit "
                   "set, %llu of them with the page's own slot, %llu blocks passed on to MayHoldLocks\n",
                   getpid(), static_cast<unsigned long long>(g_free_counts[0].load()),
                   static_cast<unsigned long long>(g_free_counts[1].load()),
                   static_cast<unsigned long long>(g_free_counts[2].load()),
                   static_cast<unsigned long long>(g_free_counts[3].load()));
#endif
      char captures[512];
      if (CaptureTimingLine(captures, sizeof captures) > 0)
        OutputPrintf("==%d==locksan: stack captures: %s\n", getpid(), captures);
      if (DriverCallCountsLine(captures, sizeof captures) > 0)
        OutputPrintf("==%d==locksan: driver calls seen through CUPTI: %s\n", getpid(), captures);
      if (PrunedDriverCallsLine(captures, sizeof captures) > 0)
        OutputPrintf("==%d==locksan: driver functions no longer reported by CUPTI (cuda_calls=adaptive): %s\n",
                     getpid(), captures);
    }
    if (n) OutputPrintf("==%d==locksan: reported %llu warning%s\n", getpid(),
                        static_cast<unsigned long long>(n), n == 1 ? "" : "s");
  }
  if (n && g_rt.flags.exitcode) {
    fflush(nullptr);
    _exit(g_rt.flags.exitcode);
  }
  tl.in_runtime--;
}

Stats GetStats() {
  Stats s{};
  {
    RuntimeLockGuard glock(&g_rt.graph_mu);
    if (g_rt.graph) {
      s.edges = g_rt.graph->num_edges();
      s.back_edges = g_rt.graph->num_back_edges();
      s.graph_bytes = g_rt.graph->MemoryBytes();
      s.searches = g_rt.graph->searches();
      s.visited = g_rt.graph->visited();
    }
    RuntimeLockGuard rlock(&g_rt.registry_mu);
    s.locks_live = g_rt.locks_live;
    s.locks_total = g_rt.locks_total;
    s.registry_lookups = g_rt.registry_lookups;
    s.lookups_gen = g_rt.lookups_gen;
    s.lookups_evicted = g_rt.lookups_evicted;
    s.lookups_other = g_rt.lookups_other;
    s.lookups_untaken = g_rt.lookups_untaken;
    s.revived = g_rt.revived;
    s.parked = g_rt.parked_live;
  }
  {
    RuntimeLockGuard tlock(&g_rt.threads_mu);
    s.threads = g_rt.threads_total;
    s.dead_threads = g_rt.dead_threads ? g_rt.dead_threads->size() : 0;
    s.dead_dropped = g_rt.dead_dropped;
  }
  s.stacks = StackDepotCount();
  s.depot_bytes = StackDepotMemoryBytes();
  s.memory_bytes = InternalAllocatedBytes();
  s.slow_checks = g_rt.slow_checks.load();
  s.reports = g_rt.reports.load();
  s.frees_forget = g_frees_forget.load(std::memory_order_relaxed);
  s.frees_found = g_frees_found.load(std::memory_order_relaxed);
  s.signal_blocks = SignalBlockCount();
  return s;
}

}  // namespace locksan
