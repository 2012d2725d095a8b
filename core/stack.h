// core/stack.h — capturing stacks and storing them once.
//
// CaptureStack unwinds the calling thread with libunwind (dlopen'ed privately, see docs/design.md) or,
// when that is unavailable, with libgcc's _Unwind_Backtrace. It is not on the fast path: the detector
// calls it when it learns something new (a new lock, a new edge). A thread's first 16 captures use
// libgcc (~0.2 us a frame); later ones libunwind's unw_backtrace (a per-thread cache of frame shapes,
// ~15 ns a frame); neither makes a system call per frame. Asking for stack pointers (`sps`) takes
// unw_step, which is ~100 times slower. libunwind takes the dynamic loader's lock (dl_iterate_phdr):
// while a program thread is inside dl_iterate_phdr (and may wait for us in its callback, holding that
// lock), captures use libgcc, whose FDE lookup is lock-free with glibc's _dl_find_object (see
// LoaderLockScope). Signals are blocked during a capture once the program has handlers of its own. StackDepot deduplicates stacks and hands out 32-bit ids (0 = no stack). Both
// are thread-safe.
#pragma once
#include "core/common.h"
#include "core/runtime_mutex.h"

namespace locksan {

constexpr int kMaxStackDepth = 64;

// CaptureStack — fills pcs (and, if non-null — slow —, the stack pointer of each frame into sps) with up to
// `max` return addresses of the caller's stack, skipping `skip` innermost frames of the runtime.
// pcs[i] are return addresses as found (symbolise pc-1 for call sites). Returns the count.
int CaptureStack(uptr* pcs, uptr* sps, int max, int skip);
// CaptureStackInSignal — the same from a signal handler: returns 0 instead of waiting when another
// unwind is in progress.
int CaptureStackInSignal(uptr* pcs, uptr* sps, int max, int skip);

// CaptureUserStack — the caller's stack without the runtime's own frames (interceptors, detector),
// at most `depth` frames. pcs[0] is the return address into the code that called the interceptor.
int CaptureUserStack(uptr* pcs, uptr* sps, int depth);
// StackMemo — a thread's recent stacks, each keyed by a lock call's return address (`pc`) and the
// caller's stack pointer after that call (`cfa`: the interceptor's canonical frame address), with
// the address of the slot each return address was read from. The same call made again at the same
// stack depth from the same callers has the same return addresses in the same slots: a key's memo is
// reused while every slot still holds its return address (a few loads instead of an unwind; the
// depot id comes with it). A key is memoised at its second capture: from that ordinary capture when
// every frame's size is known (learnt per return address from libgcc's fills), else by libgcc's
// unwinder, which gives each frame's stack pointer (within a budget: such a fill costs ~10-20
// captures). 4-way sets: a call made at one depth from several callers keeps a stack per caller.
// A key asked for fewer frames than the memo's depth (a lock's 8-frame class key) is memoised with
// those frames only — a partial entry — and filled again whole when a longer answer is asked for.
// Exact for frames whose size is fixed at each call site; a frame with a variable-size allocation
// (alloca, a VLA) above the caller could, called from elsewhere with another size, leave a stale
// return address exactly where an old slot was, and the memo would then give that frame's old
// callers (stack_memo=0 unwinds every time). x86-64 only (elsewhere every call unwinds). Per thread,
// not thread-safe; 32 entries of `memo_depth` frames (~16 KiB at the default depth), 512 (~216 KiB)
// once the thread has asked for 2,048 stacks; allocated at the thread's first use.
struct StackMemo;
// StackMemoAux — one value the caller derives from a memoised stack, under a key of its choosing
// (the detector keeps the "previously acquired" stack of the lock held below, by its acquiring pc):
// emptied whenever its entry is filled again.
struct StackMemoAux {
  uptr key;
  u32 value;
};
// CaptureCallerStack — CaptureUserStack (at most `depth` frames, depth <= memo_depth) for the caller
// of an interceptor: `pc` its return address, `cfa` its CFA; [stack_lo, stack_hi) the thread's stack
// (a caller on another stack, a signal stack or a coroutine's, is not memoised). *depot: the depot
// id of the frames returned when the memo has it, else 0 (a shorter answer than the entry's frames
// has its own depot id, kept with the entry). *aux (if aux is not null): the entry's StackMemoAux when
// all the entry's frames came from the memo, else null; valid until the thread's next capture.
// *memo is created on first use.
int CaptureCallerStack(StackMemo** memo, uptr pc, uptr cfa, uptr stack_lo, uptr stack_hi, uptr* pcs,
                       int depth, int memo_depth, u32* depot, StackMemoAux** aux = nullptr);
void ClearStackMemo(StackMemo* memo);  // forget every entry (a recycled thread state)
void FreeStackMemo(StackMemo* memo);
// The stack memo's frame sizes by return address, learnt from its fills (process-wide, lock-free):
// NoteFrameSize records that the frame which called at `pc` spans `size` bytes (its callee's CFA to
// its own); FrameSizeOf is 0 when none is known, kFrameSizeVaries once two sizes were seen.
constexpr u64 kFrameSizeVaries = 0xffff;
void NoteFrameSize(uptr pc, uptr size);
u64 FrameSizeOf(uptr pc);
// FunctionStart — the entry address of the function that contains `pc` (from its unwind info: lock-free
// with glibc 2.35's _dl_find_object); 0 if unknown. Pass a return address minus one.
uptr FunctionStart(uptr pc);
// FrameRegs — one frame of CaptureFrameRegs: its return address, the stack it occupies
// ([sp, cfa): its callee's CFA up to its own), and the values its callee-saved registers had when it
// made its call (x86-64: rbx, rbp, r12-r15), as the unwinder restores them.
constexpr int kFrameRegsSaved = 6;
struct FrameRegs {
  uptr pc;
  uptr sp;
  uptr cfa;
  uptr regs[kFrameRegsSaved];
};
// CaptureFrameRegs — the caller's frames, innermost first, without the runtime's own, with their
// callee-saved registers (libgcc's unwinder: no loader lock with glibc >= 2.35). Slow (µs per
// frame): for rare paths only (core/pycallback.cc). 0 on other architectures than x86-64, before the
// unwinder is initialised, or where a stack cannot be captured now (see CaptureStack).
int CaptureFrameRegs(FrameRegs* out, int max);
// InRuntime — pc lies in liblocksan.so itself.
bool InRuntime(uptr pc);

// LoaderLockScope — the runtime is about to call dl_iterate_phdr (directly, or through libunwind):
// ok() is false while a program thread is inside dl_iterate_phdr (or entering it), whose callback
// holds the loader lock and may be waiting for this thread; then the caller must do without. A
// program thread entering dl_iterate_phdr (ProgramIterateBegin, from the interceptor) first waits
// for the scopes already granted to end (microseconds: an unwind, one short iteration), so a granted
// scope never meets a program callback holding the loader lock. That wait is bounded (100 ms): a
// granted scope could itself be waiting for a loader lock the entering thread holds (a library
// constructor that iterates inside dlopen while the runtime dlopens). Signals are blocked in a scope
// once the program has handlers (a handler stuck there would hold up every program iteration). Nests
// on a thread. `wanted` false: an empty scope (ok() false).
class LoaderLockScope {
 public:
  explicit LoaderLockScope(bool wanted = true);
  ~LoaderLockScope();
  LoaderLockScope(const LoaderLockScope&) = delete;
  LoaderLockScope& operator=(const LoaderLockScope&) = delete;
  bool ok() const { return ok_; }

 private:
  ScopedBlockSignals no_signals_;  // constructed first, destroyed last
  bool ok_;
};
// For the dl_iterate_phdr interceptor: a program thread enters / leaves dl_iterate_phdr. Begin returns
// false (and End must not be called) for the runtime's own calls (inside a LoaderLockScope).
bool ProgramIterateBegin();
void ProgramIterateEnd();

// DeepBindFlag — RTLD_DEEPBIND for locksan's private libraries, 0 under ASan/TSan/MSan.
int DeepBindFlag();

// UnwinderName — "libunwind" or "libgcc", for verbosity output.
const char* UnwinderName();
void InitUnwinder();
// SetUnwinderLibgccOnly — unwinder=libgcc: never load libunwind (called before the first capture).
void SetUnwinderLibgccOnly(bool on);
// SetCaptureTiming — time every stack capture (verbosity >= 1); CaptureTimingLine writes, per
// unwinder, the number of captures, frames per capture and duration quantiles ("" if none).
void SetCaptureTiming(bool on);
int CaptureTimingLine(char* buf, int size);
// libunwind's per-thread table (256 KiB, written whole when a thread first uses unw_backtrace): how
// many threads created one, and the estimate of what creating one costs, which a thread's libgcc
// captures must have cost before it creates its own (CaptureStackLocked). The setter is for tests.
u64 UnwinderTablesCreated();
u64 UnwinderTableEstimateNs();
void SetUnwinderTableEstimateNs(u64 ns);

struct StackTrace {
  u32 size;
  const uptr* pcs;
};

// StackDepotPut — stores a stack (if new) and returns its id; 0 for an empty stack.
u32 StackDepotPut(const uptr* pcs, int size);
// StackDepotGet — the stack with that id; {0, nullptr} for 0 or an unknown id.
StackTrace StackDepotGet(u32 id);
size_t StackDepotMemoryBytes();
size_t StackDepotCount();
// Fork support. Order: UnwindForkLock first (unwinds run with no runtime lock held), the depot late
// (it is taken under the graph lock).
void UnwindForkLock();
void UnwindForkUnlock(bool child);
void StackDepotForkLock();
void StackDepotForkUnlock(bool child);

}  // namespace locksan
